"""Recording a job (and a retry of one) before anything is sent; tasks.py hands it to the worker."""

import hashlib
import hmac
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from pydantic import BaseModel

from generations import providers, retry, spend
from generations.models import EventKind, Generation, Lineage, Via
from generations.throttle import submission_refusal


class SubmissionRefused(Exception):
    """A new job refused before anything was recorded (a rate or budget limit, text no database
    takes); the message says why, for the person."""


def _holds_nul(value: Any) -> bool:
    """Whether a request's text anywhere holds a NUL, which PostgreSQL's text and JSON refuse
    (the pages' forms refuse it on their fields; an agent's or a script's request comes here)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    return False


def upstream_user_id(user: Any) -> str:
    """A stable opaque id for Luma's abuse attribution: a keyed hash, never a name or email."""
    key = hashlib.sha256(("lumaweb-user-id:" + settings.SECRET_KEY).encode()).digest()
    return "u_" + hmac.new(key, str(user.pk).encode(), hashlib.sha256).hexdigest()[:32]


def record_generation(
    user: Any,
    request: BaseModel,
    *,
    provider: str = "agents",
    idempotency_key: str | None = None,
    parent: Generation | None = None,
    lineage: str = "",
    submit_after: datetime | None = None,
    check_limits: bool = False,
    via: str = Via.WEB,
    team_budget: bool = False,
    jobs: int = 1,
    batch: Any = None,
) -> tuple[Generation, bool]:
    """Record a job as a draft; a repeated idempotency key finds the first job (unless it was
    put in the Trash since: it gives the key up, as it would once purged, for a new job).

    Keys are the person's own: the same key from someone else is another job.

    `request` is a validated request model of `provider` (generations/providers/).

    `submit_after` defers the submission (an automatic retry's backoff). `check_limits` applies
    the person's rate and budget limits (throttle.py) in the transaction that records the job,
    holding the team's and the person's locks (spend.lock_budgets), so parallel submissions,
    a teammate's too, cannot together pass a limit; a refusal raises SubmissionRefused and
    records nothing. `team_budget` applies
    only the team's monthly budget (a retry: the team's spend, not the person's). `via` records
    where the job was started (the pages, or an agent through /mcp). `jobs` checks the limits
    for that many variations at once (the rest are recorded without a check, in the caller's
    transaction); `batch` is their shared id (Generation.batch).
    """
    if _holds_nul([request.model_dump(mode="json"), idempotency_key]):
        raise SubmissionRefused(
            "A text in this request holds a NUL character (\\x00), which no prompt or option "
            "may contain: remove it and send again."
        )
    if idempotency_key:
        existing = Generation.objects.filter(
            created_by=user, idempotency_key=idempotency_key
        ).first()
        if existing is not None and existing.deleted_at is None:
            return existing, False
        if existing is not None:  # its person put it in the Trash: this is a new job
            Generation.objects.filter(pk=existing.pk).update(idempotency_key=None)
    upstream = providers.get(provider)
    summary = upstream.summary(request)
    cost = spend.estimate(provider, summary)
    try:
        with transaction.atomic():
            if check_limits or team_budget:
                spend.lock_budgets(user)
                if check_limits:
                    refusal = submission_refusal(user, cost, idempotency_key, jobs=jobs)
                else:
                    refusal = spend.budget_refusal(user, cost, person=False)
                if refusal:
                    raise SubmissionRefused(refusal)
            generation = Generation.objects.create(
                created_by=user,
                provider=provider,
                kind=summary.kind,
                model=summary.model,
                prompt=summary.prompt,
                aspect_ratio=summary.aspect_ratio,
                request=upstream.prepare(request, user_id=upstream_user_id(user)),
                idempotency_key=idempotency_key or None,
                parent=parent,
                lineage=lineage,
                submit_after=submit_after,
                via=via,
                estimated_cents=cost,
                batch=batch,
            )
            generation.log(EventKind.CREATED, data=generation.request)
    except IntegrityError:
        # Two requests with one key raced; the other one won.
        return Generation.objects.get(created_by=user, idempotency_key=idempotency_key), False
    return generation, True


def record_retry(
    original: Generation, *, attempt: int, submit_after: datetime | None = None, by: Any = None
) -> tuple[Generation, bool]:
    """Record the retry of a job (at most one, by its idempotency key), linked to the original.

    Returns the retry and whether it is new; raises retry.NotRetryable when it cannot be made.
    """
    request = retry.retry_request(original)
    with transaction.atomic():
        try:
            new, created = record_generation(
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
            raise retry.NotRetryable(str(exc)) from exc
        if not created:
            return new, False
        Generation.objects.filter(pk=new.pk).update(auto_retry=attempt)
        Generation.objects.filter(pk=original.pk).update(retried_as=new)
        new.auto_retry = attempt
        original.retried_as = new
        original.log(
            EventKind.RETRIED,
            data={
                "retry": str(new.uuid),
                "automatic": attempt > 0,
                "attempt": attempt,
                "by": by.get_username() if by else "",
                "submit_after": submit_after.isoformat() if submit_after else None,
            },
        )
    return new, True
