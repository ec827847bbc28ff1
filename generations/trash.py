"""The trash: deleting a piece puts it here, where its owner and staff can restore it for
LUMAWEB_TRASH_DAYS; then `purge_trash` (the worker's sweep, or `manage.py purge_trash`) removes
it and its files, except an upload another job still uses (a retry or remix refers to the
same upstream file), which is kept with no job.

`move_to_trash` is the one way in, for the gallery's delete and any multi-select.
"""

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import formats, timezone

from generations import spend
from generations.archive import delete_files
from generations.models import (
    ACTIVE_STATES,
    OUTPUT_FILES,
    EventKind,
    Generation,
    GenerationQuerySet,
    Input,
    Output,
)
from generations.uploads import PENDING_HOURS

# The tag of the message that says a piece was moved here, whose Undo restores it (base.html).
UNDO_TAG = "undo:"


@dataclass(frozen=True)
class Undo:
    uuid: str  # the piece to restore
    next: str  # where to go then (its page, as it was opened: a path of this site)


def undo_tag(generation: Generation, back: str) -> str:
    """A message's tag for an Undo of this move to the Trash, then back to `back` (a path
    without spaces, as a URL's is)."""
    return f"{UNDO_TAG}{generation.uuid}{back}"


def undo_of(tags: str | None) -> Undo | None:
    """The Undo a message's tags hold (undo_tag), if any."""
    for tag in (tags or "").split():
        if tag.startswith(UNDO_TAG):
            target = tag.removeprefix(UNDO_TAG)
            return Undo(target[:36], target[36:])
    return None


def can_delete(user: Any, generation: Generation) -> bool:
    """Its owner or staff may put a piece in the trash, and take it out again."""
    return bool(user.is_staff or generation.created_by_id == user.pk)


def in_trash(user: Any) -> GenerationQuerySet:
    """What this person can restore: their own pieces, or everyone's for staff."""
    trashed = Generation.objects.filter(deleted_at__isnull=False)
    if not user.is_staff:
        trashed = trashed.filter(created_by=user)
    return trashed


def out_of_reach(user: Any) -> GenerationQuerySet:
    """Trashed pieces this person may not restore: for them, as if already gone."""
    if user.is_staff:
        return Generation.objects.none()
    return Generation.objects.filter(deleted_at__isnull=False).exclude(created_by=user)


def not_yet_purgeable(generation: Generation) -> str:
    """Why a trashed piece cannot be deleted forever at once (a person's "Delete forever"), or
    "". Budgets and limits count the jobs' rows: one of this month still counts, and one still
    running is still being made (and charged) upstream."""
    if generation.state in ACTIVE_STATES:
        return "It is still being made: it can be deleted forever once it has finished or failed."
    if generation.created_at >= spend.month_start():
        renews = formats.date_format(spend.next_month_start(), "j F")
        return (
            "It counts toward this month's budgets and limits, so it stays until they renew "
            f"({renews}); then Delete forever removes it at once."
        )
    return ""


def sort_for_emptying(user: Any, before: datetime) -> tuple[list[Generation], Counter[str]]:
    """Emptying this person's Trash (staff: everyone's) of what was in it at `before`: the
    pieces that may be deleted forever now, and why the others stay (`not_yet_purgeable`'s
    words, with how many each)."""
    going, staying = [], Counter[str]()
    trashed = in_trash(user).filter(deleted_at__lte=before).order_by("deleted_at", "id")
    for generation in trashed.iterator():
        if reason := not_yet_purgeable(generation):
            staying[reason] += 1
        else:
            going.append(generation)
    return going, staying


def purge_after(generation: Generation) -> datetime:
    assert generation.deleted_at is not None
    return generation.deleted_at + timedelta(days=settings.LUMAWEB_TRASH_DAYS)


def refuse_unless_deletable(user: Any, pieces: Iterable[Generation]) -> None:
    """PermissionDenied, in plain words, unless this person may delete every one of these."""
    if not all(can_delete(user, piece) for piece in pieces):
        raise PermissionDenied("Only its owner or staff can delete this.")


def move_to_trash(user: Any, generations: Iterable[Generation]) -> int:
    """Put these pieces in the trash, all or none: PermissionDenied if any is not this
    person's to delete. Returns how many went in (one already there counts once)."""
    pieces = list(generations)
    refuse_unless_deletable(user, pieces)
    now = timezone.now()
    moved = 0
    with transaction.atomic():
        for piece in pieces:
            if Generation.objects.filter(pk=piece.pk, deleted_at__isnull=True).update(
                deleted_at=now, deleted_by=user
            ):
                piece.deleted_at, piece.deleted_by = now, user
                piece.log(EventKind.TRASHED, data={"by": user.get_username()})
                moved += 1
    return moved


def restore(user: Any, generation: Generation) -> bool:
    """Take a piece out of the trash; False when it was not there."""
    if not can_delete(user, generation):
        raise PermissionDenied("Only its owner or staff can restore this.")
    restored = Generation.objects.filter(pk=generation.pk, deleted_at__isnull=False).update(
        deleted_at=None, deleted_by=None
    )
    if restored:
        generation.refresh_from_db()
        generation.log(EventKind.RESTORED, data={"by": user.get_username()})
    return restored == 1


def purge_trash(now: datetime | None = None) -> int:
    """Remove what has been in the trash longer than LUMAWEB_TRASH_DAYS; how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.LUMAWEB_TRASH_DAYS)
    due = Generation.objects.filter(deleted_at__lt=cutoff)
    return sum(purge(generation) for generation in due)


def purge_pending_uploads(now: datetime | None = None) -> int:
    """Delete refused forms' uploads (no job) older than uploads.PENDING_HOURS that no job's
    request names; how many went."""
    cutoff = (now or timezone.now()) - timedelta(hours=PENDING_HOURS)
    return _drop_pending(Input.objects.filter(generation__isnull=True, created_at__lt=cutoff))


def bound_pending_uploads(user: Any, shown: Iterable[Input]) -> int:
    """Keep one person's refused forms' uploads within LUMAWEB_KEPT_UPLOADS_MB (the disk a
    person can fill with forms no job sent): past it, their oldest go, never those `shown` as
    kept by the form just refused; how many went."""
    room = settings.LUMAWEB_KEPT_UPLOADS_MB * 2**20
    mine = {item.pk for item in shown}
    pending = Input.objects.filter(generation__isnull=True, uploaded_by=user)
    over, total = [], 0
    for item in pending.order_by("-created_at", "-id"):
        total += item.size_bytes
        if total > room and item.pk not in mine:
            over.append(item)
    return _drop_pending(over)


def _drop_pending(items: Iterable[Input]) -> int:
    """Delete these uploads of no job, but those a job's request names."""
    names = []
    for item in items:
        if not _used_elsewhere(item, None):
            names.append(item.file.name)
            item.delete()
    delete_files(names)
    return len(names)


def purge(generation: Generation, trashed_by: datetime | None = None) -> bool:
    """Remove one trashed piece for good: its row, outputs, events, and the files nobody else
    uses. Its uploads that another job refers to stay, detached from it. With `trashed_by`,
    only if it went to the Trash by then (not restored and trashed again since)."""
    names = [name for output in Output.objects.filter(generation=generation)
             for name in output.stored_files]  # fmt: skip
    shared = _shown_elsewhere(names, generation)
    names = [name for name in names if name not in shared]
    uploads = _uploads_of(generation)
    trashed = Generation.objects.filter(pk=generation.pk, deleted_at__isnull=False)
    if trashed_by is not None:
        trashed = trashed.filter(deleted_at__lte=trashed_by)
    with transaction.atomic():
        # Its uploads' rows lose their job here (Input.generation: SET_NULL).
        if not trashed.delete()[0]:
            return False  # restored (or purged, or trashed again) meanwhile
        for item in uploads:
            if not _used_elsewhere(item, generation):
                names.append(item.file.name)
                item.delete()
        transaction.on_commit(lambda: delete_files(names))
    return True


def _shown_elsewhere(names: list[str], generation: Generation) -> set[str]:
    """Which of these files another job's outputs show too (a seeded studio's share theirs)."""
    used = Q()
    for field in OUTPUT_FILES:
        used |= Q(**{f"{field}__in": names})
    others = Output.objects.exclude(generation=generation).filter(used).values_list(*OUTPUT_FILES)
    return {name for row in others for name in row if name in names}


def _uploads_of(generation: Generation) -> list[Input]:
    """Its own uploads, and kept ones (of a purged job) that its stored request names, in any
    provider's wire format (by upstream file id)."""
    text = json.dumps(generation.request)
    kept = Input.objects.filter(generation__isnull=True).exclude(file_id="")
    return [
        *Input.objects.filter(generation=generation),
        *(item for item in kept if item.file_id in text),
    ]


def _used_elsewhere(item: Input, generation: Generation | None) -> bool:
    """Whether another job's stored request names this upload (by upstream id or placeholder)."""
    others = Generation.objects.exclude(pk=generation.pk if generation else None).annotate(
        text=Cast("request", TextField())
    )
    names = Q(text__contains=item.placeholder)
    if item.file_id:
        names |= Q(text__contains=item.file_id)
    return others.filter(names).exists()
