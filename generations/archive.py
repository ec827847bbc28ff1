"""Outputs outlive the upstream: every output is copied into our storage when its job completes.

Luma's output URLs die an hour after they are issued and the API cannot list past jobs, so a
completed job's outputs are downloaded (streamed to a temporary file, size- and time-capped,
sha256 recorded), stored with their thumbnails, and from then on served by us. Until that has
happened, pages show the presigned URL — but never one about to die: a URL within
LUMAWEB_URL_SAFETY_MARGIN of its expiry is refreshed from upstream first, one refresh per job at
a time. An output that could not be archived is left in an alert state (`ArchiveState.FAILED`).
"""

import hashlib
import logging
import mimetypes
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone

from generations import providers, renditions
from generations.models import ArchiveState, EventKind, Generation, Output, State
from generations.providers import errors
from generations.providers.http import USER_AGENT

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024
REFRESH_LEASE = 60.0  # seconds a URL refresh may take before another viewer may start one
# Statuses of a presigned GET that mean "this link is no good": get a fresh one and try again.
DEAD_LINK = {401, 403, 404, 410}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "video/mp4": "mp4"}


class ArchiveError(Exception):
    """A download that may work later (network, 5xx, a link that died under us)."""


class ArchiveRefused(ArchiveError):
    """A download that never will (too large, not a URL, the upstream forgot the job)."""


class DeadLink(ArchiveError):
    pass


@dataclass(frozen=True)
class Download:
    path: Path
    sha256: str
    size: int
    mime_type: str


# --- what the worker runs (generations/tasks.py enqueues it) ---


def unarchived_due(now: datetime) -> list[str]:
    """Claim outputs nobody is archiving (after a crash); return their jobs' ids, once each."""
    stale = now - timedelta(seconds=settings.LUMAWEB_SWEEP_GRACE)
    overdue = Output.objects.filter(
        Q(archive_next_at__isnull=True, generation__finished_at__lt=stale)
        | Q(archive_next_at__lt=stale),
        archive_state=ArchiveState.PENDING,
        generation__state=State.COMPLETED,
    ).select_related("generation")
    due: dict[str, None] = {}
    for output in overdue[:500]:
        # Moving archive_next_at to now keeps the next sweep off it.
        moved = Output.objects.filter(pk=output.pk, archive_next_at=output.archive_next_at)
        if moved.update(archive_next_at=now):
            due[str(output.generation.uuid)] = None
    # "Not archived" outputs due for their slow retry go back to the queue, one claim each.
    for output in Output.objects.filter(
        archive_state=ArchiveState.FAILED, archive_next_at__lte=now
    ).select_related("generation")[:500]:
        moved = Output.objects.filter(
            pk=output.pk, archive_state=ArchiveState.FAILED, archive_next_at=output.archive_next_at
        ).update(archive_state=ArchiveState.PENDING, archive_next_at=None)
        if moved:
            due[str(output.generation.uuid)] = None
    return list(due)


def archive_pending(generation: Generation) -> float | None:
    """Archive a completed job's unarchived outputs (safe to run twice); return the delay before
    another try when some could not be archived yet."""
    lease = settings.LUMAWEB_ARCHIVE_TIMEOUT + 60
    retry_in: float | None = None
    for output in generation.outputs.filter(archive_state=ArchiveState.PENDING):
        if not output.claim_archive(lease):
            continue
        delay = archive_output(generation, output)
        if delay is not None:
            retry_in = delay if retry_in is None else min(retry_in, delay)
    return retry_in


def archive_output(generation: Generation, output: Output) -> float | None:
    """Archive one claimed output; return the delay before a retry, or None when done."""
    try:
        with tempfile.TemporaryDirectory(prefix="lumaweb-archive-") as workdir:
            download = _download(generation, output, Path(workdir))
            names = _store(generation, output, download, Path(workdir))
    except ArchiveRefused as exc:
        _give_up(generation, output, str(exc))
        return None
    except ArchiveError as exc:
        if output.archive_attempts >= settings.LUMAWEB_ARCHIVE_MAX_ATTEMPTS:
            # Not for good: an outage outlasts the fast tries; the sweep tries again slowly.
            later = timezone.now() + timedelta(seconds=settings.LUMAWEB_ARCHIVE_SLOW_RETRY)
            _give_up(generation, output, str(exc), retry_at=later)
            return None
        delay = float(settings.LUMAWEB_ARCHIVE_RETRY_DELAY * 2 ** (output.archive_attempts - 1))
        logger.info("archiving %s failed (%s); retrying in %.0f s", output, exc, delay)
        Output.objects.filter(pk=output.pk, archive_state=ArchiveState.PENDING).update(
            archive_next_at=timezone.now() + timedelta(seconds=delay), archive_error=str(exc)
        )
        return delay
    done = Output.objects.filter(pk=output.pk, archive_state=ArchiveState.PENDING).update(
        archive_state=ArchiveState.ARCHIVED,
        archived_at=timezone.now(),
        archive_next_at=None,
        archive_error="",
        **names,
    )
    if not done:  # deleted meanwhile: keep no orphan files
        delete_files(list(names.values()))
    return None


def _give_up(
    generation: Generation, output: Output, reason: str, retry_at: datetime | None = None
) -> None:
    """The alert state: this output could not be archived (its URL dies, or died); when the
    failure may pass, `retry_at` is when the sweep tries once more."""
    logger.warning("could not archive %s: %s", output, reason)
    Output.objects.filter(pk=output.pk, archive_state=ArchiveState.PENDING).update(
        archive_state=ArchiveState.FAILED, archive_error=reason, archive_next_at=retry_at
    )
    generation.log(EventKind.ARCHIVE_FAILED, data={"output": output.index, "reason": reason})


def _download(generation: Generation, output: Output, workdir: Path) -> Download:
    if output.url_expires_at <= timezone.now():
        output = _fresh(generation, output)
    try:
        return _fetch(output.url, workdir / "original")
    except DeadLink:
        return _fetch(_fresh(generation, output).url, workdir / "original")


def _fresh(generation: Generation, output: Output) -> Output:
    try:
        refresh_urls(generation)
    except errors.NotFound as exc:
        raise ArchiveRefused(
            f"{generation.provider_label} no longer knows this job, so its output is gone."
        ) from exc
    except errors.LumaError as exc:
        raise ArchiveError(f"Could not get a fresh link: {exc.detail}") from exc
    output.refresh_from_db()
    return output


def _fetch(url: str, path: Path) -> Download:
    """Stream a presigned URL to `path`: no API key, capped in size and time."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ArchiveRefused("The output URL is not an http(s) URL.")
    limit = settings.LUMAWEB_ARCHIVE_MAX_BYTES
    deadline = time.monotonic() + settings.LUMAWEB_ARCHIVE_TIMEOUT
    timeout = httpx.Timeout(
        settings.LUMAWEB_ARCHIVE_READ_TIMEOUT, connect=settings.LUMA_CONNECT_TIMEOUT
    )
    digest = hashlib.sha256()
    size = 0
    try:
        with (
            providers.http_client(
                timeout=timeout,
                follow_redirects=True,
                # The object's own bytes, whose length Content-Length states: no compression.
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            ) as http,
            http.stream("GET", url) as response,
            path.open("wb") as handle,
        ):
            _check_status(response)
            declared = int(response.headers.get("Content-Length") or 0)
            # A store that compresses anyway states the compressed length; httpx decodes.
            encoded = response.headers.get("Content-Encoding", "identity") != "identity"
            if declared > limit:
                raise ArchiveRefused(f"The output is {declared} bytes; the limit is {limit}.")
            for chunk in response.iter_bytes(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ArchiveRefused(f"The output is over the {limit} byte limit.")
                if time.monotonic() > deadline:
                    raise ArchiveError("The download took too long.")
                digest.update(chunk)
                handle.write(chunk)
            mime_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    except httpx.HTTPError as exc:
        raise ArchiveError(f"The download failed: {type(exc).__name__}") from exc
    if declared and not encoded and size != declared:
        raise ArchiveError(f"The download stopped after {size} of {declared} bytes.")
    if not mime_type or mime_type == "application/octet-stream":
        mime_type = mimetypes.guess_type(urlsplit(url).path)[0] or "application/octet-stream"
    if not mime_type.startswith(("image/", "video/", "application/octet-stream")):
        raise ArchiveError(f"The storage sent {mime_type}, not media.")
    return Download(path, digest.hexdigest(), size, mime_type)


def _check_status(response: httpx.Response) -> None:
    status = response.status_code
    if status == 200:
        return
    if status in DEAD_LINK:
        raise DeadLink(f"The link answered {status}.")
    if status == 429 or status >= 500:
        raise ArchiveError(f"The storage answered {status}.")
    raise ArchiveRefused(f"The storage answered {status}.")


def _store(
    generation: Generation, output: Output, download: Download, workdir: Path
) -> dict[str, object]:
    """Save the original and its renditions; return the Output fields that record them."""
    base = f"outputs/{generation.uuid}/{output.index}"
    extension = EXTENSIONS.get(download.mime_type) or mimetypes.guess_extension(download.mime_type)
    is_video = download.mime_type.startswith("video/") or output.is_video
    try:
        made = renditions.make(download.path, is_video=is_video, workdir=workdir)
    except Exception:  # odd media must not cost us the original
        logger.exception("could not make thumbnails for %s", output)
        made = renditions.Renditions()
    fields: dict[str, object] = {
        "mime_type": download.mime_type,
        "size_bytes": download.size,
        "sha256": download.sha256,
        "width": made.width,
        "height": made.height,
        "duration": made.duration,
    }
    saved: list[str] = []
    try:
        fields["file"] = _save(f"{base}.{(extension or '.bin').lstrip('.')}", download.path)
        saved.append(str(fields["file"]))
        for name, path in made.files.items():
            fields[name] = _save(f"{base}-{path.name}", path)
            saved.append(str(fields[name]))
    except OSError as exc:
        delete_files(saved)
        raise ArchiveError(f"Could not write to storage: {exc}") from exc
    return fields


def _save(name: str, path: Path) -> str:
    with path.open("rb") as handle:
        return default_storage.save(name, File(handle))


def archive_again(generation: Generation) -> int:
    """Make a completed job's "Not archived" outputs due for archiving afresh (after "Refresh
    from upstream" brought new links; tasks.py enqueues it); returns how many."""
    if generation.state != State.COMPLETED:
        return 0
    return Output.objects.filter(generation=generation, archive_state=ArchiveState.FAILED).update(
        archive_state=ArchiveState.PENDING, archive_attempts=0, archive_next_at=None
    )


def rebuild_renditions(output: Output) -> None:
    """Make an archived output's thumbnails again (new sizes, a fixed bug)."""
    with tempfile.TemporaryDirectory(prefix="lumaweb-thumbs-") as workdir:
        original = Path(workdir) / "original"
        with default_storage.open(output.file.name, "rb") as source, original.open("wb") as copy:
            _copy(source, copy)
        made = renditions.make(original, is_video=output.is_video, workdir=Path(workdir))
        base = output.file.name.rsplit(".", 1)[0]
        old = [getattr(output, name).name for name in made.files]
        fields = {name: _save(f"{base}-{path.name}", path) for name, path in made.files.items()}
    Output.objects.filter(pk=output.pk).update(
        width=made.width, height=made.height, duration=made.duration, **fields
    )
    delete_files([name for name in old if name and name not in fields.values()])


def _copy(source: IO[bytes], target: IO[bytes]) -> None:
    for chunk in iter(lambda: source.read(CHUNK), b""):
        target.write(chunk)


def delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete %s from storage", name)


# --- fresh presigned URLs until then ---


def refresh_urls(generation: Generation) -> None:
    """Ask upstream for the job again: its reply carries newly signed output URLs."""
    reply = providers.get(generation.provider).poll(str(generation.upstream_id))
    if reply.state == "completed":
        generation.store_outputs(reply)


def claim_url_refresh(generation: Generation) -> bool:
    """Claim the one refresh of a job's output URLs, however many people are looking at it."""
    now = timezone.now()
    return bool(
        Generation.objects.filter(
            Q(url_refresh_claimed_at__isnull=True)
            | Q(url_refresh_claimed_at__lt=now - timedelta(seconds=REFRESH_LEASE)),
            pk=generation.pk,
        ).update(url_refresh_claimed_at=now)
    )


def refresh_claimed_urls(generation: Generation) -> None:
    """Do a claimed refresh; on failure the claim lapses after REFRESH_LEASE and the next viewer
    starts another try."""
    try:
        refresh_urls(generation)
    except errors.LumaError as exc:
        logger.warning("could not refresh the URLs of %s: %s", generation.uuid, exc)
        return
    Generation.objects.filter(pk=generation.pk).update(url_refresh_claimed_at=None)
