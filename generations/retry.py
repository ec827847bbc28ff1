"""Retries: by an admin's hand, or automatically for failures that may pass on a second try.

A retry is a new job with the original's request, linked to it (lineage "retry"), so every
attempt stays in the history. A job is retried at most once, by its own idempotency key: a double
click, a duplicated poll or an admin racing the policy all find the same retry. To try again after
a retry failed, retry the retry.

The automatic policy: only transient failure codes, at most LUMAWEB_AUTO_RETRY_MAX retries in a
chain, each sent after LUMAWEB_AUTO_RETRY_BACKOFF seconds, doubling. A job whose outcome is unknown
is never retried automatically: Luma may already have made, and charged, it.
"""

import json
import logging
from datetime import timedelta
from typing import Any

import pydantic
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from generations import providers
from generations.models import (
    FAILURE_STATES,
    INPUT_PLACEHOLDER,
    EventKind,
    Generation,
    Lineage,
    State,
)

logger = logging.getLogger(__name__)

# Failures that may pass on a second try. Everything else fails the same way again, or (outcome
# unknown) may already have been charged.
TRANSIENT_CODES = frozenset(
    {"rate_limited", "generation_failed", "output_not_found", "upstream_unavailable"}
)


class NotRetryable(Exception):
    """This job cannot be retried; the message says why, for the admin."""


def is_transient(code: str) -> bool:
    return code in TRANSIENT_CODES


def backoff(attempt: int, wait: float | None = None) -> float:
    """Seconds before automatic retry number `attempt` (1, 2, …) is sent; at least `wait`."""
    return max(settings.LUMAWEB_AUTO_RETRY_BACKOFF * 2 ** (attempt - 1), wait or 0.0)


def after_failure(generation: Generation, wait: float | None = None) -> Generation | None:
    """Retry a job that has just failed if the policy allows it; return the scheduled retry.

    `wait` is how long the upstream asked us to wait (a 429's Retry-After), if it said.
    """
    if generation.state != State.FAILED or not is_transient(generation.failure_code):
        return None
    attempt = generation.auto_retry + 1
    if attempt > settings.LUMAWEB_AUTO_RETRY_MAX:
        return None
    due = timezone.now() + timedelta(seconds=backoff(attempt, wait))
    try:
        retry, _ = _start_retry(generation, attempt=attempt, submit_after=due)
    except NotRetryable as exc:
        logger.warning("not retrying %s automatically: %s", generation.uuid, exc)
        return None
    return retry


def retry_now(generation: Generation, user: Any) -> tuple[Generation, bool]:
    """An admin's retry, sent at once; the original counts as reviewed.

    Returns the retry and whether it is new (False: the job had been retried already).
    """
    if not (generation.state in FAILURE_STATES or generation.is_stuck):
        raise NotRetryable("Only failed, unknown or stuck jobs can be retried.")
    retry, created = _start_retry(generation, attempt=0, by=user)
    if created:
        generation.mark_reviewed(user, f"Retried as {retry.uuid}.")
    return retry, created


def _start_retry(
    original: Generation, *, attempt: int, submit_after: Any = None, by: Any = None
) -> tuple[Generation, bool]:
    # submission imports tasks, which imports this module for its failure hook.
    from generations.submission import SubmissionRefused, start_generation

    if INPUT_PLACEHOLDER in json.dumps(original.request):
        # Its uploads belong to the original and never reached Luma: the form can send them.
        raise NotRetryable("Its uploads never reached Luma: edit and resubmit it instead.")
    try:
        request = providers.get(original.provider).parse(original.request)
    except pydantic.ValidationError as exc:
        raise NotRetryable(f"Its stored request is no longer valid: {exc}") from exc
    except providers.ProviderOff as exc:
        raise NotRetryable(str(exc)) from exc
    with transaction.atomic():
        try:
            # A retry is the team's spend: its monthly budget applies, not the person's.
            retry, created = start_generation(
                original.created_by,
                request,
                provider=original.provider,
                idempotency_key=f"retry:{original.uuid}",
                parent=original,
                lineage=Lineage.RETRY,
                submit_after=submit_after,
                team_budget=True,
            )
        except SubmissionRefused as exc:
            raise NotRetryable(str(exc)) from exc
        if not created:
            return retry, False
        Generation.objects.filter(pk=retry.pk).update(auto_retry=attempt)
        Generation.objects.filter(pk=original.pk).update(retried_as=retry)
        retry.auto_retry = attempt
        original.retried_as = retry
        original.log(
            EventKind.RETRIED,
            data={
                "retry": str(retry.uuid),
                "automatic": attempt > 0,
                "attempt": attempt,
                "by": by.get_username() if by else "",
                "submit_after": submit_after.isoformat() if submit_after else None,
            },
        )
    return retry, True
