"""Background work, through Django's Tasks API: send jobs, poll them, sweep up orphans.

Whatever runs these (the database worker or RQ), each task is safe to run twice: the model's
conditional transitions decide who does the work.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from generations import providers
from generations.archive import enqueue_archive, sweep_unarchived
from generations.models import (
    UPSTREAM_ACTIVE_STATES,
    EventKind,
    Generation,
    State,
)
from generations.providers import errors
from generations.retry import after_failure
from generations.trash import purge_trash

logger = logging.getLogger(__name__)

MAX_SUBMIT_ATTEMPTS = 5
SUBMIT_STALE_SECONDS = 300
# Our own failure codes for refusals that happen before the upstream accepts a job.
REFUSAL_CODES: dict[type[errors.LumaError], str] = {
    errors.BadRequest: "invalid_request",
    errors.Unprocessable: "invalid_request",
    errors.InsufficientBalance: "budget_exhausted",
    errors.PayloadTooLarge: "image_too_large",
    errors.AuthenticationFailed: "upstream_refused",
    errors.Forbidden: "upstream_refused",
    errors.RateLimited: "rate_limited",
}


def enqueue_submit(generation: Generation) -> None:
    """Send the job once the row that records it is committed (a deferred one when it is due)."""
    key = str(generation.uuid)
    submit = submit_generation.using(run_after=generation.submit_after)
    transaction.on_commit(lambda: submit.enqueue(key))


def schedule_poll(generation: Generation, when: datetime | None = None) -> None:
    run_after = when or generation.next_poll_at or timezone.now()
    poll_generation.using(run_after=run_after).enqueue(str(generation.uuid))


def poll_interval(generation: Generation, now: datetime) -> float:
    """Every LUMAWEB_POLL_INTERVAL seconds at first; long jobs back off, doubling each minute."""
    started = generation.submitted_at or generation.created_at
    overtime = (now - started).total_seconds() - settings.LUMAWEB_POLL_BACKOFF_AFTER
    if overtime <= 0:
        return float(settings.LUMAWEB_POLL_INTERVAL)
    interval = settings.LUMAWEB_POLL_INTERVAL * 2 ** (overtime / 60)
    return float(min(settings.LUMAWEB_POLL_INTERVAL_MAX, interval))


@task()
def submit_generation(generation_uuid: str) -> None:
    """Send a draft job upstream, exactly once."""
    generation = Generation.objects.filter(uuid=generation_uuid).first()
    if generation is None or not generation.claim_for_submit():
        return
    try:
        reply = providers.get(generation.provider).submit(generation)
    except errors.InputRefused as exc:
        generation.mark_failed("upload_refused", exc.detail, exc.request_id)
        return
    except errors.OutcomeUnknown as exc:
        generation.mark_outcome_unknown(exc.detail, exc.request_id)
        return
    except errors.LumaError as exc:
        _submit_refused(generation, exc)
        return
    if generation.mark_submitted(reply):
        schedule_poll(generation)


def _submit_refused(generation: Generation, exc: errors.LumaError) -> None:
    """Nothing was created upstream: try again later if it may pass, else fail plainly."""
    generation.log(EventKind.ERROR, request_id=exc.request_id, data=_error_data(exc))
    attempts = generation.events.filter(kind=EventKind.ERROR).count()
    if exc.retryable and attempts < MAX_SUBMIT_ATTEMPTS and generation.release_submit():
        delay = exc.retry_after or settings.LUMAWEB_POLL_INTERVAL * 2**attempts
        submit_generation.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(
            str(generation.uuid)
        )
        return
    code = REFUSAL_CODES.get(type(exc), "upstream_unavailable")
    # A failure and its automatic retry are committed together: no viewer sees one alone.
    with transaction.atomic():
        if generation.mark_failed(code, exc.detail, exc.request_id):
            after_failure(generation, wait=exc.retry_after)


@task()
def poll_generation(generation_uuid: str) -> None:
    """Ask the upstream once how a job is doing, then schedule the next poll if needed."""
    generation = Generation.objects.filter(uuid=generation_uuid).first()
    if generation is None or not generation.upstream_id:
        return
    if not generation.claim_poll(poll_interval(generation, timezone.now())):
        return
    generation.refresh_from_db()
    try:
        reply = providers.get(generation.provider).poll(generation.upstream_id)
    except errors.NotFound as exc:
        generation.mark_failed(
            "upstream_lost", "Luma no longer knows this job.", request_id=exc.request_id
        )
        return
    except errors.LumaError as exc:
        generation.log(EventKind.ERROR, request_id=exc.request_id, data=_error_data(exc))
        if exc.retry_after:
            generation.next_poll_at = timezone.now() + timedelta(seconds=exc.retry_after)
            Generation.objects.filter(pk=generation.pk).update(next_poll_at=generation.next_poll_at)
        schedule_poll(generation)
        return
    with transaction.atomic():
        if generation.apply_upstream(reply):
            after_failure(generation)
            if generation.state == State.COMPLETED:
                enqueue_archive(generation)
    generation.refresh_from_db()
    if generation.state in UPSTREAM_ACTIVE_STATES:
        schedule_poll(generation)


def _error_data(exc: errors.LumaError) -> dict[str, object]:
    return {"error": type(exc).__name__, "status": exc.status, "detail": exc.detail}


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Re-enqueue work nobody is doing (after a crash or restart), and purge the trash of
    what has been there LUMAWEB_TRASH_DAYS; return what it found."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.LUMAWEB_SWEEP_GRACE)
    found = {"drafts": 0, "polls": 0, "unknown": 0}
    # A deferred draft (an automatic retry waiting out its backoff) is orphaned only once due.
    drafts = Generation.objects.filter(state=State.DRAFT, created_at__lt=stale)
    for uuid in drafts.exclude(submit_after__gt=stale).values_list("uuid", flat=True):
        submit_generation.enqueue(str(uuid))
        found["drafts"] += 1
    overdue = Generation.objects.filter(state__in=UPSTREAM_ACTIVE_STATES, next_poll_at__lt=stale)
    for generation in overdue:
        # Moving next_poll_at to now makes it due again and keeps the next sweep off it.
        if Generation.objects.filter(pk=generation.pk, next_poll_at=generation.next_poll_at).update(
            next_poll_at=now
        ):
            schedule_poll(generation, now)
            found["polls"] += 1
    crashed = Generation.objects.filter(
        state=State.SUBMITTING, submitted_at__lt=now - timedelta(seconds=SUBMIT_STALE_SECONDS)
    )
    for generation in crashed:
        if generation.mark_outcome_unknown(
            "The worker stopped while sending this job; Luma may or may not have it."
        ):
            found["unknown"] += 1
    found["archives"] = sweep_unarchived(now)
    found["purged"] = purge_trash(now)
    if any(found.values()):
        logger.info("sweep re-enqueued %s", found)
    return found
