"""The wire format of Luma's Dream Machine API v1 (luma-api.md §2), as pydantic v2 models.

Request models refuse what the API documents as refused, each message attached to the field it
concerns (a rule across fields is a `luma_rule` error, answered 422 by the simulator); response
models tolerate fields, types and states added upstream later.

Inputs are URLs only (no upload API, no inline data); a prior generation is referenced by id.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, Self, TypeAlias, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)

from generations.providers.agents.schema import (
    _check_http_url,
    _refuse,
    _Violations,
    field_errors,
)

__all__ = [
    "ASPECT_RATIOS",
    "CONCEPTS",
    "DURATIONS",
    "IMAGE_FORMATS",
    "IMAGE_MODELS",
    "MAX_IMAGE_REFS",
    "MODIFY_MODES",
    "PROMPT_MAX",
    "PROMPT_MIN",
    "REQUEST_MODELS",
    "REQUEST_TYPES",
    "RESOLUTIONS",
    "STATES",
    "VIDEO_MODELS",
    "AnyRequest",
    "AudioRequest",
    "Chained",
    "Concept",
    "CreditBalance",
    "Generation",
    "GenerationList",
    "GenerationRef",
    "ImageKeyframe",
    "ImageReframeRequest",
    "ImageRequest",
    "Keyframes",
    "Media",
    "Ping",
    "Request",
    "UpscaleRequest",
    "VideoModifyRequest",
    "VideoReframeRequest",
    "VideoRequest",
    "WeightedRef",
    "field_errors",
    "parse_request",
    "stored",
]

# --- Vocabulary -------------------------------------------------------------------------------

VideoModel: TypeAlias = Literal["ray-2", "ray-flash-2"]
ImageModel: TypeAlias = Literal["photon-1", "photon-flash-1"]
AspectRatio: TypeAlias = Literal["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"]
Resolution: TypeAlias = Literal["540p", "720p", "1080p", "4k"]
Duration: TypeAlias = Literal["5s", "9s"]
ImageFormat: TypeAlias = Literal["jpg", "png"]
ModifyMode: TypeAlias = Literal[
    "adhere_1",
    "adhere_2",
    "adhere_3",
    "flex_1",
    "flex_2",
    "flex_3",
    "reimagine_1",
    "reimagine_2",
    "reimagine_3",
]
State: TypeAlias = Literal["queued", "dreaming", "completed", "failed"]

VIDEO_MODELS: tuple[str, ...] = get_args(VideoModel)
IMAGE_MODELS: tuple[str, ...] = get_args(ImageModel)
ASPECT_RATIOS: tuple[str, ...] = get_args(AspectRatio)
RESOLUTIONS: tuple[str, ...] = get_args(Resolution)
DURATIONS: tuple[str, ...] = get_args(Duration)
IMAGE_FORMATS: tuple[str, ...] = get_args(ImageFormat)
MODIFY_MODES: tuple[str, ...] = get_args(ModifyMode)
STATES: tuple[str, ...] = get_args(State)
# The concept keys /generations/concepts/list names (camera moves), as Luma lists them today.
CONCEPTS: tuple[str, ...] = (
    "aerial",
    "aerial_drone",
    "bolt_cam",
    "crane_down",
    "crane_up",
    "dolly_zoom",
    "elevator_doors",
    "eye_level",
    "ground_level",
    "handheld",
    "high_angle",
    "low_angle",
    "orbit_left",
    "orbit_right",
    "over_the_shoulder",
    "overhead",
    "pan_left",
    "pan_right",
    "pedestal_down",
    "pedestal_up",
    "pov",
    "pull_out",
    "push_in",
    "roll_left",
    "roll_right",
    "selfie",
    "static",
    "tiny_planet",
    "tilt_down",
    "tilt_up",
    "truck_left",
    "truck_right",
    "zoom_in",
    "zoom_out",
)
PROMPT_MIN = 3
PROMPT_MAX = 5000
MAX_IMAGE_REFS = 4
# Inferred: Luma's guides show one style reference and up to four identity images.
MAX_STYLE_REFS = 1
MAX_IDENTITY_IMAGES = 4
_CONCEPT_KEY = re.compile(r"[a-z0-9_]{1,64}")


# --- Field checks -----------------------------------------------------------------------------


def _check_prompt(value: str) -> str:
    length = len(value.strip())
    if length < PROMPT_MIN:
        raise _refuse(f"The prompt is {length} characters long: {PROMPT_MIN} at least.")
    if len(value) > PROMPT_MAX:
        raise _refuse(f"The prompt is {len(value)} characters long: {PROMPT_MAX} at most.")
    return value


def _check_weight(value: float) -> float:
    if not 0 <= value <= 1:
        raise _refuse("A weight is between 0 and 1.")
    return value


def _at_most(count: int, what: str) -> Any:
    def check(value: list[Any]) -> list[Any]:
        if len(value) > count:
            raise _refuse(f"{len(value)} {what} given: {count} at most.")
        return value

    return AfterValidator(check)


def _check_concept(value: str) -> str:
    if not _CONCEPT_KEY.fullmatch(value):
        raise _refuse("A concept key is lower-case letters, digits and underscores.")
    return value


def _check_id(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", value):
        raise _refuse("A generation id is letters, digits and dashes.")
    return value


def _check_url(value: str) -> str:
    """A URL the upstream can fetch, or the studio's placeholder for an upload of its own (which
    is replaced by the upload's public link when the job is sent)."""
    from generations.models import INPUT_PLACEHOLDER

    return value if value.startswith(INPUT_PLACEHOLDER) else _check_http_url(value)


_Url = Annotated[str, AfterValidator(_check_url)]
_Prompt = Annotated[str, AfterValidator(_check_prompt)]
_Weight = Annotated[float, AfterValidator(_check_weight)]
_Id = Annotated[str, AfterValidator(_check_id)]
_Grid = Annotated[int, Field(ge=-100_000, le=100_000)]


# --- Requests ---------------------------------------------------------------------------------


class _Strict(BaseModel):
    """Base of what we send: an unknown key is a typo, so it is refused."""

    model_config = ConfigDict(extra="forbid")


class ImageKeyframe(_Strict):
    """A keyframe that is an image at a URL."""

    type: Literal["image"] = "image"
    url: _Url


class GenerationRef(_Strict):
    """A keyframe that is a prior generation of the same key (extend, reverse extend)."""

    type: Literal["generation"] = "generation"
    id: _Id


Keyframe = Annotated[ImageKeyframe | GenerationRef, Field(discriminator="type")]


class Keyframes(_Strict):
    """frame0 starts the video, frame1 ends it."""

    frame0: Keyframe | None = None
    frame1: Keyframe | None = None


class Concept(_Strict):
    key: Annotated[str, AfterValidator(_check_concept)]


class Media(_Strict):
    """An input given by URL (the media to reframe or modify, a first frame)."""

    url: _Url


class WeightedRef(_Strict):
    """An image reference with how strongly it guides the result (0 to 1)."""

    url: _Url
    weight: _Weight | None = None


class Identity(_Strict):
    images: Annotated[
        list[_Url], Field(min_length=1), _at_most(MAX_IDENTITY_IMAGES, "identity images")
    ]


class CharacterRef(_Strict):
    identity0: Identity


class _Request(_Strict):
    callback_url: _Url | None = None

    def to_wire(self) -> dict[str, Any]:
        """The JSON body: unset options omitted, `generation_type` always present."""
        return self.model_dump(mode="json", exclude_none=True)


class VideoRequest(_Request):
    """POST /generations/video: text-, image- or video-to-video."""

    generation_type: Literal["video"] = "video"
    model: VideoModel
    prompt: _Prompt | None = None
    aspect_ratio: AspectRatio | None = None
    resolution: Resolution | None = None
    duration: Duration | None = None
    loop: bool | None = None
    keyframes: Keyframes | None = None
    concepts: list[Concept] | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        problems = _Violations()
        frames = self.keyframes
        has_frames = frames is not None and (frames.frame0 or frames.frame1)
        if self.prompt is None and not has_frames:
            problems.add(("prompt",), "Write a prompt, or give a start or end frame.", None)
        if self.loop and frames is not None and frames.frame1 is not None:
            problems.add(
                ("loop",),
                "A looping video cannot have an end frame (nor reverse-extend or interpolate).",
                self.loop,
            )
        problems.raise_if_any(type(self).__name__)
        return self

    @property
    def extends(self) -> str:
        """How the keyframes use prior generations: "", extend, reverse_extend or interpolate."""
        frames = self.keyframes or Keyframes()
        first = isinstance(frames.frame0, GenerationRef)
        last = isinstance(frames.frame1, GenerationRef)
        if first and last:
            return "interpolate"
        if first:
            return "extend"
        return "reverse_extend" if last else ""


class ImageRequest(_Request):
    """POST /generations/image: text-to-image with optional references."""

    generation_type: Literal["image"] = "image"
    model: ImageModel
    prompt: _Prompt
    aspect_ratio: AspectRatio | None = None
    format: ImageFormat | None = None
    image_ref: Annotated[list[WeightedRef], _at_most(MAX_IMAGE_REFS, "image references")] | None = (
        None
    )
    style_ref: Annotated[list[WeightedRef], _at_most(MAX_STYLE_REFS, "style references")] | None = (
        None
    )
    character_ref: CharacterRef | None = None
    modify_image_ref: WeightedRef | None = None


class _Crop(_Request):
    """The optional placement of the source in the new frame (reframes)."""

    prompt: _Prompt | None = None
    grid_position_x: _Grid | None = None
    grid_position_y: _Grid | None = None
    resized_width: Annotated[int, Field(ge=1, le=16384)] | None = None
    resized_height: Annotated[int, Field(ge=1, le=16384)] | None = None
    x_start: _Grid | None = None
    x_end: _Grid | None = None
    y_start: _Grid | None = None
    y_end: _Grid | None = None


class ImageReframeRequest(_Crop):
    """POST /generations/image/reframe: an image into another aspect ratio."""

    generation_type: Literal["reframe_image"] = "reframe_image"
    model: ImageModel
    media: Media
    aspect_ratio: AspectRatio
    format: ImageFormat | None = None


class VideoReframeRequest(_Crop):
    """POST /generations/video/reframe: a video into another aspect ratio."""

    generation_type: Literal["reframe_video"] = "reframe_video"
    model: VideoModel
    media: Media
    aspect_ratio: AspectRatio
    first_frame: Media | None = None


class VideoModifyRequest(_Request):
    """POST /generations/video/modify: restyle a video, adhering to it or reimagining it."""

    generation_type: Literal["modify_video"] = "modify_video"
    model: VideoModel
    media: Media
    mode: ModifyMode
    prompt: _Prompt | None = None
    first_frame: Media | None = None


class Chained(_Request):
    """A request made on a prior generation; its id rides in the path, never in the body."""

    generation_id: Annotated[_Id, Field(exclude=True)]


class UpscaleRequest(Chained):
    """POST /generations/{id}/upscale."""

    generation_type: Literal["upscale_video"] = "upscale_video"
    resolution: Resolution | None = None


class AudioRequest(Chained):
    """POST /generations/{id}/audio: an audio track for a video."""

    generation_type: Literal["add_audio"] = "add_audio"
    prompt: _Prompt | None = None
    negative_prompt: Annotated[str, Field(max_length=PROMPT_MAX)] | None = None


AnyRequest: TypeAlias = (
    VideoRequest
    | ImageRequest
    | ImageReframeRequest
    | VideoReframeRequest
    | VideoModifyRequest
    | UpscaleRequest
    | AudioRequest
)
Request = Annotated[AnyRequest, Field(discriminator="generation_type")]
_REQUEST: TypeAdapter[AnyRequest] = TypeAdapter(Request)


REQUEST_MODELS: dict[str, type[AnyRequest]] = {
    model.model_fields["generation_type"].default: model for model in get_args(AnyRequest)
}
REQUEST_TYPES: tuple[str, ...] = tuple(REQUEST_MODELS)


def parse_request(data: Any) -> AnyRequest:
    """Any request, chosen by its `generation_type`; raises pydantic's ValidationError (its
    locations are the request's own fields)."""
    kind = data.get("generation_type") if isinstance(data, dict) else None
    model = REQUEST_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        return _REQUEST.validate_python(data)  # refuses with the list of request types
    return model.model_validate(data)


def stored(request: AnyRequest) -> dict[str, Any]:
    """A request as the studio keeps it: its body plus, for a chained one, the source's id."""
    data: dict[str, Any] = request.model_dump(mode="json", exclude_none=True)
    if isinstance(request, Chained):
        data["generation_id"] = request.generation_id
    return data


# --- Responses --------------------------------------------------------------------------------


class _Reply(BaseModel):
    """Base of what we receive: fields added upstream later are kept, never refused."""

    model_config = ConfigDict(extra="allow")


class Assets(_Reply):
    video: str | None = None
    image: str | None = None
    progress_video: str | None = None


class Generation(_Reply):
    """A generation as every create, get and list answers it."""

    id: str
    # Plain str: a type or model added upstream must not make a generation unreadable.
    generation_type: str | None = None
    state: State
    failure_reason: str | None = None
    created_at: datetime | None = None
    model: str | None = None
    assets: Assets | None = None
    # The body echoed; kept loose (older generations carry fields retired since).
    request: dict[str, Any] | None = None


class GenerationList(_Reply):
    generations: list[Generation]
    count: int | None = None
    has_more: bool | None = None
    limit: int | None = None
    offset: int | None = None


class CreditBalance(_Reply):
    """The balance in US cents."""

    credit_balance: float


class Ping(_Reply):
    message: str | None = None
