"""Upstream balances: read in the background by the worker, shown to staff and in /metrics.

Reading a balance is a call upstream, so it happens at most every LUMAWEB_CREDITS_INTERVAL
seconds per provider; pages only read what was stored. Under LUMAWEB_CREDITS_FLOOR cents, staff
see a warning on every page.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from generations import providers
from generations.models import ProviderBalance
from generations.providers import errors

logger = logging.getLogger(__name__)


def refresh_balances(now: datetime | None = None) -> int:
    """Read the balance of every provider that tells it and is due; return how many were read."""
    now = now or timezone.now()
    due = now - timedelta(seconds=settings.LUMAWEB_CREDITS_INTERVAL)
    fresh = set(ProviderBalance.objects.filter(read_at__gt=due).values_list("provider", flat=True))
    read = 0
    for provider in providers.enabled():
        if not provider.capabilities.credits or provider.name in fresh:
            continue
        try:
            cents = provider.credits()
        except errors.LumaError as exc:
            logger.warning("reading the %s balance failed: %s", provider.name, exc)
            continue
        if cents is None:
            continue
        ProviderBalance.objects.update_or_create(
            provider=provider.name, defaults={"cents": cents, "read_at": now}
        )
        read += 1
    return read


def balances() -> list[ProviderBalance]:
    """The stored balances of the providers that are on, for staff pages and /metrics."""
    on = list(settings.LUMA_PROVIDERS)
    return list(ProviderBalance.objects.filter(provider__in=on).order_by("provider"))
