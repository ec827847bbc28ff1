"""From a tool's arguments to a request of a provider that is on.

A tool says what it wants in the studio's words (an `Ask`). A provider takes part in MCP by
having a `RequestBuilder` in `BUILDERS`, keyed like `generations.providers.CLASSES`; which kinds
it makes comes from its `Capabilities.kinds`. A tool whose kind (or model) no provider that is on
can make answers a tool error naming what it needs.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from generations import providers
from generations.models import Generation
from generations.providers.agents import schema
from generations.providers.base import Provider
from generations.providers.dream_machine import schema as dm
from generations.providers.dream_machine.provider import DreamMachineProvider

# Kinds that only Luma's Dream Machine API makes (luma-api.md §2); no Generation kind yet.
UPSCALE = "upscale_video"
ADD_AUDIO = "add_audio"
# What each kind is, for messages.
KIND_WORDS = {
    "image": "images",
    "image_edit": "image edits",
    "video": "videos",
    "video_edit": "video edits",
    "video_reframe": "reframed videos",
    "layering": "layer splits",
    UPSCALE: "upscaled videos",
    ADD_AUDIO: "videos with added audio",
}
# Where a kind is known to be made, for "needs …" messages when no provider that is on makes it.
KNOWN_MAKERS = {UPSCALE: "Luma's Dream Machine API", ADD_AUDIO: "Luma's Dream Machine API"}


class AskRefused(Exception):
    """The arguments cannot become a request; the message names the argument, in plain words."""


@dataclass(frozen=True)
class Media:
    """An input: a URL the upstream can fetch, or a finished job of the studio."""

    url: str = ""
    job: Generation | None = None

    @property
    def mime_type(self) -> str:
        guessed, _ = mimetypes.guess_type(self.url.split("?", 1)[0])
        return guessed or ""


@dataclass(frozen=True)
class Ask:
    """What a tool asks for, before any provider's wire format. Unset options are None."""

    kind: str
    prompt: str
    model: str | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    duration: str | None = None
    loop: bool | None = None
    start: Media | None = None  # the seed's keyframes.frame0
    end: Media | None = None  # keyframes.frame1
    source: Media | None = None
    references: tuple[Media, ...] = ()
    strength: str | None = None  # how far a video edit may go
    options: dict[str, Any] = field(default_factory=dict)


class RequestBuilder:
    """How one provider turns an `Ask` into its validated request model; `models` names the
    kinds it makes and, for each, its models (the first is the default)."""

    # The models it offers per kind, the first being the default.
    models: ClassVar[dict[str, tuple[str, ...]]] = {}

    def build(self, ask: Ask) -> BaseModel:
        raise NotImplementedError

    def remix(self, request: BaseModel, prompt: str | None) -> BaseModel:
        """A stored request again, with a new prompt when one is given."""
        raise NotImplementedError

    def camera_motions(self, provider: Provider) -> list[str] | None:
        """The camera moves a prompt may name, when the provider has such a list."""
        return None


class AgentsRequests(RequestBuilder):
    models = {
        "image": ("uni-1", "uni-1-max"),
        "image_edit": ("uni-1", "uni-1-max"),
        "layering": ("uni-1",),
        "video": (schema.VIDEO_MODEL,),
        "video_edit": (schema.VIDEO_MODEL,),
        "video_reframe": (schema.VIDEO_MODEL,),
    }

    def build(self, ask: Ask) -> BaseModel:
        body: dict[str, Any] = {
            "prompt": ask.prompt,
            "type": ask.kind,
            "model": ask.model or self.models[ask.kind][0],
            "aspect_ratio": ask.aspect_ratio,
            **ask.options,
        }
        if ask.references:
            body["image_ref"] = [self._ref(media, "image_ref") for media in ask.references]
        if ask.source is not None:
            video = ask.kind in ("video_edit", "video_reframe")
            body["source"] = self._ref(ask.source, "source", video=video)
        if ask.kind in schema.VIDEO_TYPES:
            video_options: dict[str, Any] = {
                "duration": ask.duration,
                "resolution": ask.resolution,
                "loop": ask.loop,
            }
            if ask.start is not None:
                video_options["start_frame"] = self._ref(ask.start, "keyframes.frame0")
            if ask.end is not None:
                video_options["end_frame"] = self._ref(ask.end, "keyframes.frame1")
            if ask.kind == "video_edit":
                video_options["edit"] = {"strength": ask.strength, "auto_controls": True}
            body["video"] = video_options
        if ask.kind == "layering":
            body["layering"] = {"resolution": ask.resolution}
        return validated(schema.GenerationRequest.model_validate, _without_none(body))

    def remix(self, request: BaseModel, prompt: str | None) -> BaseModel:
        assert isinstance(request, schema.GenerationRequest)
        body = request.model_dump(mode="json", exclude_none=True, exclude={"user_id"})
        if prompt is not None:
            body["prompt"] = prompt
        return validated(schema.GenerationRequest.model_validate, body)

    def _ref(self, media: Media, argument: str, *, video: bool = False) -> dict[str, Any]:
        if media.job is None:
            ref = {"url": media.url}
            if video:  # the API needs the type of a video given by URL
                ref["media_type"] = media.mime_type or "video/mp4"
            return ref
        if media.job.provider != "agents" or not media.job.upstream_id:
            raise AskRefused(
                f"{argument}: job {media.job.uuid} was made with "
                f"{providers.label(media.job.provider)}, so the Luma Agents API cannot use it; "
                "give the URL of its media instead."
            )
        return {"generation_id": media.job.upstream_id}


class DreamRequests(RequestBuilder):
    """Luma's Dream Machine API: videos, images, upscales and added audio (luma-api.md §2)."""

    models = {
        "video": dm.VIDEO_MODELS,
        "image": dm.IMAGE_MODELS,
        UPSCALE: (),
        ADD_AUDIO: (),
    }

    def build(self, ask: Ask) -> BaseModel:
        body: dict[str, Any] = {"generation_type": ask.kind, **ask.options}
        if ask.kind in (UPSCALE, ADD_AUDIO):
            assert ask.source is not None
            body["generation_id"] = self._job_id(ask.source, "generation_id")
            body["resolution" if ask.kind == UPSCALE else "prompt"] = (
                ask.resolution if ask.kind == UPSCALE else ask.prompt
            )
        else:
            body |= {
                "prompt": ask.prompt,
                "model": ask.model or self.models[ask.kind][0],
                "aspect_ratio": ask.aspect_ratio,
            }
        if ask.kind == "video":
            body |= {"duration": ask.duration, "resolution": ask.resolution, "loop": ask.loop}
            frames = {"frame0": ask.start, "frame1": ask.end}
            body["keyframes"] = {
                name: self._frame(media, f"keyframes.{name}")
                for name, media in frames.items()
                if media is not None
            }
        if ask.kind == "image" and ask.references:
            body["image_ref"] = [{"url": self._url(media)} for media in ask.references]
        return validated(dm.parse_request, _without_none(body))

    def remix(self, request: BaseModel, prompt: str | None) -> BaseModel:
        body = dm.stored(request)  # type: ignore[arg-type]
        if prompt is not None and "prompt" in body:
            body["prompt"] = prompt
        return validated(dm.parse_request, body)

    def camera_motions(self, provider: Provider) -> list[str] | None:
        assert isinstance(provider, DreamMachineProvider)
        return provider.concepts()

    def _job_id(self, media: Media, argument: str) -> str:
        if media.job is None or media.job.provider != "dream_machine" or not media.job.upstream_id:
            raise AskRefused(
                f"{argument}: Luma's Dream Machine API works only on its own finished jobs."
            )
        return media.job.upstream_id

    def _frame(self, media: Media, argument: str) -> dict[str, Any]:
        if media.job is not None and media.job.provider == "dream_machine":
            return {"type": "generation", "id": self._job_id(media, argument)}
        return {"type": "image", "url": self._url(media)}

    def _url(self, media: Media) -> str:
        if media.job is None:
            return media.url
        output = media.job.outputs.order_by("index").first()
        return output.url if output else ""


# Every provider the MCP tools can use, by the name a job records (generations.providers.CLASSES).
BUILDERS: dict[str, RequestBuilder] = {"agents": AgentsRequests(), "dream_machine": DreamRequests()}


NONE = RequestBuilder()


def validated(parse: Callable[[dict[str, Any]], BaseModel], body: dict[str, Any]) -> BaseModel:
    """`body` read by a provider's request `parse`, or AskRefused with every problem, each named
    by its field."""
    try:
        return parse(body)
    except ValidationError as exc:
        raise AskRefused(plain_errors(exc)) from None


def plain_errors(exc: ValidationError) -> str:
    """A pydantic error in plain words: one line per field, "field: what is wrong"."""
    lines = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        line = f"{where}: {message}" if where else message
        if line not in lines:
            lines.append(line)
    return "\n".join(lines)


def _without_none(body: dict[str, Any]) -> dict[str, Any]:
    cleaned = {}
    for key, value in body.items():
        if isinstance(value, dict):
            value = _without_none(value) or None
        if value is not None:
            cleaned[key] = value
    return cleaned


def choose(kind: str, *, model: str | None = None, provider: str | None = None) -> Provider:
    """The provider that is on and can make `kind` (with `model`, from `provider` when named)."""
    able = [p for p in providers.enabled() if kind in BUILDERS.get(p.name, NONE).models]
    if provider:
        if provider not in providers.CLASSES:
            names = ", ".join(providers.CLASSES)
            raise AskRefused(f"provider: {provider!r} is not a provider name; use one of {names}.")
        able = [p for p in able if p.name == provider]
        if not able:
            raise AskRefused(
                f"provider: {providers.label(provider)} is not on here or cannot make "
                f"{KIND_WORDS[kind]}; leave provider out to use any that can."
            )
    if not able:
        maker = KNOWN_MAKERS.get(kind, "a provider that makes them")
        on = ", ".join(p.display_name for p in providers.enabled()) or "none"
        raise AskRefused(
            f"This studio cannot make {KIND_WORDS[kind]} now: that needs {maker} to be "
            f"configured here (providers on: {on})."
        )
    if model:
        fitting = [p for p in able if model in BUILDERS[p.name].models.get(kind, ())]
        if not fitting:
            offered = "; ".join(
                f"{', '.join(BUILDERS[p.name].models.get(kind, ()))} ({p.display_name})"
                for p in able
            )
            raise AskRefused(
                f"model: {model!r} cannot make {KIND_WORDS[kind]} here; use {offered}, "
                "or leave model out for the default."
            )
        able = fitting
    return able[0]
