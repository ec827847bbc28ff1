"""Every job's life after it is recorded, through Django's Tasks API: each `@task` and each
enqueue of the studio lives here. Start a job (record it, then send it), poll it, retry it by
policy (retry.py) or by hand, archive its outputs (archive.py), refresh it from upstream, and
sweep up orphans.

Whatever runs these (the database worker or RQ), each task is safe to run twice: the model's
conditional transitions decide who does the work.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_tasks import task
from pydantic import BaseModel

from generations import archive, providers, retry
from generations.models import (
    UPSTREAM_ACTIVE_STATES,
    EventKind,
    Generation,
    State,
)
from generations.providers import errors
from generations.providers.base import Provider
from generations.providers.dream_machine import history
from generations.submission import record_generation, record_retry
from generations.trash import purge_pending_uploads, purge_trash

logger = logging.getLogger(__name__)

# The queue of work that may take minutes (settings.TASK_QUEUES): its own worker takes it, so
# it never holds a job's send or poll on the default queue.
BULK = "bulk"
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


# --- starting and retrying jobs ---


def start_generation(user: Any, request: BaseModel, **options: Any) -> tuple[Generation, bool]:
    """Record a job (submission.record_generation, same options) and send it once committed."""
    generation, created = record_generation(user, request, **options)
    if created:
        enqueue_submit(generation)
    return generation, created


def retry_now(generation: Generation, user: Any) -> tuple[Generation, bool]:
    """A person's retry, sent at once; the original counts as reviewed.

    Returns the retry and whether it is new (False: the job had been retried already); raises
    retry.NotRetryable when it cannot be retried.
    """
    retry.check_manual(generation)
    new, created = record_retry(generation, attempt=0, by=user)
    if created:
        generation.mark_reviewed(user, "Retried.")  # the job's page and row link the retry
        enqueue_submit(new)
    return new, created


def after_failure(generation: Generation, wait: float | None = None) -> Generation | None:
    """Retry a job that has just failed if the policy allows it; return the scheduled retry."""
    planned = retry.automatic_retry(generation, wait)
    if planned is None:
        return None
    attempt, due = planned
    try:
        new, created = record_retry(generation, attempt=attempt, submit_after=due)
    except retry.NotRetryable as exc:  # the team's budget, say: said on its page and Review
        logger.warning("not retrying %s automatically: %s", generation.uuid, exc)
        generation.log(EventKind.RETRY_REFUSED, data={"reason": str(exc)})
        return None
    if created:
        enqueue_submit(new)
    return new


# --- sending and polling ---


def enqueue_submit(generation: Generation) -> None:
    """Send the job once the row that records it is committed (a deferred one when it is due)."""
    key = str(generation.uuid)
    submit = submit_generation.using(run_after=generation.submit_after)
    transaction.on_commit(lambda: submit.enqueue(key))


def schedule_poll(generation: Generation, when: datetime | None = None) -> None:
    """Poll the job at its `next_poll_at` (or `when`, which the caller has just stored there).

    The task carries that time: a poll started early (RQ's scheduler keeps whole seconds) waits
    for it, and one whose time was superseded (a duplicate, a sweep) does nothing.
    """
    due = when or generation.next_poll_at or timezone.now()
    poll_generation.using(run_after=due).enqueue(str(generation.uuid), due.isoformat())


# How many times a long job's poll interval doubles at most: it meets its cap long before, and
# 2 ** (minutes of overtime) would overflow a float after about 17 hours.
MAX_DOUBLINGS = 64


def poll_interval(generation: Generation, now: datetime) -> float:
    """Every LUMAWEB_POLL_INTERVAL seconds at first; long jobs back off, doubling each minute."""
    started = generation.submitted_at or generation.created_at
    overtime = (now - started).total_seconds() - settings.LUMAWEB_POLL_BACKOFF_AFTER
    if overtime <= 0:
        return float(settings.LUMAWEB_POLL_INTERVAL)
    interval = settings.LUMAWEB_POLL_INTERVAL * 2 ** min(overtime / 60, MAX_DOUBLINGS)
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
        generation.mark_failed("upload_refused", exc.detail, exc.request_id, never_sent=True)
        return
    except errors.OutcomeUnknown as exc:
        generation.mark_outcome_unknown(exc.detail, exc.request_id)
        return
    except errors.LumaError as exc:
        _submit_refused(generation, exc)
        return
    if generation.mark_submitted(reply):
        if generation.events.filter(kind=EventKind.HOOK).exists():
            # The upstream's news came while the job was being sent, before its id was here
            # to poll by (hooks.hook): poll at once, not an interval on. Looked for only after
            # the id is stored, as the hook reads the id only after keeping the news.
            now = timezone.now()
            Generation.objects.filter(pk=generation.pk).update(next_poll_at=now)
            schedule_poll(generation, now)
        else:
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
        if generation.mark_failed(code, exc.detail, exc.request_id, never_sent=True):
            after_failure(generation, wait=exc.retry_after)


@task()
def poll_generation(generation_uuid: str, due: str) -> None:
    """Ask the upstream once how a job is doing, then schedule the next poll if needed."""
    generation = Generation.objects.filter(uuid=generation_uuid).first()
    if generation is None or not generation.upstream_id:
        return
    scheduled = datetime.fromisoformat(due)
    if generation.next_poll_at == scheduled and scheduled > timezone.now():
        poll_generation.using(run_after=scheduled).enqueue(generation_uuid, due)  # too early
        return
    poll_once(generation, scheduled, providers.get(generation.provider))


def poll_once(
    generation: Generation, scheduled: datetime, provider: Provider
) -> errors.LumaError | None:
    """Take the poll scheduled for `scheduled` and ask `provider` once; do nothing when it is not
    this caller's to take (a duplicate, or superseded). The upstream's error, if it gave one (the
    next poll is then scheduled, after its Retry-After if it said one)."""
    if not generation.claim_poll(scheduled, poll_interval(generation, timezone.now())):
        return None
    generation.refresh_from_db()
    try:
        reply = provider.poll(generation.upstream_id)
    except errors.NotFound as exc:
        generation.mark_failed(
            "upstream_lost",
            f"{generation.provider_label} no longer knows this job.",
            request_id=exc.request_id,
        )
        return
    except errors.LumaError as exc:
        generation.log(EventKind.ERROR, request_id=exc.request_id, data=_error_data(exc))
        if exc.retry_after:
            generation.next_poll_at = timezone.now() + timedelta(seconds=exc.retry_after)
            Generation.objects.filter(pk=generation.pk).update(next_poll_at=generation.next_poll_at)
        schedule_poll(generation)
        return exc
    with transaction.atomic():
        if generation.apply_upstream(reply):
            after_failure(generation)
            if generation.state == State.COMPLETED:
                enqueue_archive(generation)
    generation.refresh_from_db()
    if generation.state in UPSTREAM_ACTIVE_STATES:
        schedule_poll(generation)
    return None


def _error_data(exc: errors.LumaError) -> dict[str, object]:
    return {"error": type(exc).__name__, "status": exc.status, "detail": exc.detail}


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Re-enqueue work nobody is doing (after a crash or restart), purge the trash of what has
    been there LUMAWEB_TRASH_DAYS and refused forms' uploads no job took; return what it found."""
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
            "The worker stopped while sending this job; "
            f"{generation.provider_label} may or may not have it."
        ):
            found["unknown"] += 1
    due = archive.unarchived_due(now)
    for key in due:
        archive_outputs.enqueue(key)
    found["archives"] = len(due)
    found["purged"] = purge_trash(now)
    found["pending_uploads"] = purge_pending_uploads(now)
    if any(found.values()):
        logger.info("sweep re-enqueued %s", found)
    return found


# --- archiving outputs, and fresh links until then ---


def enqueue_archive(generation: Generation) -> None:
    key = str(generation.uuid)
    transaction.on_commit(lambda: archive_outputs.enqueue(key))


@task(queue_name=BULK)
def archive_outputs(generation_uuid: str) -> None:
    """Copy a completed job's unarchived outputs into storage; safe to run twice."""
    generation = Generation.objects.filter(uuid=generation_uuid, state=State.COMPLETED).first()
    if generation is None:
        return
    retry_in = archive.archive_pending(generation)
    if retry_in is not None:
        run_after = timezone.now() + timedelta(seconds=retry_in)
        archive_outputs.using(run_after=run_after).enqueue(generation_uuid)


def request_url_refresh(generation: Generation) -> None:
    """Start one refresh of a job's output URLs, however many people are looking at it."""
    if archive.claim_url_refresh(generation):
        key = str(generation.uuid)
        transaction.on_commit(lambda: refresh_output_urls.enqueue(key))


def refresh_if_stale(generation: Generation) -> bool:
    """Called by views about to show a completed job: start a refresh if a URL is dying.

    Returns whether the page must wait (poll) for fresh URLs.
    """
    if generation.state != State.COMPLETED:
        return False
    if any(output.needs_refresh for output in generation.outputs.all()):
        request_url_refresh(generation)
        return True
    return False


@task()
def refresh_output_urls(generation_uuid: str) -> None:
    generation = Generation.objects.filter(uuid=generation_uuid, state=State.COMPLETED).first()
    if generation is not None and generation.upstream_id:
        archive.refresh_claimed_urls(generation)


# --- refreshing from upstream (staff: the Review page and the admin) ---


def refresh(generation: Generation) -> str:
    """Ask the upstream about one job now: a poll for a running job, a look for a finished one."""
    if generation.is_terminal:
        return look_up(generation)
    return refresh_later(generation)


def refresh_later(generation: Generation) -> str:
    """Like `refresh`, but never calls the upstream in this request: for many jobs at once."""
    if generation.state == State.DRAFT:
        # A deferred retry waiting for its backoff is sent now.
        Generation.objects.filter(pk=generation.pk, state=State.DRAFT).update(submit_after=None)
        submit_generation.enqueue(str(generation.uuid))
        return f"Sending it to {generation.provider_label} now."
    if generation.state == State.SUBMITTING:
        return "It is being sent right now; if the worker died, the sweep will flag it."
    if generation.state in UPSTREAM_ACTIVE_STATES:
        now = timezone.now()
        Generation.objects.filter(pk=generation.pk, state__in=UPSTREAM_ACTIVE_STATES).update(
            next_poll_at=now
        )
        schedule_poll(generation, now)
        return f"Asking {generation.provider_label} now; the answer shows in a moment."
    if not generation.upstream_id:
        return _no_upstream_id(generation)
    refresh_generation.enqueue(str(generation.uuid))
    return f"Asking {generation.provider_label} in the background."


@task()
def refresh_generation(generation_uuid: str) -> None:
    """Ask the upstream about one job, from the worker (the admin's bulk refresh)."""
    generation = Generation.objects.filter(uuid=generation_uuid).first()
    if generation is not None:
        refresh(generation)


def look_up(generation: Generation) -> str:
    """A finished job's reply asked again (fresh URLs, the upstream's view), without moving it."""
    upstream = generation.provider_label
    if not generation.upstream_id:
        return _no_upstream_id(generation)
    try:
        reply = providers.get(generation.provider).poll(generation.upstream_id)
    except errors.NotFound as exc:
        generation.log(EventKind.ERROR, request_id=exc.request_id, data={"detail": exc.detail})
        return f"{upstream} no longer knows this job."
    except errors.LumaError as exc:
        generation.log(EventKind.ERROR, request_id=exc.request_id, data={"detail": exc.detail})
        return f"{upstream} did not answer: {exc.detail}"
    generation.refresh_upstream(reply)
    if archive.archive_again(generation):
        enqueue_archive(generation)
    if reply.state != generation.state:
        return f"{upstream} says {reply.state}; we keep {generation.get_state_display().lower()}."
    return f"Refreshed: {upstream} says {reply.state}."


def _no_upstream_id(generation: Generation) -> str:
    return (
        f"{generation.provider_label} never gave us an id for this job, so there is nothing to ask."
    )


# --- bringing a Dream Machine account's history in ---


def after_import(generation: Generation) -> None:
    """An imported job: archive its outputs, or keep polling it while it runs."""
    if generation.state == State.COMPLETED:
        enqueue_archive(generation)
    elif generation.state in UPSTREAM_ACTIVE_STATES:
        schedule_poll(generation)


@task(queue_name=BULK)
def import_in_background(user_id: int) -> None:
    """The import, run by the worker (the admin's action)."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is not None:
        history.import_history(user, after_import)
