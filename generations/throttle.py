"""Limits that protect the team's account and its bill: failed logins and submission rates.

Failed logins are django-axes's: counted in the database every web process shares, per name and
address together, so a stranger guessing names locks out nobody else, and an office behind one
address shares no lock. The address comes from the proxies in front as configured
(LUMAWEB_PROXY_COUNT, `client_address`). Axes checks every authenticate(): both login pages and
the old password of a password change (urls.py). An admin lifts a lock in the admin's Access
attempts, or with `python manage.py axes_reset_username NAME` (docs/security.md).

Submissions are counted from the jobs themselves,
so the limits hold across processes and restarts; they are checked in the transaction that
records a job, under a lock on the person (submission.start_generation), so before anything goes
upstream and without two parallel submissions both taking the last place.
"""

import ipaddress
import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from generations.models import Generation
from generations.spend import budget_refusal


def client_address(request: HttpRequest) -> str:
    """Where a request came from. Each of the LUMAWEB_PROXY_COUNT proxies in front appends the
    address it was reached from to X-Forwarded-For, so the client is that many entries from the
    right; anything further left was written by the client itself and is not believed."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    count = settings.LUMAWEB_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if len(hops) < count:
        return remote  # not through all the proxies: only the connection is known
    try:
        return str(ipaddress.ip_address(hops[-count]))
    except ValueError:
        return remote


def login_failure_limit(request: HttpRequest, credentials: Any) -> int:
    return settings.LUMAWEB_LOGIN_MAX_FAILURES


def login_cool_off(request: HttpRequest | None = None) -> timedelta:
    return timedelta(seconds=settings.LUMAWEB_LOGIN_LOCKOUT)


def locked_out(request: HttpRequest, response: Any = None, credentials: Any = None) -> HttpResponse:
    """What a locked name and address get instead of a login (or a password change)."""
    minutes = math.ceil(settings.LUMAWEB_LOGIN_LOCKOUT / 60)
    context = {"minutes": minutes}
    return render(request, "registration/locked_out.html", context, status=429)


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """The old password is checked through authenticate(), so guesses count as failed logins."""

    def __init__(self, user: Any, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        old_password: str = self.cleaned_data["old_password"]
        name = self.user.get_username()
        if authenticate(self.request, username=name, password=old_password) is None:
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password


def submission_refusal(
    user: Any, cost: Decimal | None, idempotency_key: str | None = None, jobs: int = 1
) -> str:
    """Why this person may not start another job (estimated at `cost` US cents) now, or "" when
    they may: the rate, the daily job budget, then the monthly money budgets (spend.py). `jobs`
    variations of one Generate count as that many jobs, refused together.

    Automatic retries (auto_retry > 0) count against no rate or job limit: nobody pressed Generate.
    """
    mine = Generation.objects.filter(created_by=user, idempotency_key=idempotency_key)
    if idempotency_key and mine.exists():
        return ""  # a double submission finds its first job; it is not a new one
    now = timezone.now()
    started = Generation.objects.filter(created_by=user, auto_retry=0)
    per_minute = settings.LUMAWEB_SUBMIT_PER_MINUTE
    recent = started.filter(created_at__gte=now - timedelta(minutes=1))
    if per_minute and (in_a_minute := recent.count()) + jobs > per_minute:
        if in_a_minute < per_minute:  # variations: some would fit, not all
            return (
                f"{jobs} variations would pass the {per_minute} jobs a minute allowed "
                f"({in_a_minute} started in the last minute). Nothing was sent; choose fewer "
                "variations or wait a moment."
            )
        return (
            f"You have started {per_minute} jobs in the last minute, the most allowed. "
            "Nothing was sent; wait a moment and press Generate again."
        )
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    today = started.filter(created_at__gte=midnight)
    budget = settings.LUMAWEB_DAILY_JOB_BUDGET
    if budget and (done := today.count()) + jobs > budget:
        renews = f"the budget renews at midnight ({timezone.get_current_timezone_name()})."
        if done < budget:  # variations: some would fit, not all
            return (
                f"{jobs} variations would pass today's budget of {budget} jobs ({budget - done} "
                f"left). Nothing was sent; choose fewer variations, or {renews}"
            )
        return f"You have used today's budget of {budget} jobs. Nothing was sent; {renews}"
    return budget_refusal(user, cost * jobs if cost else cost, jobs=jobs)
