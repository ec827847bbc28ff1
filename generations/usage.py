"""Who is spending what: estimated spend and job counts per person, provider, model or kind, per
day, week or month, as a chart drawn on the server (SVG), a table and a CSV file.

Staff see everyone; everybody else sees their own jobs only.
"""

import csv
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from generations import credits, providers, spend
from generations.gallery import DATE_RANGE
from generations.models import Generation, Kind

PERIODS = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
# The most places the chart draws for the range asked; a longer one is drawn from its first
# period with jobs to its last (a year of days fits).
MAX_PLACES = 400
# How far back each period looks by default.
DEFAULT_SPAN = {
    "day": timedelta(days=30),
    "week": timedelta(weeks=12),
    "month": timedelta(days=365),
}
DIMENSIONS = {
    "person": ("created_by__username", "Person"),
    "provider": ("provider", "Provider"),
    "model": ("model", "Model"),
    "kind": ("kind", "Kind"),
}
# Series colours of the chart; everything past them is drawn as "Others".
PALETTE = ("#6b4dff", "#ff8a5c", "#1f9d8a", "#e0b400", "#d9488f", "#3d8bfd")
OTHERS_COLOUR = "#b9b4c6"
CHART_WIDTH, CHART_HEIGHT, AXIS = 720, 220, 48
LABEL_ROOM = 32  # right of the last place: its date label starts at its bar


class UsageFilters(forms.Form):
    period = forms.ChoiceField(
        required=False, choices=[("day", "Per day"), ("week", "Per week"), ("month", "Per month")]
    )
    by = forms.ChoiceField(
        required=False, label="Split by", choices=[(k, v[1]) for k, v in DIMENSIONS.items()]
    )
    since = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=DATE_RANGE,
    )
    until = forms.DateField(
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=DATE_RANGE,
    )

    def __init__(self, data: Any, *, everyone: bool) -> None:
        """`everyone`: staff, who see the whole team's jobs; a person sees only theirs, so a
        split by person would be one line: they split by kind first, and not by person."""
        self.default_by = "person" if everyone else "kind"
        if not data.get("by"):  # the list shows the split the page shows
            data = data.copy()
            data["by"] = self.default_by
        super().__init__(data)
        if not everyone:
            by: Any = self.fields["by"]
            by.choices = [(k, label) for k, label in by.choices if k != "person"]

    def choices(self) -> tuple[str, str, date, date]:
        """The period, dimension and dates asked for; anything invalid takes its default (the
        page says which, as the gallery says a filter it did not apply), and dates given the
        wrong way round are the range they name."""
        self.is_valid()
        data = self.cleaned_data
        period = data.get("period") or "day"
        by = data.get("by") or self.default_by
        today = timezone.localdate()
        until = data.get("until") or today
        since = data.get("since") or until - DEFAULT_SPAN[period]
        return period, by, min(since, until), max(since, until)


@dataclass
class Series:
    name: str
    colour: str
    jobs: int
    cents: Decimal
    share: int  # percent of the spend shown


@dataclass
class Bar:
    label: str
    x: float
    width: float
    segments: list[tuple[str, float, float, str]]  # colour, y, height, title
    total: Decimal


def _rows(jobs: QuerySet[Generation], period: str, field: str) -> list[dict[str, Any]]:
    return list(
        jobs.annotate(bucket=PERIODS[period]("created_at"))
        .values("bucket", field)
        .annotate(jobs=Count("id"), cents=Sum("estimated_cents"))
        .order_by("bucket", field)
    )


def _series(rows: list[dict[str, Any]], field: str) -> tuple[list[Series], dict[str, str]]:
    jobs: dict[str, int] = defaultdict(int)
    cents: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        jobs[row[field]] += row["jobs"]
        cents[row[field]] += row["cents"] or 0
    total = sum(cents.values()) or Decimal(1)
    ranked = sorted(jobs, key=lambda name: (-cents[name], -jobs[name], name))
    colours = {
        name: PALETTE[n] if n < len(PALETTE) else OTHERS_COLOUR for n, name in enumerate(ranked)
    }
    series = [
        Series(
            _shown(field, name),
            colours[name],
            jobs[name],
            cents[name],
            int(cents[name] * 100 / total),
        )
        for name in ranked
    ]
    return series, colours


def _shown(field: str, value: Any) -> str:
    """A split's value in the words the other pages use for it: a provider's and a kind's
    names, not the stored ones (the CSV keeps those, for scripts)."""
    if field == "provider":
        return providers.label(value)
    if field == "kind" and value in Kind.values:
        return str(Kind(value).label)
    return value


def _label(start: date, period: str) -> str:
    return {"day": f"{start:%d %b}", "week": f"wk {start:%d %b}", "month": f"{start:%b %Y}"}[period]


def _day(bucket: datetime) -> date:
    return (timezone.localtime(bucket) if timezone.is_aware(bucket) else bucket).date()


def _slots(period: str, since: date, until: date, most: float = math.inf) -> list[date]:
    """The first day of every day, week or month from `since` to `until` (each a period's
    first), `most` of them at most: the chart's places, one for each whether it had jobs or
    not, so that the axis reads as time."""
    slots: list[date] = []
    while since <= until and len(slots) < most:
        slots.append(since)
        if period == "month":
            since = (since.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            since += timedelta(days=7 if period == "week" else 1)
    return slots


def _first_day(day: date, period: str) -> date:
    """The first day of the day, week (Monday, as TruncWeek) or month that holds `day`."""
    if period == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday()) if period == "week" else day


def _bars(
    rows: list[dict[str, Any]],
    field: str,
    period: str,
    colours: dict[str, str],
    asked: tuple[date, date],
) -> tuple[list[Bar], Decimal]:
    """The chart's bars, one place for each period of the range `asked` (since, until); a range
    of more than MAX_PLACES periods runs from the first period with jobs to the last instead (a
    range asked for decades away from them draws no empty centuries)."""
    days = [_day(row["bucket"]) for row in rows]
    if not days:
        return [], Decimal(0)
    since, until = (_first_day(day, period) for day in asked)
    if len(_slots(period, since, until, MAX_PLACES + 1)) > MAX_PLACES:
        since, until = min(days), max(days)
    buckets: dict[date, list[dict[str, Any]]] = {slot: [] for slot in _slots(period, since, until)}
    for day, row in zip(days, rows, strict=True):
        buckets.setdefault(day, []).append(row)
    totals = {b: sum((r["cents"] or 0 for r in found), Decimal(0)) for b, found in buckets.items()}
    top = max(totals.values(), default=Decimal(0)) or Decimal(1)
    plot = CHART_WIDTH - AXIS - LABEL_ROOM
    step = plot / max(len(buckets), 1)
    bars = []
    for n, (bucket, found) in enumerate(sorted(buckets.items())):
        y = float(CHART_HEIGHT)
        segments = []
        for row in sorted(found, key=lambda r: -(r["cents"] or 0)):
            height = float((row["cents"] or 0) / top) * (CHART_HEIGHT - 10)
            y -= height
            title = f"{_shown(field, row[field])}: {spend.usd(row['cents'])}, {row['jobs']} jobs"
            segments.append((colours[row[field]], round(y, 1), round(height, 1), title))
        x = AXIS + n * step + step * 0.15
        width = round(step * 0.7, 1)
        bars.append(Bar(_label(bucket, period), round(x, 1), width, segments, totals[bucket]))
    return bars, top


def _balances(request: HttpRequest, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Each provider's balance as the worker last read it (credits.py: a page never calls an
    upstream), beside this month's estimate for it, and the drift between the balance's fall
    and the estimate over the period shown (staff)."""
    if not request.user.is_staff:
        return []
    month = Generation.objects.filter(created_at__gte=spend.month_start())
    return [
        {
            "name": stored.label,
            "balance": stored.cents,
            "read_at": stored.read_at,
            "estimate": spend.spent_cents(month.filter(provider=stored.provider)),
            "drift": credits.drift(stored.provider, start, end),
        }
        for stored in credits.balances()
    ]


@require_GET
def usage(request: HttpRequest) -> HttpResponse:
    """Spend and counts over time, split one way, for staff (everyone) or a person (their own)."""
    filters = UsageFilters(request.GET, everyone=request.user.is_staff)
    period, by, since, until = filters.choices()
    field = DIMENSIONS[by][0]
    zone = timezone.get_current_timezone()
    start = datetime.combine(since, time.min, tzinfo=zone)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone)
    jobs = Generation.objects.filter(created_at__gte=start, created_at__lt=end)
    if not request.user.is_staff:
        jobs = jobs.filter(created_by=request.user)
    rows = _rows(jobs, period, field)
    if request.GET.get("format") == "csv":
        return _csv(rows, field, by, since, until)
    series, colours = _series(rows, field)
    bars, top = _bars(rows, field, period, colours, (since, until))
    every = max(1, math.ceil(len(bars) / 7))  # at most seven labels: they fit on a phone too
    context = {
        "filters": filters,
        "period": period,
        "by_label": DIMENSIONS[by][1],
        "since": since,
        "until": until,
        "series": series,
        "bars": bars,
        "labelled": bars[::every],
        "top": top,
        "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT, "axis": AXIS},
        "total_cents": sum((s.cents for s in series), Decimal(0)),
        "total_jobs": sum(s.jobs for s in series),
        "unpriced": jobs.filter(estimated_cents__isnull=True).count(),
        "budgets": spend.budgets(request.user),
        "provider_balances": _balances(request, start, end),
        "everyone": request.user.is_staff,
        "csv_url": "?" + urlencode({**request.GET.dict(), "format": "csv"}),
    }
    return render(request, "generations/usage.html", context)


def _csv(rows: list[dict[str, Any]], field: str, by: str, since: date, until: date) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="lumaweb-usage-{since}-{until}.csv"'
    writer = csv.writer(response)
    writer.writerow(["period_start", by, "jobs", "estimated_usd"])
    for row in rows:
        cents = row["cents"] or Decimal(0)
        start = _day(row["bucket"]).isoformat()
        writer.writerow([start, _cell(row[field]), row["jobs"], f"{cents / 100:.2f}"])
    return response


def _cell(value: str) -> str:
    """A name a spreadsheet will not run as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value
