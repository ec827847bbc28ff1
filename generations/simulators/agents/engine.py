"""What the simulated Luma does: plan jobs, resolve references, render outputs, sign URLs.

Timings: each type has a base queue and processing time (seconds at `LUMA_SIM_SPEED=1`),
divided by the speed setting, so tests finish in milliseconds and a demo feels real.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from generations import media_probe
from generations.providers.agents import schema
from generations.simulators import media as sim_media
from generations.simulators.api import Refusal
from generations.simulators.clock import clock
from generations.simulators.models import SimFile, SimGeneration, SimOutput

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


def media_dir() -> Path:
    path = Path(settings.LUMA_SIM_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- signed URLs, like an object store's presigned ones ---


def _signature(path: str, expires: int) -> str:
    key = hashlib.sha256(("luma-sim-url:" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(request_base: str, path: str, ttl: float | None = None) -> str:
    expires = int(clock.time() + (settings.LUMA_SIM_URL_TTL if ttl is None else ttl))
    query = urlencode({"expires": expires, "signature": _signature(path, expires)})
    return f"{request_base}{path}?{query}"


def check_signature(path: str, expires: str, signature: str) -> None:
    try:
        when = int(expires)
    except ValueError:
        raise Refusal(403, "The URL signature is missing or malformed.") from None
    if not hmac.compare_digest(_signature(path, when), signature):
        raise Refusal(403, "The URL signature does not match.")
    if when < clock.time():
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


def resolve_inputs(
    owner: str, request: schema.GenerationRequest, *, accepted: bool = False
) -> Inputs:
    """Load every referenced input, refusing unknown, foreign or unsuitable ones.

    Once a job is `accepted` its inputs were checked, and a file deleted since stays usable.
    """
    load = _Loader(owner, accepted)
    inputs = Inputs()
    if request.source is not None:
        wants_video = request.type in ("video_edit", "video_reframe")
        inputs.source, inputs.source_is_video, inputs.source_seconds = load(
            request.source, "source", want_video=wants_video
        )
        seconds, limit = inputs.source_seconds, schema.MAX_EDIT_SOURCE_SECONDS
        if request.type == "video_edit" and seconds is not None and seconds > limit:
            raise Refusal(
                422,
                f"The source video is {seconds:.1f} s long; video edits take {limit} s at most.",
            )
    refs = [
        load(ref, f"image_ref[{i}]", want_video=False)[0]
        for i, ref in enumerate(request.image_ref or [])
    ]
    inputs.references = tuple(r for r in refs if r is not None)
    video = request.video
    if video is not None:
        frames: list[tuple[int, bytes]] = []
        if video.start_frame is not None:
            frames += load.frame(video.start_frame, "video.start_frame", index=0, take=-1)
        if video.end_frame is not None:
            frames += load.frame(video.end_frame, "video.end_frame", index=-1, take=0)
        for i, (ref, index) in enumerate(
            zip(video.keyframes or [], video.keyframe_indexes or [], strict=False)
        ):
            frames += load.frame(ref, f"video.keyframes[{i}]", index=index, take=0)
        if video.edit is not None:
            for i, ref in enumerate(video.edit.keyframes or []):
                load(ref, f"video.edit.keyframes[{i}]", want_video=False)
        inputs.keyframes = tuple(frames)
    return inputs


@dataclass
class _Loader:
    """Turns an ImageRef into bytes for one owner: (bytes, is it a video, its length)."""

    owner: str
    accepted: bool

    def __call__(
        self, ref: schema.ImageRef, where: str, *, want_video: bool | None
    ) -> tuple[bytes | None, bool, float | None]:
        if ref.generation_id is not None:
            data, is_video, seconds = self._generation(ref.generation_id, where)
        elif ref.file_id is not None:
            data, is_video, seconds = self._file(ref.file_id, where)
        elif ref.data is not None:
            data, is_video, seconds = _inline(ref, where)
        else:
            # A URL: the simulator has no network; it trusts the declared type, renders without.
            return None, (ref.media_type or "").startswith("video/"), None
        if want_video is True and not is_video:
            raise Refusal(422, f"{where}: this input is an image, not a video.")
        if want_video is False and is_video:
            raise Refusal(422, f"{where}: this input is a video, not an image.")
        return data, is_video, seconds

    def frame(
        self, ref: schema.ImageRef, where: str, *, index: int, take: int
    ) -> list[tuple[int, bytes]]:
        """An image pinned at a frame; a prior video stands in through its frame `take`."""
        data, is_video, _ = self(ref, where, want_video=None)
        if data is None:
            return []
        return [(index, sim_media.frame_png(data, take) if is_video else data)]

    def _generation(self, generation_id: str, where: str) -> tuple[bytes, bool, float | None]:
        gen = SimGeneration.objects.filter(pk=generation_id, owner=self.owner).first()
        if gen is None:
            raise Refusal(
                400, f"{where}.generation_id: no generation {generation_id} for this key."
            )
        if gen.state_at(clock.now()) != "completed":
            raise Refusal(
                422, f"{where}.generation_id: generation {generation_id} is not completed."
            )
        output = ensure_rendered(gen)[0]
        data = (media_dir() / output.filename).read_bytes()
        return data, gen.type in schema.VIDEO_TYPES, gen.video_seconds

    def _file(self, file_id: str, where: str) -> tuple[bytes, bool, float | None]:
        try:
            file = SimFile.objects.filter(pk=uuid.UUID(file_id), owner=self.owner).first()
        except ValueError:
            file = None
        if file is None:
            raise Refusal(400, f"{where}.file_id: no file {file_id} for this key.")
        state = file.state_at(clock.now())
        if state != "ready" and not self.accepted:
            raise Refusal(422, f"{where}.file_id: file {file_id} is {state}, not ready.")
        return file_path(file).read_bytes(), file.mime_type.startswith("video/"), file.video_seconds


def _inline(ref: schema.ImageRef, where: str) -> tuple[bytes, bool, float | None]:
    raw = base64.b64decode(ref.data or "")
    limit = settings.LUMA_SIM_MAX_PIXELS
    try:
        if (ref.media_type or "").startswith("video/"):
            return raw, True, media_probe.probe_video(raw, max_pixels=limit).duration
        media_probe.probe_image(raw, max_pixels=limit)
    except media_probe.MediaError as exc:
        raise Refusal(422, f"{where}: {exc}") from None
    return raw, False, None


def file_path(file: SimFile) -> Path:
    return media_dir() / f"file-{file.id}"


# --- completing a job ---


def ensure_rendered(gen: SimGeneration) -> list[SimOutput]:
    """Render a completed job's outputs once; later calls find them on disk."""
    outputs = list(gen.outputs.all())
    if outputs:
        return outputs
    request = schema.GenerationRequest.model_validate(gen.request)
    inputs = resolve_inputs(gen.owner, request, accepted=True)
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
            take=str(gen.id),
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
    # The grid runs 0..duration*24 inclusive; the rendered video's last frame is one short.
    last = round(seconds * schema.FPS) - 1
    keyframes = [
        (last if index < 0 else min(index, last), data) for index, data in inputs.keyframes
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
    state = gen.state_at(clock.now())
    reply: dict[str, Any] = {
        "id": str(gen.id),
        "created_at": gen.created_at.isoformat().replace("+00:00", "Z"),
        "model": gen.model,
        "type": gen.type,
        "state": state,
        "failure_code": gen.failure_code if state == "failed" else None,
        "failure_reason": gen.failure_reason if state == "failed" else None,
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
