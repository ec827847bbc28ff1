"""What jobs cost: an estimate per job from the price table, spend per month, budgets in money.

Every job records its estimate when it is recorded (`Generation.estimated_cents`, from `Price`,
which admins edit since prices change and are not all published). Budgets are per calendar month
in TIME_ZONE: one for the team (LUMAWEB_TEAM_MONTHLY_BUDGET_USD) and one per person
(LUMAWEB_PERSON_MONTHLY_BUDGET_USD, or their own `PersonBudget`). A person's spend is the jobs they
started; retries (an admin's or automatic) are the team's spend only.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.formats import date_format

from generations.models import Generation, Lineage, PersonBudget, Price
from generations.providers.base import Summary

# Where a budget starts to warn: 80 % used.
WARN_AT = Decimal("0.8")
# PostgreSQL's transaction-level advisory lock under which the team's budget is checked ("luma").
TEAM_BUDGET_LOCK = 0x6C756D61


def estimate(provider: str, summary: Summary) -> Decimal | None:
    """The price table's estimate for one job in US cents, or None when no row matches.

    A row's blank option matches any value; of the rows that match, the most specific wins.
    """
    options = summary.options
    rows = Price.objects.filter(
        Q(resolution="") | Q(resolution=options.get("resolution", "")),
        Q(duration="") | Q(duration=options.get("duration", "")),
        provider=provider,
        model=summary.model,
        kind=summary.kind,
    )
    best = max(rows, key=lambda row: (bool(row.resolution), bool(row.duration)), default=None)
    return best.cents if best else None


def usd(cents: Decimal | int | None) -> str:
    """Cents as dollars for people: "$12.40" (a fraction of a cent rounds)."""
    return f"${Decimal(cents or 0) / 100:,.2f}"


def month_start(now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def spent_cents(jobs: QuerySet[Generation]) -> Decimal:
    return jobs.aggregate(spent=Sum("estimated_cents"))["spent"] or Decimal(0)


def _person_limit_usd(user: Any) -> Decimal:
    own = PersonBudget.objects.filter(user=user).values_list("monthly_usd", flat=True).first()
    return own if own is not None else settings.LUMAWEB_PERSON_MONTHLY_BUDGET_USD


@dataclass
class Budget:
    """One monthly budget and how much of it is used."""

    whose: str  # "you", "the team"
    limit_cents: Decimal
    spent_cents: Decimal

    @property
    def left_cents(self) -> Decimal:
        return max(self.limit_cents - self.spent_cents, Decimal(0))

    @property
    def used(self) -> Decimal:
        return self.spent_cents / self.limit_cents

    @property
    def percent(self) -> int:
        return min(int(self.used * 100), 100)

    @property
    def warn(self) -> bool:
        return self.used >= WARN_AT

    @property
    def text(self) -> str:
        verb = "have" if self.whose == "you" else "has"
        return (
            f"{self.whose.capitalize()} {verb} used {usd(self.spent_cents)} of this month's "
            f"{usd(self.limit_cents)} budget ({self.percent} %); {usd(self.left_cents)} left."
        )


def budgets(user: Any, *, person: bool = True) -> list[Budget]:
    """This month's budgets that apply to `user` (theirs unless `person` is False, the team's),
    leaving out those that are off."""
    since = month_start()
    month = Generation.objects.filter(created_at__gte=since)
    found = []
    if person and (limit := _person_limit_usd(user)) > 0:
        started = month.filter(created_by=user).exclude(lineage=Lineage.RETRY)
        found.append(Budget("you", limit * 100, spent_cents(started)))
    if (team := settings.LUMAWEB_TEAM_MONTHLY_BUDGET_USD) > 0:
        found.append(Budget("the team", team * 100, spent_cents(month)))
    return found


def lock_budgets(user: Any) -> None:
    """Hold, until the enclosing transaction ends, the locks under which a person's limits and
    budgets are checked and their job recorded, so that parallel submissions cannot together pass
    one: the team's when a team budget is set (teammates' jobs count against it too), then the
    person's user row.

    PostgreSQL: a transaction advisory lock for the team, SELECT … FOR UPDATE on the user row,
    always in that order (no deadlock). SQLite: its IMMEDIATE transactions already admit one
    writer at a time, so both are serial there anyway.
    """
    if settings.LUMAWEB_TEAM_MONTHLY_BUDGET_USD > 0 and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TEAM_BUDGET_LOCK])
    get_user_model().objects.select_for_update().only("pk").get(pk=user.pk)


def budget_refusal(user: Any, cost: Decimal | None, *, person: bool = True, jobs: int = 1) -> str:
    """Why a job estimated at `cost` cents (or `jobs` variations at `cost` in all) would go over
    a budget, or "" when it fits."""
    if not cost:
        return ""
    for budget in budgets(user, person=person):
        if cost > budget.left_cents:
            verb = "have" if budget.whose == "you" else "has"
            what = f"These {jobs} variations are" if jobs > 1 else "This job is"
            renews = date_format(next_month_start(), "j F")
            return (
                f"{what} estimated at {usd(cost)}, and {budget.whose} {verb} "
                f"{usd(budget.left_cents)} of this month's {usd(budget.limit_cents)} budget "
                f"left. Nothing was sent; the budget renews on {renews}."
            )
    return ""


def next_month_start() -> datetime:
    start = month_start()
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
