"""Starting a job: record it first, then hand it to the worker."""

import hashlib
import hmac
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from generations.luma import schema
from generations.models import EventKind, Generation
from generations.tasks import enqueue_submit


def upstream_user_id(user: Any) -> str:
    """A stable opaque id for Luma's abuse attribution: a keyed hash, never a name or email."""
    key = hashlib.sha256(("lumaweb-user-id:" + settings.SECRET_KEY).encode()).digest()
    return "u_" + hmac.new(key, str(user.pk).encode(), hashlib.sha256).hexdigest()[:32]


def start_generation(
    user: Any,
    request: schema.GenerationRequest,
    *,
    idempotency_key: str | None = None,
    parent: Generation | None = None,
    lineage: str = "",
    submit_after: datetime | None = None,
) -> tuple[Generation, bool]:
    """Record a job and enqueue its submission; a repeated idempotency key finds the first job.

    `submit_after` defers the submission (an automatic retry's backoff).
    """
    if idempotency_key:
        existing = Generation.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
    request = request.model_copy(update={"user_id": upstream_user_id(user)})
    try:
        with transaction.atomic():
            generation = Generation.objects.create(
                created_by=user,
                kind=request.type,
                model=request.model,
                prompt=request.prompt,
                aspect_ratio=request.aspect_ratio or "",
                request=request.to_wire(),
                idempotency_key=idempotency_key or None,
                parent=parent,
                lineage=lineage,
                submit_after=submit_after,
            )
            generation.log(EventKind.CREATED, data=generation.request)
            enqueue_submit(generation)
    except IntegrityError:
        # Two requests with one key raced; the other one won.
        return Generation.objects.get(idempotency_key=idempotency_key), False
    return generation, True
