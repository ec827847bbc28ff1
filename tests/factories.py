"""Objects tests need, made one way: import from here, never from another test module."""

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from generations.models import ArchiveState, Generation, Output, State
from generations.simulators.api import owner_of
from generations.simulators.models import SimFault


def sim_fault(kind: str, *, token: str | None = None, **fields: Any) -> SimFault:
    """Queue a fault in the simulators for the calls made with `token` (default: the app's own)."""
    token = token or settings.LUMA_PROVIDERS["agents"]["api_key"]
    return SimFault.objects.create(owner=owner_of(token), kind=kind, **fields)


def piece(user: Any, prompt: str = "a quiet harbour", **fields: Any) -> Generation:
    """A finished job, without outputs unless `archived_file` adds them."""
    values = {
        "created_by": user,
        "kind": "image",
        "model": "uni-1",
        "prompt": prompt,
        "aspect_ratio": "1:1",
        "request": {"prompt": prompt, "type": "image", "model": "uni-1", "aspect_ratio": "1:1"},
        "state": State.COMPLETED,
        **fields,
    }
    return Generation.objects.create(**values)


def archived_file(
    generation: Generation, content: bytes = b"", *, size: int = 0, extension: str = "png"
) -> Output:
    """An archived output of `generation` whose file holds `content`, or `size` bytes of a sparse
    file (no disk used) when `size` is given."""
    index = generation.outputs.count()
    name = f"outputs/{generation.uuid}/{index}.{extension}"
    path = Path(settings.MEDIA_ROOT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(content)
        if size:
            handle.truncate(size)
    return generation.outputs.create(
        index=index,
        kind="video" if extension == "mp4" else "image",
        url=f"https://cdn.test/{generation.uuid}/{index}.{extension}",
        url_expires_at=timezone.now() + timedelta(hours=1),
        archive_state=ArchiveState.ARCHIVED,
        file=name,
        size_bytes=size or len(content),
    )
