"""Starting a job: record it first, then hand it to the worker."""

import hashlib
import hmac
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from pydantic import BaseModel

from generations import providers, spend
from generations.models import EventKind, Generation
from generations.tasks import enqueue_submit
from generations.throttle import submission_refusal


class SubmissionRefused(Exception):
    """A rate or budget limit refused a new job; the message says why, for the person."""


def upstream_user_id(user: Any) -> str:
    """A stable opaque id for Luma's abuse attribution: a keyed hash, never a name or email."""
    key = hashlib.sha256(("lumaweb-user-id:" + settings.SECRET_KEY).encode()).digest()
    return "u_" + hmac.new(key, str(user.pk).encode(), hashlib.sha256).hexdigest()[:32]


def start_generation(
    user: Any,
    request: BaseModel,
    *,
    provider: str = "agents",
    idempotency_key: str | None = None,
    parent: Generation | None = None,
    lineage: str = "",
    submit_after: datetime | None = None,
    check_limits: bool = False,
    team_budget: bool = False,
) -> tuple[Generation, bool]:
    """Record a job and enqueue its submission; a repeated idempotency key finds the first job.

    `request` is a validated request model of `provider` (generations/providers/).

    `submit_after` defers the submission (an automatic retry's backoff). `check_limits` applies
    the person's rate and budget limits (throttle.py) in the transaction that records the job,
    holding a lock on their user row (PostgreSQL: SELECT … FOR UPDATE; SQLite: its IMMEDIATE
    transactions already admit one writer at a time), so parallel submissions cannot together
    pass a limit; a refusal raises SubmissionRefused and records nothing.
    """
    if idempotency_key:
        existing = Generation.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
    upstream = providers.get(provider)
    summary = upstream.summary(request)
    cost = spend.estimate(provider, summary)
    try:
        with transaction.atomic():
            if check_limits or team_budget:
                get_user_model().objects.select_for_update().only("pk").get(pk=user.pk)
                if check_limits:
                    refusal = submission_refusal(user, cost, idempotency_key)
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
                estimated_cents=cost,
            )
            generation.log(EventKind.CREATED, data=generation.request)
            enqueue_submit(generation)
    except IntegrityError:
        # Two requests with one key raced; the other one won.
        return Generation.objects.get(idempotency_key=idempotency_key), False
    return generation, True
