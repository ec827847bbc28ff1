"""Objects tests need, made one way: import from here, never from another test module."""

import io
import time
import uuid
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import av
from django.conf import settings
from django.contrib.auth.models import User
from django.urls import URLPattern, URLResolver
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from PIL import Image

from generations import providers
from generations.models import ArchiveState, Generation, Output, State
from generations.providers.agents import schema
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


def _rq_queues() -> list[Any]:
    import django_rq  # installed as an app only with the RQ backend

    return [django_rq.get_queue(name) for name in settings.TASK_QUEUES]


def nothing_queued() -> bool:
    """No task waits to run now, on the backend this run uses (the database, or RQ)."""
    if settings.TASKS_BACKEND == "rq":
        return all(int(queue.count) == 0 for queue in _rq_queues())
    return not DBTaskResult.objects.ready().exists()


def drop_queued_tasks() -> None:
    """What a dead worker loses: every queued and deferred task, on either backend."""
    if settings.TASKS_BACKEND == "rq":
        _rq_queues()[0].connection.flushdb()
    else:
        DBTaskResult.objects.all().delete()


def png(color: str = "teal", size: tuple[int, int] = (80, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def png_mov(frame: bytes, size: tuple[int, int]) -> bytes:
    """A one-frame MOV of the PNG codec whose header says `size` whatever `frame` (a PNG, or
    any bytes) is: an attacker's header may lie, and a test's need not be decoded to be made."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mov") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = *size, "rgb24"
        packet = av.Packet(frame)
        packet.stream, packet.pts, packet.dts, packet.duration = stream, 0, 0, 1
        out.mux(packet)
    return buffer.getvalue()


def all_url_patterns(resolver: URLResolver, prefix: str = "") -> list[str]:
    found = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += all_url_patterns(pattern, route)
        elif isinstance(pattern, URLPattern):
            found.append(route)
    return found


def concrete(route: str) -> str:
    """A URL for a route, with made-up values for its parameters."""
    path = route.replace("^", "").replace("$", "").replace("\\Z", "")
    for converter in ("<uuid:uuid>", "<uuid:generation_id>", "<uuid:file_id>", "<uuid:output_id>"):
        path = path.replace(converter, str(uuid.uuid4()))
    path = path.replace("<int:index>", "0").replace("<path:name>", "outputs/x.png")
    return "/" + path.replace("<str:filename>", "x.png").replace("<path:object_id>", "1")


_clock = count()
START = timezone.make_aware(datetime(2026, 3, 1, 12, 0))


def make(
    user: User,
    prompt: str = "a watched pot",
    *,
    state: str = State.COMPLETED,
    kind: str = "image",
    model: str = "uni-1",
    aspect_ratio: str = "1:1",
    created_at: datetime | None = None,
    outputs: int = 1,
    **fields: object,
) -> Generation:
    """A job as the gallery sees it; completed ones have fresh (not yet archived) outputs."""
    generation = Generation.objects.create(
        created_by=user,
        kind=kind,
        model=model,
        prompt=prompt,
        aspect_ratio=aspect_ratio,
        request={"prompt": prompt, "type": kind, "model": model, "aspect_ratio": aspect_ratio},
        state=state,
        created_at=created_at or START + timedelta(minutes=next(_clock)),
        **fields,
    )
    if state == State.COMPLETED:
        for index in range(outputs):
            generation.outputs.create(
                index=index,
                kind="video" if kind.startswith("video") else "image",
                url=f"https://cdn.test/{generation.uuid}/{index}.png?sig=1",
                url_expires_at=timezone.now() + timedelta(hours=1),
                layer={"index": index, "label": f"layer {index}"} if outputs > 1 else None,
            )
    return generation


def completed(user, prompt: str = "a lighthouse at dusk", **fields: object) -> Generation:
    """A job Luma finished, recorded as our poller records it, before any archiving ran."""
    request = schema.GenerationRequest(prompt=prompt, **fields)
    agents = providers.get("agents")
    with agents.client() as client:
        created = client.create_generation(request).data
    reply = agents.poll(created.id)
    # Until it is done, within a generous deadline: a count of polls ran out first on a fast
    # machine (500 polls in less time than the simulated job takes).
    deadline = time.monotonic() + 120
    while reply.state != "completed" and time.monotonic() < deadline:
        reply = agents.poll(created.id)
    assert reply.state == "completed", reply
    generation = Generation.objects.create(
        created_by=user,
        kind=request.type,
        model=request.model,
        prompt=prompt,
        aspect_ratio=request.aspect_ratio or "",
        request=request.to_wire(),
        upstream_id=reply.id,
        state=State.COMPLETED,
        finished_at=timezone.now(),
    )
    generation.store_outputs(reply)
    return generation
