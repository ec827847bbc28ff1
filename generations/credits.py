"""Upstream balances: read in the background by the worker, shown to staff and in /metrics.

Reading a balance is a call upstream, so it happens at most every LUMAWEB_CREDITS_INTERVAL
seconds per provider; pages only read what was stored. Under LUMAWEB_CREDITS_FLOOR cents, staff
see a warning on every page.

Every reading is also kept (`BalanceReading`): the drift of a period is how far the balance fell
between its first and last readings, less the studio's estimate for the jobs sent to that
provider in between (the usage page). A top-up, or a refund of a failed job, in that period shows
as drift too: the balance is what the upstream says, the estimate what the price table says.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format

from generations import providers, spend
from generations.models import BalanceReading, Generation, ProviderBalance
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
        BalanceReading.objects.create(provider=provider.name, cents=cents, read_at=now)
        read += 1
    return read


def balances() -> list[ProviderBalance]:
    """The stored balances of the providers that are on, for staff pages and /metrics."""
    on = list(settings.LUMA_PROVIDERS)
    return list(ProviderBalance.objects.filter(provider__in=on).order_by("provider"))


@dataclass
class Drift:
    """How far a balance fell between two readings, against the estimate of the jobs sent
    upstream between them; all in US cents."""

    since: datetime
    until: datetime
    fell_cents: Decimal
    estimate_cents: Decimal

    @property
    def cents(self) -> Decimal:
        """Positive: the upstream charged more than we estimated."""
        return self.fell_cents - self.estimate_cents

    @property
    def percent(self) -> int | None:
        """The drift as a share of the estimate (None with no estimate to compare with)."""
        if not self.estimate_cents:
            return None
        return round(self.cents * 100 / self.estimate_cents)

    @property
    def text(self) -> str:
        """The comparison in words, for staff."""
        when = f"{_when(self.since)} and {_when(self.until)}"
        moved = "fell" if self.fell_cents >= 0 else "rose"
        return (
            f"Between {when} the balance {moved} by {spend.usd(abs(self.fell_cents))}; the "
            f"estimate for the jobs sent there then is {spend.usd(self.estimate_cents)}."
        )

    @property
    def amount(self) -> str:
        """The drift itself, signed: "+$0.50 (+10 %)"."""
        sign = "+" if self.cents > 0 else "\N{MINUS SIGN}" if self.cents < 0 else ""
        share = f" ({sign}{abs(self.percent)} %)" if self.percent is not None else ""
        return f"{sign}{spend.usd(abs(self.cents))}{share}"


def _when(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "j M, H:i")


def drift(provider: str, start: datetime, end: datetime) -> Drift | None:
    """The drift between the first and last readings of `provider`'s balance in [start, end),
    or None with fewer than two readings there."""
    readings = BalanceReading.objects.filter(provider=provider, read_at__gte=start, read_at__lt=end)
    first = readings.order_by("read_at", "pk").first()
    last = readings.order_by("-read_at", "-pk").first()
    if first is None or last is None or first.pk == last.pk:
        return None
    # Upstream charges a job when it is sent, so the jobs are those sent between the readings.
    sent = Generation.objects.filter(
        provider=provider, submitted_at__gt=first.read_at, submitted_at__lte=last.read_at
    )
    fell = Decimal(str(first.cents)) - Decimal(str(last.cents))
    return Drift(first.read_at, last.read_at, fell, spend.spent_cents(sent))
