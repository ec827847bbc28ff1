"""What the simulated gateway does: check a body as the seed documents it, plan the job on the
shared clock (SimGeneration), render a real MP4, answer in one of the shapes gateways use, and
call the job's notify_hook when it ends.

Shapes (`LUMA_SIM_PROXY_SHAPE`, or a request's `X-Sim-Shape` header):
* `flat`: the seed's answer, the video at `video.url`;
* `wrapped`: `{code, message, data: {…}}`, the video at `video.download_url`;
* `clone`: flat with a clone's extra fields (`model_name`, `duration`, `resolution`,
  `thumbnail`, `last_frame`), the video at `video_raw.url`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from generations import media_probe, providers
from generations.providers.http import tls
from generations.providers.proxy import schema
from generations.simulators import guard
from generations.simulators import media as sim_media
from generations.simulators.agents.engine import (
    FAIL_DIRECTIVE,
    FAILURE_REASONS,
    STUCK_DIRECTIVE,
    media_dir,
    signed_url,
)
from generations.simulators.api import Refusal
from generations.simulators.clock import clock
from generations.simulators.models import SimGeneration, SimOutput

logger = logging.getLogger(__name__)

MODEL = "luma-proxy"
SHAPES = ("flat", "wrapped", "clone")
TIMINGS = (4.0, 40.0)  # queued, processing seconds at speed 1
SECONDS = 5.0
STATES = {"queued": "pending", "processing": "processing"}
# Largest input image the gateway fetches from a URL.
MAX_FETCH_BYTES = 20 * 1024 * 1024
HOOK_TIMEOUT = 10.0


def check_body(body: Any) -> dict[str, Any]:
    """The body as the seed documents it; a Refusal (400) says what is wrong."""
    if not isinstance(body, dict):
        raise Refusal(400, "The body must be a JSON object.")
    prompt = body.get("user_prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise Refusal(400, "user_prompt is required.")
    ratio = body.get("aspect_ratio")
    if ratio is not None and ratio not in schema.ASPECT_RATIOS:
        raise Refusal(
            400, f"aspect_ratio {ratio!r} is not supported: use " + ", ".join(schema.ASPECT_RATIOS)
        )
    for name in ("expand_prompt", "loop"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise Refusal(400, f"{name} must be true or false.")
    for name in (*schema.IMAGE_FIELDS, "notify_hook"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise Refusal(400, f"{name} must be a string.")
        if isinstance(value, str) and value and name != "notify_hook":
            _image_bytes(value, name, fetch=False)
    return body


def create(owner: str, body: dict[str, Any], shape: str) -> SimGeneration:
    """Plan the job; its hook is called when it ends (only where a simulator may call)."""
    speed = max(settings.LUMA_SIM_SPEED, 1e-6)
    outcome, code, reason = "completed", "", ""
    prompt = body["user_prompt"]
    if match := FAIL_DIRECTIVE.search(prompt):
        outcome, code = "failed", match.group(1)
        reason = FAILURE_REASONS.get(code, "The generation failed.")
    elif STUCK_DIRECTIVE in prompt:
        outcome = "stuck"
    gen = SimGeneration.objects.create(
        owner=owner,
        type="video",
        model=MODEL,
        request=body,
        queued_seconds=TIMINGS[0] / speed,
        processing_seconds=TIMINGS[1] / speed,
        outcome=outcome,
        failure_code=code,
        failure_reason=reason,
        video_seconds=SECONDS,
    )
    hook = body.get("notify_hook")
    if hook and outcome != "stuck" and guard.may_call(hook):
        payload: dict[str, Any] = {"id": str(gen.id), "state": outcome}
        if shape == "wrapped":
            payload = {"code": 0, "message": "success", "data": payload}
        delay = (gen.finishes_at - clock.now()).total_seconds()
        timer = threading.Timer(max(delay, 0.0), notify, args=(hook, payload))
        timer.daemon = True
        transaction.on_commit(timer.start)
    return gen


def notify(hook: str, payload: dict[str, Any]) -> None:
    """POST the (undocumented) notification; a hook that fails is only logged, as gateways do."""
    try:
        httpx.post(hook, json=payload, timeout=HOOK_TIMEOUT, verify=tls())
    except httpx.HTTPError as exc:
        logger.warning("the simulated gateway could not call %s: %s", hook, exc)


def accepted(gen: SimGeneration, shape: str) -> dict[str, Any]:
    """The answer to a submission, as the seed shows it (in an envelope when `wrapped`)."""
    job = _job(gen, "pending")
    return {"code": 0, "message": "success", "data": job} if shape == "wrapped" else job


def _job(gen: SimGeneration, state: str) -> dict[str, Any]:
    return {
        "id": str(gen.id),
        "state": state,
        "created_at": gen.created_at.isoformat().replace("+00:00", "Z"),
        "request": {
            "prompt": gen.request.get("user_prompt"),
            "aspect_ratio": gen.request.get("aspect_ratio") or "16:9",
        },
    }


def answer(gen: SimGeneration, base_url: str, shape: str) -> dict[str, Any]:
    """The job as the gateway describes it now, in `shape`."""
    state = gen.state_at(clock.now())
    job = {**_job(gen, STATES.get(state, state)), "video": None}
    if state == "failed":
        job["failure_reason"] = gen.failure_reason
    video = _video_url(gen, base_url) if state == "completed" else None
    if shape == "flat":
        job["video"] = {"url": video} if video else None
        return job
    job.update(model_name="ray-2", duration=f"{SECONDS:g}s", resolution="720p")
    if shape == "wrapped":
        job["video"] = {"download_url": video} if video else None
        return {"code": 0, "message": "success", "data": job}
    job.update(thumbnail=None, last_frame=None, video_raw={"url": video} if video else None)
    return job


def _video_url(gen: SimGeneration, base_url: str) -> str:
    output = _rendered(gen)
    path = reverse("luma_sim_proxy:output", args=[output.id, output.filename])
    return signed_url(base_url, path)


def _rendered(gen: SimGeneration) -> SimOutput:
    """Render the job's MP4 once (its start and end images as its first and last frames)."""
    output = gen.outputs.first()
    if output is not None:
        return output
    frames: list[tuple[int, bytes]] = []
    for field, index in (("image_url", 0), ("image_end_url", -1)):
        value = gen.request.get(field)
        data = _image_bytes(value, field, fetch=True) if value else None
        if data is not None:
            frames.append((index, data))
    video = sim_media.render_video(
        gen.request["user_prompt"],
        aspect_ratio=gen.request.get("aspect_ratio") or "16:9",
        seconds=SECONDS,
        keyframes=frames,
        label=f"{MODEL} · video",
    )
    filename = f"out-{gen.id}-0.mp4"
    (media_dir() / filename).write_bytes(video)
    output, _ = SimOutput.objects.get_or_create(
        generation=gen,
        index=0,
        defaults={"kind": "video", "mime_type": "video/mp4", "filename": filename},
    )
    return output


def _image_bytes(value: str, field: str, *, fetch: bool) -> bytes | None:
    """An image field's bytes: base64 (plain or a data: URI) decoded and checked, a URL fetched
    when `fetch` and a simulator may call it (else None: rendered without)."""
    if value.startswith(("http://", "https://")):
        return _fetch(value) if fetch else None
    data = value.split(",", 1)[1] if value.startswith("data:") and "," in value else value
    try:
        raw = base64.b64decode(data, validate=True)
        media_probe.probe_image(raw, max_pixels=settings.LUMA_SIM_MAX_PIXELS)
    except (ValueError, binascii.Error):
        raise Refusal(400, f"{field}: give an image URL or the image as base64.") from None
    except media_probe.MediaError as exc:
        raise Refusal(400, f"{field}: {exc}") from None
    return raw


def _fetch(url: str) -> bytes | None:
    if not guard.may_call(url):
        return None
    try:
        with providers.http_client(timeout=HOOK_TIMEOUT) as client:
            response = client.get(url)
    except httpx.HTTPError:
        return None
    if response.status_code != 200 or len(response.content) > MAX_FETCH_BYTES:
        return None
    return response.content
