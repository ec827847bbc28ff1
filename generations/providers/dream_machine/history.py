"""Bring a Dream Machine account's existing generations into the studio's history.

Pages through GET /generations and records every generation the studio does not know yet (by
its upstream id, which is unique) with its request, state and outputs; finished outputs are
archived while their URLs live. Running it again imports nothing new.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from generations import providers
from generations.models import EventKind, Generation, State

from . import schema
from .provider import KINDS, DreamMachineProvider, job_from

PAGE_SIZE = 100


@dataclass
class Imported:
    seen: int = 0
    imported: int = 0


def import_history(
    user: Any,
    recorded: Callable[[Generation], None],
    *,
    page_size: int = PAGE_SIZE,
    progress: Callable[[Imported], None] | None = None,
) -> Imported:
    """Import every generation of the account not in the history yet, for `user`; `recorded`
    is told of each new row once committed (the worker archives or polls it: tasks.py)."""
    provider = providers.get("dream_machine")
    assert isinstance(provider, DreamMachineProvider)
    counts = Imported()
    offset = 0
    with provider.client() as client:
        while True:
            page = client.list_generations(limit=page_size, offset=offset).data
            known = set(
                Generation.objects.filter(
                    upstream_id__in=[g.id for g in page.generations]
                ).values_list("upstream_id", flat=True)
            )
            for answer in page.generations:
                counts.seen += 1
                if answer.id not in known and (generation := _record(user, answer)):
                    counts.imported += 1
                    recorded(generation)
            if progress is not None:
                progress(counts)
            offset += len(page.generations)
            if not page.has_more or not page.generations:
                return counts


def _record(user: Any, answer: schema.Generation) -> Generation | None:
    """One generation as a history row; None when another run recorded it first."""
    job = job_from(answer)
    request = dict(answer.request or {})
    kind = str(request.get("generation_type") or answer.generation_type or "video")
    created = answer.created_at or timezone.now()
    try:
        with transaction.atomic():
            generation = Generation.objects.create(
                created_by=user,
                provider="dream_machine",
                kind=KINDS.get(kind, "video"),
                model=answer.model or str(request.get("model") or ""),
                prompt=str(request.get("prompt") or "") or kind.replace("_", " ").capitalize(),
                aspect_ratio=str(request.get("aspect_ratio") or ""),
                request=request,
                upstream_id=answer.id,
                upstream=job.raw,
                state=State(job.state),
                failure_code=job.failure_code,
                failure_reason=job.failure_reason,
                created_at=created,
                submitted_at=created,
                finished_at=timezone.now() if job.state in ("completed", "failed") else None,
                next_poll_at=timezone.now() if job.state in ("queued", "processing") else None,
            )
            generation.log(EventKind.CREATED, data={"imported": True, **request})
            if job.state == "completed":
                generation.store_outputs(job)
    except IntegrityError:
        return None
    return generation
