"""What the simulated Luma does: plan jobs, resolve references, render outputs, sign URLs.

Timings: each type has a base queue and processing time (seconds at `LUMA_SIM_SPEED=1`),
divided by the speed setting, so tests finish in milliseconds and a demo feels real.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from generations.luma import schema, sim_media

from .models import SimFile, SimGeneration, SimOutput

# (queued, processing) seconds at speed 1: images ~15 s, videos ~45 s, like a quick real day.
BASE_TIMINGS: dict[str, tuple[float, float]] = {
    "image": (2, 12),
    "image_edit": (2, 12),
    "layering": (2, 16),
    "video": (4, 40),
    "video_edit": (4, 40),
    "video_reframe": (4, 30),
}
FAIL_DIRECTIVE = re.compile(r"\[fail:([a-z_]+)\]")
STUCK_DIRECTIVE = "[stuck]"
FAILURE_REASONS = {
    "content_moderated": "The prompt or an input was flagged by content moderation.",
    "generation_failed": "The model failed to produce an output. Trying again usually works.",
    "budget_exhausted": "The account's generation budget is exhausted.",
    "output_not_found": "The output could not be found after generation. Try again.",
    "image_too_large": "An input image exceeds the maximum supported size.",
    "unsupported_format": "An input uses a media format the model cannot read.",
    "corrupt_input": "An input file is corrupt or truncated.",
    "invalid_request": "The request was accepted but could not be executed as given.",
    "rate_limited": "Too many concurrent generations; the job was dropped. Retry after a wait.",
}
# Aspect ratios ray-3.2 renders; the image models take all twelve (inferred, see docs).
VIDEO_ASPECT_RATIOS = ("21:9", "16:9", "4:3", "1:1", "3:4", "9:16")


class Refusal(Exception):
    """A request the simulated API refuses with an HTTP status and a `detail`."""

    def __init__(self, status: int, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


def owner_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def media_dir() -> Path:
    path = Path(settings.LUMA_SIM_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- signed URLs, like an object store's presigned ones ---


def _signature(path: str, expires: int) -> str:
    key = hashlib.sha256(("luma-sim-url:" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(request_base: str, path: str, ttl: float | None = None) -> str:
    expires = int(time.time() + (settings.LUMA_SIM_URL_TTL if ttl is None else ttl))
    query = urlencode({"expires": expires, "signature": _signature(path, expires)})
    return f"{request_base}{path}?{query}"


def check_signature(path: str, expires: str, signature: str) -> None:
    try:
        when = int(expires)
    except ValueError:
        raise Refusal(403, "The URL signature is missing or malformed.") from None
    if not hmac.compare_digest(_signature(path, when), signature):
        raise Refusal(403, "The URL signature does not match.")
    if when < time.time():
        raise Refusal(403, "Request has expired.")


# --- creating a job ---


@dataclass
class Inputs:
    """The media a job's references resolve to, as bytes (None when only a URL was given)."""

    source: bytes | None = None
    source_is_video: bool = False
    source_seconds: float | None = None
    references: tuple[bytes, ...] = ()
    keyframes: tuple[tuple[int, bytes], ...] = ()


def create_generation(owner: str, request: schema.GenerationRequest) -> SimGeneration:
    """Check what the schema cannot (references, ownership, kinds) and plan the job."""
    inputs = resolve_inputs(owner, request)
    ratio = request.aspect_ratio
    if request.type in schema.VIDEO_TYPES and ratio and ratio not in VIDEO_ASPECT_RATIOS:
        raise Refusal(
            422,
            f"aspect_ratio {ratio} is not available on ray-3.2; use one of "
            + ", ".join(VIDEO_ASPECT_RATIOS)
            + ".",
        )
    if (
        request.type == "video_reframe"
        and request.video
        and request.video.resolution == "1080p"
        and not settings.LUMA_SIM_REFRAME_1080P
    ):
        raise Refusal(422, "1080p for video_reframe is coming soon for this account.")
    queued, processing = BASE_TIMINGS[request.type]
    speed = max(settings.LUMA_SIM_SPEED, 1e-6)
    outcome, code, reason = "completed", "", ""
    if match := FAIL_DIRECTIVE.search(request.prompt):
        code = match.group(1)
        outcome = "failed"
        reason = FAILURE_REASONS.get(code, "The generation failed.")
    elif STUCK_DIRECTIVE in request.prompt:
        outcome = "stuck"
    return SimGeneration.objects.create(
        owner=owner,
        type=request.type,
        model=request.model,
        request=request.to_wire(),
        queued_seconds=queued / speed,
        processing_seconds=processing / speed,
        outcome=outcome,
        failure_code=code,
        failure_reason=reason,
        video_seconds=_output_seconds(request, inputs),
    )


def _output_seconds(request: schema.GenerationRequest, inputs: Inputs) -> float | None:
    if request.type == "video":
        duration = (request.video.duration if request.video else None) or "5s"
        return float(duration.rstrip("s"))
    if request.type in ("video_edit", "video_reframe"):
        return inputs.source_seconds or 5.0
    return None


def resolve_inputs(owner: str, request: schema.GenerationRequest) -> Inputs:
    """Load every referenced input, refusing unknown, foreign or unsuitable ones."""
    inputs = Inputs()
    if request.source is not None:
        wants_video = request.type in ("video_edit", "video_reframe")
        data, is_video, seconds = _load_ref(owner, request.source, "source", want_video=wants_video)
        inputs.source, inputs.source_is_video, inputs.source_seconds = data, is_video, seconds
        if wants_video and data is not None and not is_video:
            raise Refusal(422, f"source must be a video for {request.type}.")
        if not wants_video and is_video:
            raise Refusal(422, f"source must be an image for {request.type}.")
        limit = schema.MAX_EDIT_SOURCE_SECONDS
        if request.type == "video_edit" and seconds is not None and seconds > limit:
            raise Refusal(
                422,
                f"The source video is {seconds:.1f} s long; video edits take {limit} s at most.",
            )
    refs = [
        _load_ref(owner, ref, f"image_ref[{i}]", want_video=False)[0]
        for i, ref in enumerate(request.image_ref or [])
    ]
    inputs.references = tuple(r for r in refs if r is not None)
    video = request.video
    if video is not None:
        frames: list[tuple[int, bytes]] = []
        for name, frame_ref, index in (
            ("video.start_frame", video.start_frame, 0),
            ("video.end_frame", video.end_frame, None),
        ):
            if frame_ref is not None:
                data = _load_frame(owner, frame_ref, name, last=index == 0)
                if data is not None:
                    frames.append((index if index is not None else -1, data))
        for i, (ref, index) in enumerate(
            zip(video.keyframes or [], video.keyframe_indexes or [], strict=False)
        ):
            data = _load_frame(owner, ref, f"video.keyframes[{i}]", last=False)
            if data is not None:
                frames.append((index, data))
        if video.edit is not None:
            for i, ref in enumerate(video.edit.keyframes or []):
                _load_ref(owner, ref, f"video.edit.keyframes[{i}]", want_video=False)
        inputs.keyframes = tuple(frames)
    return inputs


def _load_frame(owner: str, ref: schema.ImageRef, where: str, *, last: bool) -> bytes | None:
    """An image for a frame position; a prior video stands in through its last frame."""
    data, is_video, _ = _load_ref(owner, ref, where, want_video=None)
    if data is not None and is_video:
        return sim_media.frame_png(data, -1 if last else 0)
    return data


def _load_ref(
    owner: str, ref: schema.ImageRef, where: str, *, want_video: bool | None
) -> tuple[bytes | None, bool, float | None]:
    """Bytes, whether they are a video, and its length; None bytes for a plain URL."""
    if ref.generation_id is not None:
        return _load_generation_ref(owner, ref.generation_id, where, want_video=want_video)
    if ref.file_id is not None:
        return _load_file_ref(owner, ref.file_id, where)
    if ref.data is not None:
        raw = base64.b64decode(ref.data)
        is_video = (ref.media_type or "").startswith("video/")
        try:
            if is_video:
                return raw, True, sim_media.probe_video(raw).duration
            sim_media.probe_image(raw, max_pixels=settings.LUMA_SIM_MAX_PIXELS)
        except sim_media.MediaError as exc:
            raise Refusal(422, f"{where}: {exc}") from None
        return raw, False, None
    # A URL: the simulator has no network, so it trusts the declared type and renders without it.
    return None, (ref.media_type or "").startswith("video/"), None


def _load_generation_ref(
    owner: str, generation_id: str, where: str, *, want_video: bool | None
) -> tuple[bytes, bool, float | None]:
    gen = SimGeneration.objects.filter(pk=generation_id, owner=owner).first()
    if gen is None:
        raise Refusal(400, f"{where}.generation_id: no generation {generation_id} for this key.")
    if gen.state_at(timezone.now()) != "completed":
        raise Refusal(422, f"{where}.generation_id: generation {generation_id} is not completed.")
    is_video = gen.type in schema.VIDEO_TYPES
    if want_video is True and not is_video:
        raise Refusal(422, f"{where}.generation_id: {generation_id} is an image, not a video.")
    if want_video is False and is_video:
        raise Refusal(422, f"{where}.generation_id: {generation_id} is a video, not an image.")
    output = ensure_rendered(gen)[0]
    return (media_dir() / output.filename).read_bytes(), is_video, gen.video_seconds


def _load_file_ref(owner: str, file_id: str, where: str) -> tuple[bytes, bool, float | None]:
    try:
        file = SimFile.objects.filter(pk=uuid.UUID(file_id), owner=owner).first()
    except ValueError:
        file = None
    if file is None:
        raise Refusal(400, f"{where}.file_id: no file {file_id} for this key.")
    state = file.state_at(timezone.now())
    if state != "ready":
        raise Refusal(422, f"{where}.file_id: file {file_id} is {state}, not ready.")
    is_video = file.mime_type.startswith("video/")
    return file_path(file).read_bytes(), is_video, file.video_seconds


def file_path(file: SimFile) -> Path:
    return media_dir() / f"file-{file.id}"


# --- completing a job ---


def ensure_rendered(gen: SimGeneration) -> list[SimOutput]:
    """Render a completed job's outputs once; later calls find them on disk."""
    outputs = list(gen.outputs.all())
    if outputs:
        return outputs
    request = schema.GenerationRequest.model_validate(gen.request)
    inputs = resolve_inputs(gen.owner, request)
    rendered = render(gen, request, inputs)
    with transaction.atomic():
        for index, (kind, mime, ext, data, layer) in enumerate(rendered):
            filename = f"out-{gen.id}-{index}.{ext}"
            (media_dir() / filename).write_bytes(data)
            SimOutput.objects.get_or_create(
                generation=gen,
                index=index,
                defaults={
                    "kind": kind,
                    "mime_type": mime,
                    "filename": filename,
                    "layer": layer,
                },
            )
    return list(gen.outputs.all())


def render(
    gen: SimGeneration, request: schema.GenerationRequest, inputs: Inputs
) -> list[tuple[str, str, str, bytes, dict[str, Any] | None]]:
    """The output media for a job: (kind, mime type, extension, bytes, layer) each."""
    label = f"{gen.model} · {gen.type}"
    if gen.type in ("image", "image_edit"):
        fmt = request.output_format or "png"
        data = sim_media.render_image(
            request.prompt,
            aspect_ratio=request.aspect_ratio or "1:1",
            fmt=fmt,
            source=inputs.source,
            references=inputs.references,
            label=label,
        )
        ext = "jpg" if fmt == "jpeg" else "png"
        return [("image", f"image/{fmt}", ext, data, None)]
    if gen.type == "layering":
        if inputs.source is None:
            inputs.source = sim_media.render_image(request.prompt, label="layering source")
        resolution = request.layering.resolution if request.layering else "1k"
        layers = sim_media.render_layers(
            inputs.source, prompt=request.prompt, resolution=resolution or "1k"
        )
        return [("image", "image/png", "png", data, meta) for data, meta in layers]
    seconds = gen.video_seconds or 5.0
    keyframes = [
        (round(seconds * schema.FPS) - 1 if index < 0 else index, data)
        for index, data in inputs.keyframes
    ]
    video = sim_media.render_video(
        request.prompt,
        aspect_ratio=request.aspect_ratio or "16:9",
        seconds=seconds,
        keyframes=keyframes,
        source_video=inputs.source if inputs.source_is_video else None,
        label=label,
    )
    return [("video", "video/mp4", "mp4", video, None)]


def as_reply(gen: SimGeneration, base_url: str) -> dict[str, Any]:
    """The wire representation of a job at this moment, with freshly signed output URLs."""
    state = gen.state_at(timezone.now())
    reply: dict[str, Any] = {
        "id": str(gen.id),
        "created_at": gen.created_at.isoformat().replace("+00:00", "Z"),
        "model": gen.model,
        "type": gen.type,
        "state": state,
        "failure_code": gen.failure_code or None,
        "failure_reason": gen.failure_reason or None,
        "output": [],
    }
    if state == "completed":
        for output in ensure_rendered(gen):
            path = reverse("luma_sim:output", args=[output.id, output.filename])
            item: dict[str, Any] = {"type": output.kind, "url": signed_url(base_url, path)}
            if output.layer:
                item["layer"] = output.layer
            reply["output"].append(item)
    # Validate our own answer against the contract before it leaves.
    return schema.Generation.model_validate(reply).model_dump(mode="json", exclude_none=True)
