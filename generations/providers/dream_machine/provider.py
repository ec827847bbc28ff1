"""The Dream Machine API v1 behind the studio's provider interface."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from generations.providers import errors
from generations.providers.base import (
    Capabilities,
    Provider,
    Summary,
    UpstreamJob,
    UpstreamOutput,
    failure_code_for,
)
from generations.providers.http import Reply

from . import schema
from .client import DreamMachineClient

if TYPE_CHECKING:
    from generations.models import Generation

# Each request type as the studio's kind of job.
KINDS = {
    "video": "video",
    "image": "image",
    "reframe_image": "image_edit",
    "reframe_video": "video_reframe",
    "modify_video": "video_edit",
    "upscale_video": "video_edit",
    "add_audio": "video_edit",
}
# Dream Machine's states in the studio's words.
STATES = {
    "queued": "queued",
    "dreaming": "processing",
    "completed": "completed",
    "failed": "failed",
}


def _linked(url: str) -> dict[str, str]:
    """A stored URL as the detail page finds it: an upload by its placeholder, else a URL."""
    from generations.models import INPUT_PLACEHOLDER

    return {"file_id": url} if url.startswith(INPUT_PLACEHOLDER) else {"url": url}


def describe(request: schema.AnyRequest) -> str:
    """What the history shows as a job's prompt (upscale and audio may have none)."""
    prompt = getattr(request, "prompt", None)
    if prompt:
        return str(prompt)
    if isinstance(request, schema.UpscaleRequest):
        return f"Upscale to {request.resolution or 'a higher resolution'}"
    if isinstance(request, schema.AudioRequest):
        return "Add audio"
    if isinstance(request, schema.VideoRequest):
        return {
            "extend": "Extend a video",
            "reverse_extend": "Lead into a video",
            "interpolate": "Interpolate between two videos",
        }.get(request.extends, "Animate the keyframes")
    return request.generation_type.replace("_", " ").capitalize()


class DreamMachineProvider(Provider):
    name = "dream_machine"
    label = "Luma Dream Machine API"
    key_setting = "LUMAAI_API_KEY"
    capabilities = Capabilities(
        kinds=tuple(dict.fromkeys(KINDS.values())),
        models=schema.IMAGE_MODELS + schema.VIDEO_MODELS,
        aspect_ratios=schema.ASPECT_RATIOS,
        public_inputs=True,
        callbacks=True,
        delete=True,
        credits=True,
        extra={"request_types": schema.REQUEST_TYPES},
    )

    def client(self) -> DreamMachineClient:
        return DreamMachineClient(self.base_url, self.api_key, **self.client_options())

    def summary(self, request: BaseModel) -> Summary:
        assert isinstance(request, schema.AnyRequest)
        model = getattr(request, "model", None) or request.generation_type
        ratio = getattr(request, "aspect_ratio", None) or ""
        # The options the price table tells apart (a video's, an upscale's target).
        priced = {name: getattr(request, name, None) for name in ("resolution", "duration")}
        options = {name: value for name, value in priced.items() if value}
        return Summary(KINDS[request.generation_type], model, describe(request), ratio, options)

    def parse(self, request: dict[str, Any]) -> BaseModel:
        return schema.parse_request(request)

    def prepare(self, request: BaseModel, *, user_id: str) -> dict[str, Any]:
        # The API takes no end-user id; the stored request is the body (plus a chain's source).
        assert isinstance(request, schema.AnyRequest)
        return schema.stored(request)

    def submit(self, generation: Generation) -> UpstreamJob:
        from generations import hooks, public
        from generations.uploads import replace_placeholders

        try:
            links = {item.placeholder: public.input_url(item) for item in generation.inputs.all()}
        except public.NoPublicUrl as exc:
            raise errors.InputRefused(str(exc)) from exc
        wire = replace_placeholders(_with_live_links(generation.request), links)
        if hook := hooks.hook_url(generation):
            wire["callback_url"] = hook
        with self.client() as client:
            return as_job(client.create_generation(schema.parse_request(wire)))

    def poll(self, upstream_id: str) -> UpstreamJob:
        with self.client() as client:
            return as_job(client.get_generation(upstream_id))

    def delete(self, upstream_id: str) -> None:
        with self.client() as client:
            client.delete_generation(upstream_id)

    def credits(self) -> float | None:
        with self.client() as client:
            return client.credits()

    def ping(self) -> bool:
        try:
            with self.client() as client:
                return client.ping() == "pong"
        except errors.LumaError:
            return False

    @classmethod
    def references(cls, request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Every media input of a stored request, labelled for people, each with a
        `generation_id` (a prior Dream Machine job), a `file_id` (an upload, by the placeholder
        the request keeps until it is sent) or a `url`."""
        found: list[tuple[str, dict[str, Any]]] = []
        frames = request.get("keyframes") or {}
        for role, label in (("frame0", "Start frame"), ("frame1", "End frame")):
            frame = frames.get(role) or {}
            if frame.get("type") == "generation":
                found.append((label, {"generation_id": frame.get("id")}))
            elif frame.get("url"):
                found.append((label, _linked(frame["url"])))
        for key, label in (("image_ref", "Reference image"), ("style_ref", "Style reference")):
            found += [
                (label, _linked(ref["url"])) for ref in request.get(key) or [] if "url" in ref
            ]
        identity = (request.get("character_ref") or {}).get("identity0") or {}
        found += [("Character", _linked(url)) for url in identity.get("images") or []]
        for key, label in (
            ("modify_image_ref", "Image to modify"),
            ("media", "Source"),
            ("first_frame", "First frame"),
        ):
            if (request.get(key) or {}).get("url"):
                found.append((label, _linked(request[key]["url"])))
        if request.get("generation_id"):
            found.append(("Video", {"generation_id": request["generation_id"]}))
        return found

    def concepts(self) -> list[str]:
        """The concept keys (camera moves) this account's videos can ask for."""
        with self.client() as client:
            return client.concepts()


def as_job(reply: Reply[schema.Generation]) -> UpstreamJob:
    """A Dream Machine answer in the studio's words."""
    return job_from(reply.data, reply.request_id)


def job_from(data: schema.Generation, request_id: str = "") -> UpstreamJob:
    """A generation (from a reply, a list page or a callback) in the studio's words."""
    state = STATES[data.state]
    reason = data.failure_reason or ""
    outputs: list[UpstreamOutput] = []
    if state == "completed" and data.assets is not None:
        if data.assets.video:
            outputs.append(UpstreamOutput("video", data.assets.video))
        if data.assets.image:
            outputs.append(UpstreamOutput("image", data.assets.image))
    return UpstreamJob(
        id=data.id,
        state=state,
        raw=data.model_dump(mode="json"),
        request_id=request_id,
        failure_code=failure_code_for(reason) if state == "failed" else "",
        failure_reason=reason,
        outputs=tuple(outputs),
    )


def _with_live_links(value: Any) -> Any:
    """A stored request whose URL references are links that work now (see `_live_link`)."""
    if isinstance(value, dict):
        return {
            key: _live_link(item)
            if key == "url" and isinstance(item, str)
            else _with_live_links(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_with_live_links(item) for item in value]
    return value


def _live_link(url: str) -> str:
    """A piece picked from the gallery for a URL slot is stored as its output's upstream URL,
    which dies within hours: send our archived copy's public link instead, or else that URL
    refreshed from upstream first. Any other URL (someone's own, an upload's) is kept."""
    from django.db.models import Q

    from generations import archive, public
    from generations.models import Output

    base = url.split("?", 1)[0]
    output = (
        Output.objects.filter(Q(url=url) | Q(url=base) | Q(url__startswith=f"{base}?"))
        .filter(generation__provider=DreamMachineProvider.name)
        .select_related("generation")
        .order_by("-id")
        .first()
    )
    if output is None:
        return url
    if output.is_archived and (link := public.public_link(str(output.file.name))):
        return link
    if not output.url_is_fresh:
        archive.refresh_urls(output.generation)
        output.refresh_from_db()
    return output.url
