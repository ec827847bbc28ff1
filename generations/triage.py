"""Staff triage of failed and stuck jobs: what went wrong, grouped by cause, fixed in a click.

The page lists failures nobody has reviewed yet, grouped by failure code with a plain
explanation and the suggested fix, then the jobs stuck unfinished, then counts by code, model,
person and day. Its buttons (and the admin's change page) post to one view, `act`.
"""

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, TruncDate
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_POST

from generations import retry, tasks
from generations.explanations import explain
from generations.gallery import back_to
from generations.models import (
    FAILURE_STATES,
    ArchiveState,
    EventKind,
    Generation,
    GenerationEvent,
    State,
)

# Rows shown per section; the admin's list has the rest.
LIST_LIMIT = 100
COUNT_DAYS = 14
RECENTLY_REVIEWED = 10
NOTE_MAX = 500  # a review note's characters: a line or two, not a report
_REFUSALS = GenerationEvent.objects.filter(
    generation=OuterRef("pk"), kind=EventKind.RETRY_REFUSED
).order_by("-at", "-id")
# Jobs as the page lists them.
ROWS = Generation.objects.select_related("created_by", "reviewed_by", "retried_as").annotate(
    # In the rows' query, what the model's `retry_refusal` would read for each row.
    retry_refusal=Coalesce(
        Subquery(_REFUSALS.annotate(reason=KT("data__reason")).values("reason")[:1]),
        Value(""),
        output_field=TextField(),
    )
)


def _require_staff(request: HttpRequest) -> None:
    user = request.user
    if not (user.is_staff and user.has_perm("generations.change_generation")):
        raise PermissionDenied


def admin_list_url(**filters: Any) -> str:
    """The admin's list of jobs with these filters (its own query parameters) applied."""
    url = reverse("admin:generations_generation_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


@require_GET
def triage(request: HttpRequest) -> HttpResponse:
    """Failures to review grouped by cause, stuck jobs, and counts of what failed lately."""
    _require_staff(request)
    now = timezone.now()
    rows = ROWS.all()
    needing = list(rows.needs_review().order_by("-created_at", "-id")[:LIST_LIMIT])
    totals, upstreams = _needing_review()
    context = {
        **_summary(totals, now),
        "groups": _groups(needing, totals, upstreams),
        # Outputs whose copy failed: the sweep tries again slowly, Refresh tries at once.
        "not_archived": list(
            rows.filter(state=State.COMPLETED, outputs__archive_state=ArchiveState.FAILED)
            .distinct()
            .order_by("-created_at", "-id")[:LIST_LIMIT]
        ),
        "stuck": list(ROWS.stuck(now).order_by("created_at")[:LIST_LIMIT]),
        "stuck_minutes": round(settings.LUMAWEB_STUCK_AFTER / 60),
        **_recently_reviewed(),
        "counts": _counts(_counted_since(now)),
        "note_max": NOTE_MAX,
    }
    return render(request, "generations/triage.html", context)


def _counted_since(now: datetime) -> datetime:
    """Where the page's counts start: midnight, COUNT_DAYS ago."""
    return (now - timedelta(days=COUNT_DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)


def _needing_review() -> tuple[dict[str, int], dict[str, set[str]]]:
    """How many failures need review by code, and the upstreams they had."""
    counted = (
        Generation.objects.needs_review()
        .order_by()
        .values_list("failure_code", "provider")
        .annotate(n=Count("id"))
    )
    totals: dict[str, int] = {}
    upstreams: dict[str, set[str]] = {}
    for code, provider, n in counted:
        totals[code] = totals.get(code, 0) + n
        upstreams.setdefault(code, set()).add(provider)
    return totals, upstreams


def _recently_reviewed() -> dict[str, Any]:
    return {
        "reviewed": list(
            ROWS.filter(reviewed_at__isnull=False).order_by("-reviewed_at")[:RECENTLY_REVIEWED]
        ),
        "admin_reviewed_url": admin_list_url(review="yes"),
    }


def _summary(totals: dict[str, int], now: datetime) -> dict[str, Any]:
    """The page's head: failures to review, stuck jobs, automatic retries lately."""
    since = _counted_since(now)
    return {
        "needing_total": sum(totals.values()),
        "stuck_total": ROWS.stuck(now).count(),
        "days": COUNT_DAYS,
        "auto_retries": Generation.objects.filter(auto_retry__gt=0, created_at__gte=since).count(),
        "auto_retry_max": settings.LUMAWEB_AUTO_RETRY_MAX,
        "admin_needs_url": admin_list_url(review="needs"),
        "admin_stuck_url": admin_list_url(stuck="yes"),
    }


def _groups(
    needing: list[Generation], totals: dict[str, int], upstreams: dict[str, set[str]]
) -> list[dict[str, Any]]:
    """The failures needing review by code, each explained in the words of its jobs' upstream
    when they all had the same one."""
    by_code: dict[str, list[Generation]] = {code: [] for code in totals}
    for generation in needing:
        by_code.setdefault(generation.failure_code, []).append(generation)
    ordered = sorted(by_code, key=lambda code: (-totals.get(code, 0), code))
    return [
        {
            "code": code,
            "explanation": explain(code, _only(upstreams.get(code, set()))),
            "transient": retry.is_transient(code),
            "total": totals.get(code, 0),
            "jobs": by_code[code],
            "more": totals.get(code, 0) - len(by_code[code]),
            "admin_url": admin_list_url(failure_code=code, review="needs"),
        }
        for code in ordered
    ]


def _only(upstreams: set[str]) -> str:
    """The one upstream of a group's jobs, or "" when they had several."""
    return next(iter(upstreams)) if len(upstreams) == 1 else ""


def _counts(since: Any) -> list[dict[str, Any]]:
    """Failures since `since` by day, code, model and person, each linked to the admin."""
    rows = (
        Generation.objects.filter(state__in=FAILURE_STATES, created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values("day", "failure_code", "provider", "model", "created_by", "created_by__username")
        .annotate(n=Count("id"))
        .order_by("-day", "-n", "failure_code", "model", "created_by__username")
    )
    return [
        {
            **row,
            "title": explain(row["failure_code"], row["provider"]).title,
            "admin_url": admin_list_url(
                failure_code=row["failure_code"],
                model=row["model"],
                created_by__id__exact=row["created_by"],
                created_at__gte=_midnight(row["day"]),
                created_at__lt=_midnight(row["day"] + timedelta(days=1)),
            ),
        }
        for row in rows
    ]


def _midnight(day: date) -> datetime:
    """The start of a day in the current time zone, as the admin's date filter writes it."""
    return timezone.make_aware(datetime.combine(day, time.min))


@require_POST
def act(request: HttpRequest, uuid: str) -> HttpResponse:
    """Retry, refresh, mark reviewed or reopen one job; named submit buttons say which."""
    _require_staff(request)
    generation = get_object_or_404(Generation, uuid=uuid)  # staff: trashed ones too
    action = request.POST.get("action", "")
    kept = ""  # a refused note, back in its field to shorten
    if action == "retry":
        level, message = _retry(generation, request.user)
    elif action == "refresh":
        level, message = messages.INFO, tasks.refresh(generation)
    elif action == "review":
        note = request.POST.get("note", "").strip()
        level, message = _review(generation, request.user, note)
        kept = note if level == messages.ERROR else ""
    elif action == "reopen":
        done = generation.reopen(request.user)
        level, message = messages.SUCCESS, "Reopened." if done else "It was not reviewed."
    else:
        return HttpResponseBadRequest("Unknown action.")
    if request.htmx:
        # The job in place, and what it changes: the page's head, its group's badge, and the
        # Recently reviewed list (unless the job is in place there: that row is the change).
        job = get_object_or_404(ROWS, pk=generation.pk)
        code = request.POST.get("group", "")
        in_reviewed = request.POST.get("prefix") == "reviewed"
        totals, _ = _needing_review()
        context = {
            **_summary(totals, timezone.now()),
            **({} if in_reviewed else _recently_reviewed()),
            "job": job,
            "prefix": "reviewed" if in_reviewed else "",
            "note": message,
            "kept_note": kept,
            "note_max": NOTE_MAX,
            "group": {"code": code, "total": totals.get(code, 0)} if code else None,
            "oob": True,
        }
        parts = [
            "job",
            "summary",
            *(["count"] if code else []),
            *([] if in_reviewed else ["reviewed"]),
        ]
        html = "".join(
            render_to_string(f"generations/triage.html#{p}", context, request) for p in parts
        )
        return HttpResponse(html)
    messages.add_message(request, level, message)
    return redirect(back_to(request, reverse("triage")))


def _retry(generation: Generation, user: Any) -> tuple[int, str | SafeString]:
    try:
        new, created = tasks.retry_now(generation, user)
    except retry.NotRetryable as exc:
        return messages.ERROR, str(exc)
    if created:
        return messages.SUCCESS, format_html(
            'Retry sent. <a href="{}">Watch the retry</a>.', new.get_absolute_url()
        )
    return messages.WARNING, format_html(
        'It was already retried: <a href="{}">see the retry</a>. To try again, retry that one.',
        new.get_absolute_url(),
    )


def _review(generation: Generation, user: Any, note: str) -> tuple[int, str]:
    if "\x00" in note:
        return messages.ERROR, "A note cannot hold a NUL character: nothing was marked."
    if len(note) > NOTE_MAX:
        return messages.ERROR, (
            f"A note holds at most {NOTE_MAX} characters (this one has {len(note):,}): "
            "nothing was marked."
        )
    if generation.mark_reviewed(user, note):
        return messages.SUCCESS, "Marked reviewed."
    return messages.WARNING, "It was already reviewed."
