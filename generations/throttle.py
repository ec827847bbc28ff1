"""Limits that protect the team's account and its bill: login throttling and submission rates.

Failed logins are counted per (name, address) and per address in the "throttle" cache, which
every web process shares (settings.CACHES). Submissions are counted from the jobs themselves,
so the limits hold across processes and restarts; they are checked in the transaction that
records a job, under a lock on the person (submission.start_generation), so before anything goes
upstream and without two parallel submissions both taking the last place.
"""

import hashlib
import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone

from generations.models import Generation
from generations.spend import budget_refusal

# One address may fail this many times more than one name from it (an office behind one NAT).
ADDRESS_FACTOR = 10


def _address(request: HttpRequest | None) -> str:
    return str(request.META.get("REMOTE_ADDR", "")) if request is not None else ""


def _counters(username: str, address: str) -> list[tuple[str, int]]:
    name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    limit = settings.LUMAWEB_LOGIN_MAX_FAILURES
    return [
        (f"login:{name}:{address}", limit),
        (f"login-address:{address}", limit * ADDRESS_FACTOR),
    ]


def login_locked(username: str, address: str) -> bool:
    cache = caches["throttle"]
    return any(cache.get(key, 0) >= limit for key, limit in _counters(username, address))


def record_login_failure(username: str, address: str) -> None:
    cache = caches["throttle"]
    for key, _ in _counters(username, address):
        # get + set rather than incr: incr would reset the timeout to the cache's default.
        cache.set(key, cache.get(key, 0) + 1, settings.LUMAWEB_LOGIN_LOCKOUT)


def forget_login_failures(username: str, address: str) -> None:
    caches["throttle"].delete(_counters(username, address)[0][0])


class LoginThrottleMixin:
    """For a login form: refuse a name and address after repeated failures."""

    request: HttpRequest | None
    cleaned_data: dict[str, Any]
    throttled_message = "Too many failed attempts to log in. Try again in %(minutes)d minutes."

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = _address(self.request)
        if login_locked(username, address):
            minutes = math.ceil(settings.LUMAWEB_LOGIN_LOCKOUT / 60)
            raise ValidationError(
                self.throttled_message, code="throttled", params={"minutes": minutes}
            )
        try:
            cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        except ValidationError:
            record_login_failure(username, address)
            raise
        forget_login_failures(username, address)
        return cleaned


class ThrottledAuthenticationForm(LoginThrottleMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(LoginThrottleMixin, AdminAuthenticationForm):
    pass


def submission_refusal(user: Any, cost: Decimal | None, idempotency_key: str | None = None) -> str:
    """Why this person may not start another job (estimated at `cost` US cents) now, or "" when
    they may: the rate, the daily job budget, then the monthly money budgets (spend.py).

    Automatic retries (auto_retry > 0) count against no rate or job limit: nobody pressed Generate.
    """
    if idempotency_key and Generation.objects.filter(idempotency_key=idempotency_key).exists():
        return ""  # a double submission finds its first job; it is not a new one
    now = timezone.now()
    started = Generation.objects.filter(created_by=user, auto_retry=0)
    per_minute = settings.LUMAWEB_SUBMIT_PER_MINUTE
    recent = started.filter(created_at__gte=now - timedelta(minutes=1))
    if per_minute and recent.count() >= per_minute:
        return (
            f"You have started {per_minute} jobs in the last minute, the most allowed. "
            "Nothing was sent; wait a moment and press Generate again."
        )
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    today = started.filter(created_at__gte=midnight)
    budget = settings.LUMAWEB_DAILY_JOB_BUDGET
    if budget and today.count() >= budget:
        renews = f"the budget renews at midnight ({timezone.get_current_timezone_name()})."
        return f"You have used today's budget of {budget} jobs. Nothing was sent; {renews}"
    return budget_refusal(user, cost)
