"""What the simulated Dream Machine does: check and plan jobs, fetch URL inputs, charge credits,
render real media, and answer in the API's words.

Timings are seconds at `LUMA_SIM_SPEED=1`, divided by the speed. Prompts may carry directives:
`[fail:moderation]`, `[fail:transient]`, `[fail:input]` end the job failed with a reason like
Luma's, `[stuck]` keeps it dreaming. Costs are the simulator's own (inferred, in US cents).
"""

from __future__ import annotations

import io
import re
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse

from generations import media_probe, providers
from generations.providers.dream_machine import schema
from generations.simulators import guard
from generations.simulators import media as sim_media
from generations.simulators.agents.engine import media_dir, signed_url
from generations.simulators.api import Refusal
from generations.simulators.clock import clock
from generations.simulators.models import DreamAccount, DreamGeneration

# (queued, dreaming) seconds at speed 1.
TIMINGS: dict[str, tuple[float, float]] = {
    "video": (4, 40),
    "image": (2, 10),
    "reframe_image": (2, 12),
    "reframe_video": (4, 30),
    "modify_video": (4, 40),
    "upscale_video": (3, 20),
    "add_audio": (3, 15),
}
IMAGE_TYPES = frozenset({"image", "reframe_image"})
# Long side of rendered videos per resolution: small, but each step really larger.
LONG_SIDES = {"540p": 256, "720p": 320, "1080p": 384, "4k": 512}
# Cost in US cents of a 5 s ray-2 video per resolution (9 s costs 1.8 times; ray-flash-2 a third).
VIDEO_CENTS = {"540p": 40.0, "720p": 80.0, "1080p": 180.0, "4k": 400.0}
FLAT_CENTS = {
    "image": 1.5,
    "reframe_image": 2.0,
    "reframe_video": 30.0,
    "modify_video": 60.0,
    "add_audio": 10.0,
}
FAIL_DIRECTIVE = re.compile(r"\[fail:([a-z]+)\]")
STUCK_DIRECTIVE = "[stuck]"
FAILURE_REASONS = {
    "moderation": "Your prompt was flagged by our content moderation system.",
    "transient": "Internal error: the generation could not be completed. Please try again.",
    "input": "The prompt is too vague to generate from.",
}
MAX_INPUT_BYTES = 50 * 1024 * 1024


def create(owner: str, request: schema.AnyRequest, base_url: str) -> DreamGeneration:
    """Check what the schema cannot (sources, credit), fetch URL inputs, plan and charge."""
    kind = request.generation_type
    check_keyframe_sources(owner, request)
    source = _source(owner, request)
    cost = _cost(request, source)
    prompt = getattr(request, "prompt", None) or ""
    outcome, reason = "completed", ""
    if match := FAIL_DIRECTIVE.search(prompt):
        outcome = "failed"
        reason = FAILURE_REASONS.get(match.group(1), "The generation failed.")
    elif STUCK_DIRECTIVE in prompt:
        outcome = "stuck"
    queued, dreaming = TIMINGS[kind]
    speed = max(settings.LUMA_SIM_SPEED, 1e-6)
    with transaction.atomic():
        account = _account(owner)
        if account.balance < cost:
            raise Refusal(
                402,
                f"Insufficient credits: this job costs {cost:g}¢ and the balance is "
                f"{account.balance:g}¢.",
            )
        DreamAccount.objects.filter(pk=account.pk).update(balance=F("balance") - cost)
        gen = DreamGeneration.objects.create(
            owner=owner,
            generation_type=kind,
            model=getattr(request, "model", None) or (source.model if source else ""),
            request=schema.stored(request),
            queued_seconds=queued / speed,
            processing_seconds=dreaming / speed,
            outcome=outcome,
            failure_reason=reason,
            cost=cost,
            long_side=_long_side(request, source),
        )
    if outcome == "completed" and (problem := _fetch_inputs(gen, request)):
        DreamGeneration.objects.filter(pk=gen.pk).update(outcome="failed", failure_reason=problem)
        gen.outcome, gen.failure_reason = "failed", problem
    return gen


def _account(owner: str) -> DreamAccount:
    account, _ = DreamAccount.objects.get_or_create(
        owner=owner, defaults={"balance": settings.LUMA_SIM_CREDITS}
    )
    return account


def balance(owner: str) -> float:
    """The customer's credit once every failure seen so far is refunded."""
    now = clock.now()
    for gen in DreamGeneration.objects.filter(owner=owner, refunded=False, outcome="failed"):
        if gen.state_at(now) == "failed":
            refund(gen)
    return _account(owner).balance


def refund(gen: DreamGeneration) -> None:
    """Failed jobs are refunded, once."""
    if DreamGeneration.objects.filter(pk=gen.pk, refunded=False).update(refunded=True):
        DreamAccount.objects.filter(owner=gen.owner).update(balance=F("balance") + gen.cost)


def _source(owner: str, request: schema.AnyRequest) -> DreamGeneration | None:
    """The prior generation an upscale or audio job works on: a completed video of this key."""
    if not isinstance(request, schema.Chained):
        return None
    source = find(owner, request.generation_id)
    if source is None:
        raise Refusal(404, f"Generation {request.generation_id} not found.")
    if source.generation_type in IMAGE_TYPES:
        raise Refusal(
            400, f"Generation {source.id} is an image; only videos can be {_verb(request)}."
        )
    if source.state_at(clock.now()) != "completed":
        raise Refusal(400, f"Generation {source.id} is not completed yet.")
    asked = request.resolution if isinstance(request, schema.UpscaleRequest) else None
    if asked is not None and LONG_SIDES[asked] <= source.long_side:
        raise Refusal(400, f"The video is already at {asked} or above: upscale it higher.")
    return source


def _verb(request: schema.AnyRequest) -> str:
    return "upscaled" if isinstance(request, schema.UpscaleRequest) else "given audio"


def find(owner: str, generation_id: str) -> DreamGeneration | None:
    """The key's generation by id; a malformed id finds nothing."""
    try:
        key = uuid.UUID(str(generation_id))
    except ValueError:
        return None
    return DreamGeneration.objects.filter(pk=key, owner=owner).first()


def _cost(request: schema.AnyRequest, source: DreamGeneration | None) -> float:
    if isinstance(request, schema.VideoRequest):
        cents = VIDEO_CENTS[request.resolution or "720p"] * (1.8 if request.duration == "9s" else 1)
        return cents / 3 if request.model == "ray-flash-2" else cents
    if isinstance(request, schema.UpscaleRequest):
        return VIDEO_CENTS[_upscale_target(request, source)] / 4
    if isinstance(request, schema.ImageRequest) and request.model == "photon-flash-1":
        return FLAT_CENTS["image"] / 4
    return FLAT_CENTS[request.generation_type]


def _upscale_target(request: schema.UpscaleRequest, source: DreamGeneration | None) -> str:
    """The asked resolution, or the next one above the source's."""
    if request.resolution:
        return request.resolution
    current = source.long_side if source else 0
    return next((r for r, side in LONG_SIDES.items() if side > current), "4k")


def _long_side(request: schema.AnyRequest, source: DreamGeneration | None) -> int:
    if isinstance(request, schema.VideoRequest):
        return LONG_SIDES[request.resolution or "720p"]
    if isinstance(request, schema.UpscaleRequest):
        return LONG_SIDES[_upscale_target(request, source)]
    if source is not None:
        return source.long_side
    return 0 if request.generation_type in IMAGE_TYPES else LONG_SIDES["720p"]


# --- URL inputs: fetched once, when the job is made ---


def _urls(request: schema.AnyRequest) -> list[tuple[str, str]]:
    """(role, URL) of every input given by URL."""
    found: list[tuple[str, str]] = []
    if isinstance(request, schema.VideoRequest) and request.keyframes:
        for role in ("frame0", "frame1"):
            frame = getattr(request.keyframes, role)
            if isinstance(frame, schema.ImageKeyframe):
                found.append((role, frame.url))
    if isinstance(request, schema.ImageRequest):
        found += [(f"image_ref{i}", ref.url) for i, ref in enumerate(request.image_ref or [])]
        found += [(f"style_ref{i}", ref.url) for i, ref in enumerate(request.style_ref or [])]
        if request.character_ref:
            images = request.character_ref.identity0.images
            found += [(f"character{i}", url) for i, url in enumerate(images)]
        if request.modify_image_ref:
            found.append(("modify", request.modify_image_ref.url))
    media = getattr(request, "media", None)
    if media is not None:
        found.append(("media", media.url))
    first = getattr(request, "first_frame", None)
    if first is not None:
        found.append(("first_frame", first.url))
    return found


def _input_path(gen: DreamGeneration, role: str) -> Path:
    return media_dir() / f"dm-in-{gen.id}-{role}"


def _fetch_inputs(gen: DreamGeneration, request: schema.AnyRequest) -> str:
    """Download every URL input next to the job; the failure reason when one cannot be read."""
    wants_video = {"media": request.generation_type in ("reframe_video", "modify_video")}
    for role, url in _urls(request):
        data = fetch(url)
        if data is None:
            return f"Could not load the media at {url}."
        try:
            if wants_video.get(role):
                media_probe.probe_video(data, max_pixels=settings.LUMA_SIM_MAX_PIXELS)
            else:
                media_probe.probe_image(data, max_pixels=settings.LUMA_SIM_MAX_PIXELS)
        except media_probe.MediaError as exc:
            return f"The media at {url} is not supported: {exc}"
        _input_path(gen, role).write_bytes(data)
    return ""


def fetch(url: str) -> bytes | None:
    """A URL's bytes, when a simulator may call it and it answers 200 (else None)."""
    if not guard.may_call(url):
        return None
    try:
        with (
            providers.http_client(timeout=10.0) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                return None
            body = io.BytesIO()
            for chunk in response.iter_bytes():
                body.write(chunk)
                if body.tell() > MAX_INPUT_BYTES:
                    return None
            return body.getvalue()
    except httpx.HTTPError:
        return None


def _input(gen: DreamGeneration, role: str) -> bytes | None:
    path = _input_path(gen, role)
    return path.read_bytes() if path.exists() else None


# --- rendering, once a job is completed ---


def asset_bytes(gen: DreamGeneration) -> bytes:
    """A completed job's asset, rendered on first use."""
    if gen.asset:
        return (media_dir() / gen.asset).read_bytes()
    request = schema.parse_request({**gen.request})
    data, ext = _render(gen, request)
    name = f"dm-out-{gen.id}.{ext}"
    # Whole or not at all: a job's first views (a callback, a poll) may make it at once.
    part = media_dir() / f".{name}.{threading.get_ident()}"
    part.write_bytes(data)
    part.replace(media_dir() / name)
    DreamGeneration.objects.filter(pk=gen.pk).update(asset=name)
    gen.asset = name
    return data


def _render(gen: DreamGeneration, request: schema.AnyRequest) -> tuple[bytes, str]:
    label = f"{gen.model or 'dream machine'} · {gen.generation_type}"
    prompt = getattr(request, "prompt", None) or gen.generation_type.replace("_", " ")
    if isinstance(request, schema.ImageRequest | schema.ImageReframeRequest):
        fmt = "jpeg" if request.format == "jpg" else "png"
        if isinstance(request, schema.ImageRequest):
            roles = [r for r, _ in _urls(request) if r != "modify"]
            refs = [d for d in (_input(gen, r) for r in roles) if d is not None]
            source = _input(gen, "modify")
        else:
            refs, source = [], _input(gen, "media")
        data = sim_media.render_image(
            prompt,
            aspect_ratio=request.aspect_ratio or "16:9",
            fmt=fmt,
            source=source,
            references=refs[:4],
            label=label,
            take=str(gen.id),
        )
        return data, "jpg" if fmt == "jpeg" else "png"
    if isinstance(request, schema.Chained):
        prior = find(gen.owner, request.generation_id)
        if prior is None:
            raise Refusal(410, "The source of this job has been deleted.")
        video = asset_bytes(prior)
        if isinstance(request, schema.AudioRequest):
            return sim_media.add_audio_track(video, request.prompt or "ambience"), "mp4"
        ratio = _ratio_of(video)
        return sim_media.render_video(
            prompt,
            aspect_ratio=ratio,
            seconds=None,
            source_video=video,
            long_side=gen.long_side,
            label=label,
        ), "mp4"
    if isinstance(request, schema.VideoRequest):
        return _render_video(gen, request, prompt, label), "mp4"
    # reframe_video, modify_video: a recoloured, reframed source.
    source_video = _input(gen, "media")
    ratio = getattr(request, "aspect_ratio", None) or _ratio_of(source_video)
    return sim_media.render_video(
        prompt,
        aspect_ratio=ratio,
        seconds=None,
        source_video=source_video,
        long_side=gen.long_side,
        label=label,
    ), "mp4"


def _render_video(
    gen: DreamGeneration, request: schema.VideoRequest, prompt: str, label: str
) -> bytes:
    seconds = 9.0 if request.duration == "9s" else 5.0
    keyframes: list[tuple[int, bytes]] = []
    frames = request.keyframes or schema.Keyframes()
    for role, index, take in (("frame0", 0, -1), ("frame1", -1, 0)):
        frame = getattr(frames, role)
        if isinstance(frame, schema.ImageKeyframe):
            data = _input(gen, role)
        elif isinstance(frame, schema.GenerationRef):
            prior = find(gen.owner, frame.id)
            data = None
            if prior is not None:
                asset = asset_bytes(prior)
                is_video = prior.generation_type not in IMAGE_TYPES
                data = sim_media.frame_png(asset, take) if is_video else asset
        else:
            data = None
        if data is not None:
            keyframes.append((index, data))
    return sim_media.render_video(
        prompt,
        aspect_ratio=request.aspect_ratio or "16:9",
        seconds=seconds,
        keyframes=keyframes,
        long_side=gen.long_side,
        label=label,
    )


def _ratio_of(video: bytes | None) -> str:
    """The listed aspect ratio nearest a video's own."""
    if video is None:
        return "16:9"
    info = media_probe.probe_video(video, max_pixels=None)  # a render, or probed on arrival
    actual = info.width / max(1, info.height)

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(int(w) / int(h) - actual)

    return min(schema.ASPECT_RATIOS, key=distance)


def check_keyframe_sources(owner: str, request: schema.AnyRequest) -> None:
    """Generation keyframes must be completed generations of this key."""
    if not isinstance(request, schema.VideoRequest) or request.keyframes is None:
        return
    for role in ("frame0", "frame1"):
        frame = getattr(request.keyframes, role)
        if isinstance(frame, schema.GenerationRef):
            prior = find(owner, frame.id)
            if prior is None:
                raise Refusal(400, f"keyframes.{role}: no generation {frame.id} for this key.")
            if prior.state_at(clock.now()) != "completed":
                raise Refusal(400, f"keyframes.{role}: generation {frame.id} is not completed.")


# --- answering ---


def as_reply(gen: DreamGeneration, base_url: str) -> dict[str, Any]:
    """The wire representation of a job at this moment, with freshly signed asset URLs."""
    state = gen.state_at(clock.now())
    if state == "failed" and not gen.refunded:
        refund(gen)
    assets: dict[str, str] = {}
    if state == "completed":
        asset_bytes(gen)
        path = reverse("luma_sim_dm:asset", args=[gen.id, gen.asset])
        kind = "image" if gen.generation_type in IMAGE_TYPES else "video"
        assets[kind] = signed_url(base_url, path)
    reply = {
        "id": str(gen.id),
        "generation_type": "image" if gen.generation_type in IMAGE_TYPES else "video",
        "state": state,
        "failure_reason": gen.failure_reason if state == "failed" else None,
        "created_at": gen.created_at.isoformat().replace("+00:00", "Z"),
        "model": gen.model,
        "assets": assets or None,
        "request": {k: v for k, v in gen.request.items() if k != "generation_id"},
    }
    # Validate our own answer against the contract before it leaves.
    return schema.Generation.model_validate(reply).model_dump(mode="json")


def delete(gen: DreamGeneration) -> None:
    """Forget a job, its inputs and its asset."""
    for path in media_dir().glob(f"dm-*-{gen.id}*"):
        path.unlink(missing_ok=True)
    gen.delete()
