"""Retry policy: which jobs may be retried, when, and with what request (tasks.py acts on it).

A retry is a new job with the original's request, linked to it (lineage "retry"), so every
attempt stays in the history. A job is retried at most once, by its own idempotency key: a double
click, a duplicated poll or an admin racing the policy all find the same retry. To try again after
a retry failed, retry the retry.

The automatic policy: only transient failure codes, at most LUMAWEB_AUTO_RETRY_MAX retries in a
chain, each sent after LUMAWEB_AUTO_RETRY_BACKOFF seconds, doubling. A job whose outcome is unknown
is never retried automatically: Luma may already have made, and charged, it.
"""

from datetime import datetime, timedelta

import pydantic
from django.conf import settings
from django.utils import timezone
from pydantic import BaseModel

from generations import providers
from generations.models import FAILURE_STATES, Generation, State

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


def automatic_retry(
    generation: Generation, wait: float | None = None
) -> tuple[int, datetime] | None:
    """Whether the policy retries a job that has just failed: (attempt number, when to send it).

    `wait` is how long the upstream asked us to wait (a 429's Retry-After), if it said.
    """
    if generation.state != State.FAILED or not is_transient(generation.failure_code):
        return None
    attempt = generation.auto_retry + 1
    if attempt > settings.LUMAWEB_AUTO_RETRY_MAX:
        return None
    return attempt, timezone.now() + timedelta(seconds=backoff(attempt, wait))


def check_manual(generation: Generation) -> None:
    """Raise NotRetryable unless a person may retry this job now (failed, unknown or stuck)."""
    if not (generation.state in FAILURE_STATES or generation.is_stuck):
        raise NotRetryable("Only failed, unknown or stuck jobs can be retried.")


def retry_request(original: Generation) -> BaseModel:
    """The original's request, validated again by its provider; NotRetryable when it cannot be."""
    try:
        upstream = providers.get(original.provider)
        request = upstream.parse(original.request)
    except pydantic.ValidationError as exc:
        raise NotRetryable(f"Its stored request is no longer valid: {exc}") from exc
    except providers.ProviderOff as exc:
        raise NotRetryable(str(exc)) from exc
    if original.holds_unsent_uploads and not upstream.capabilities.resends_uploads:
        # Its uploads belong to the original and never reached Luma: the form can send them.
        raise NotRetryable("Its uploads never reached Luma: edit and resubmit it instead.")
    return request
