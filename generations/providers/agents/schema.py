"""The wire format of Luma's Agents API (see luma-api.md §1), as pydantic v2 models.

Request models refuse what the API would refuse, each message attached to the field it concerns;
response models tolerate fields and failure codes they do not know yet.
"""

import base64
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, Self, TypeAlias, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = [
    "ASPECT_RATIOS",
    "FAILURE_CODES",
    "FILE_PURPOSES",
    "FILE_STATES",
    "FPS",
    "GENERATION_STATES",
    "GENERATION_TYPES",
    "IMAGE_TYPES",
    "LAYERING_PROMPT_MAX",
    "LAYERING_RESOLUTIONS",
    "MAX_EDIT_FRAME",
    "MAX_EDIT_SOURCE_SECONDS",
    "MAX_FILE_BYTES",
    "MAX_IMAGE_REFS",
    "MAX_KEYFRAMES",
    "MODELS",
    "OUTPUT_FORMATS",
    "POSE_STRENGTHS",
    "PROMPT_MAX",
    "SOURCE_TYPES",
    "STYLES",
    "USER_ID_MAX",
    "VIDEO_DURATIONS",
    "VIDEO_EDIT_STRENGTHS",
    "VIDEO_MODEL",
    "VIDEO_RESOLUTIONS",
    "VIDEO_TYPES",
    "AdvancedControls",
    "AspectRatio",
    "CreateFileResponse",
    "DepthControl",
    "FaceControl",
    "FailureCode",
    "File",
    "FileCreateRequest",
    "FileList",
    "FilePurpose",
    "FileState",
    "Generation",
    "GenerationOutput",
    "GenerationRequest",
    "GenerationState",
    "GenerationType",
    "ImageRef",
    "Layer",
    "LayeringOptions",
    "LayeringResolution",
    "Model",
    "NormalsControl",
    "OutputFormat",
    "PoseControl",
    "PoseStrength",
    "PresignedUpload",
    "SourcePosition",
    "Style",
    "TrajectoryControl",
    "VideoDuration",
    "VideoEditOptions",
    "VideoEditStrength",
    "VideoOptions",
    "VideoResolution",
    "field_errors",
]

# --- Vocabulary -------------------------------------------------------------------------------

GenerationType: TypeAlias = Literal[
    "image", "image_edit", "video", "video_edit", "video_reframe", "layering"
]
Model: TypeAlias = Literal["uni-1", "uni-1-max", "ray-3.2"]
AspectRatio: TypeAlias = Literal[
    "3:1", "2:1", "21:9", "16:9", "4:3", "3:2", "1:1", "3:4", "2:3", "9:16", "1:2", "1:3"
]
Style: TypeAlias = Literal["auto", "manga"]
OutputFormat: TypeAlias = Literal["png", "jpeg"]
VideoDuration: TypeAlias = Literal["5s", "10s"]
VideoResolution: TypeAlias = Literal["360p", "540p", "720p", "1080p"]
VideoEditStrength: TypeAlias = Literal[
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
PoseStrength: TypeAlias = Literal["precise", "coarse"]
GenerationState: TypeAlias = Literal["queued", "processing", "completed", "failed"]
FailureCode: TypeAlias = Literal[
    "content_moderated",
    "generation_failed",
    "budget_exhausted",
    "output_not_found",
    "image_too_large",
    "unsupported_format",
    "corrupt_input",
    "invalid_request",
    "rate_limited",
]
FileState: TypeAlias = Literal["pending", "ready", "failed", "deleted"]
FilePurpose: TypeAlias = Literal["input", "reference"]
LayeringResolution: TypeAlias = Literal["1k", "2k"]

GENERATION_TYPES: tuple[str, ...] = get_args(GenerationType)
MODELS: tuple[str, ...] = get_args(Model)
ASPECT_RATIOS: tuple[str, ...] = get_args(AspectRatio)
STYLES: tuple[str, ...] = get_args(Style)
OUTPUT_FORMATS: tuple[str, ...] = get_args(OutputFormat)
VIDEO_DURATIONS: tuple[str, ...] = get_args(VideoDuration)
VIDEO_RESOLUTIONS: tuple[str, ...] = get_args(VideoResolution)
VIDEO_EDIT_STRENGTHS: tuple[str, ...] = get_args(VideoEditStrength)
POSE_STRENGTHS: tuple[str, ...] = get_args(PoseStrength)
GENERATION_STATES: tuple[str, ...] = get_args(GenerationState)
FAILURE_CODES: tuple[str, ...] = get_args(FailureCode)
FILE_STATES: tuple[str, ...] = get_args(FileState)
FILE_PURPOSES: tuple[str, ...] = get_args(FilePurpose)
LAYERING_RESOLUTIONS: tuple[str, ...] = get_args(LayeringResolution)

VIDEO_MODEL = "ray-3.2"
VIDEO_TYPES: frozenset[str] = frozenset({"video", "video_edit", "video_reframe"})
IMAGE_TYPES: frozenset[str] = frozenset({"image", "image_edit"})
# The types whose input rides in `source`, and what that input is (used in messages too).
SOURCE_TYPES: dict[str, str] = {
    "image_edit": "the image to edit",
    "video_edit": "the video to edit",
    "video_reframe": "the video to reframe",
    "layering": "the image to split into layers",
}
MAX_IMAGE_REFS: dict[str, int] = {"image": 9, "image_edit": 8}
FPS = 24
MAX_EDIT_SOURCE_SECONDS = 18
PROMPT_MAX = 6000
LAYERING_PROMPT_MAX = 500
MAX_KEYFRAMES = 64
USER_ID_MAX = 256
MAX_FILE_BYTES = 5 * 1024**3

# Edit keyframes sit on the source's frame grid, whose length is unknown here: bound it by the
# longest source Luma accepts (18 s at 24 fps).
MAX_EDIT_FRAME = MAX_EDIT_SOURCE_SECONDS * FPS
_REF_FIELDS = ("url", "data", "generation_id", "file_id")
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
# Error types: a single field's own check (HTTP 400), or a refused combination (HTTP 422).
_FIELD = "luma_field"
_RULE = "luma_rule"

_Loc: TypeAlias = tuple[str | int, ...]


# --- Errors -----------------------------------------------------------------------------------


def _refuse(message: str, kind: str = _FIELD) -> PydanticCustomError:
    """An error whose message reaches the user as written (no "Value error, " prefix)."""
    return PydanticCustomError(kind, message)


class _Violations:
    """Rule breaches collected so that all of them are reported in one ValidationError."""

    def __init__(self) -> None:
        self._errors: list[InitErrorDetails] = []

    def add(self, loc: _Loc, message: str, value: Any) -> None:
        """Record that the field at `loc` breaks a rule."""
        self._errors.append(InitErrorDetails(type=_refuse(message, _RULE), loc=loc, input=value))

    def raise_if_any(self, title: str) -> None:
        """Raise every recorded breach at once; pydantic prefixes nested locations for us."""
        if self._errors:
            raise ValidationError.from_exception_data(title, self._errors)


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Group the messages of `exc` by dotted field path, for mapping onto form fields.

    List indexes are dropped ("video.keyframes.3.url" -> "video.keyframes.url"); errors about the
    whole object go under "__all__". Each message appears once per path.
    """
    grouped: dict[str, list[str]] = {}
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
        messages = grouped.setdefault(path or "__all__", [])
        if error["msg"] not in messages:
            messages.append(error["msg"])
    return grouped


# --- Field checks -----------------------------------------------------------------------------


def _within(low: float, high: float, *, low_open: bool = False) -> Callable[[float], float]:
    """Build a check that a number lies in [low, high], or in (low, high] when `low_open`."""
    if low_open:
        message = f"Must be more than {low:g} and at most {high:g}."
    else:
        message = f"Must be between {low:g} and {high:g}."

    def check(value: float) -> float:
        inside = low < value <= high if low_open else low <= value <= high
        if not inside:
            raise _refuse(message)
        return value

    return check


def _check_prompt(value: str) -> str:
    if not value.strip():
        raise _refuse("Write a prompt.")
    if len(value) > PROMPT_MAX:
        raise _refuse(f"The prompt is {len(value)} characters long: {PROMPT_MAX} at most.")
    return value


def _check_user_id(value: str) -> str:
    if len(value) > USER_ID_MAX:
        raise _refuse(f"user_id is {len(value)} characters long: {USER_ID_MAX} at most.")
    return value


def _check_http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _refuse("Give a full http:// or https:// URL.")
    return value


def _check_base64(value: str) -> str:
    try:
        decoded = base64.b64decode(value, validate=True)
    except ValueError:
        decoded = b""
    if not decoded:
        raise _refuse("data must be valid, non-empty base64 (no data: prefix, no line breaks).")
    return value


def _check_uuid(value: str) -> str:
    try:
        # Canonical form, so "{…}" or unhyphenated spellings reach the API in the usual shape.
        return str(uuid.UUID(value))
    except ValueError:
        raise _refuse(
            "generation_id must be a generation's UUID, like 1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed."
        ) from None


def _check_file_id(value: str) -> str:
    if not value.strip():
        raise _refuse("file_id is empty.")
    return value


def _check_mime(value: str) -> str:
    lowered = value.strip().lower()
    if not _MIME.fullmatch(lowered):
        raise _refuse("Give a MIME type such as image/png or video/mp4.")
    return lowered


def _check_size(value: int) -> int:
    if not 0 < value <= MAX_FILE_BYTES:
        raise _refuse("size_bytes must be more than 0 and at most 5 GiB.")
    return value


_Unit = Annotated[float, AfterValidator(_within(0, 1))]
_Offset = Annotated[float, AfterValidator(_within(-2, 2))]
_Extent = Annotated[float, AfterValidator(_within(0, 2, low_open=True))]
_Prompt = Annotated[str, AfterValidator(_check_prompt)]
_UserId = Annotated[str, AfterValidator(_check_user_id)]
_MimeType = Annotated[str, AfterValidator(_check_mime)]


# --- Requests ---------------------------------------------------------------------------------


class _Request(BaseModel):
    """Base of the models we send: an unknown key is a typo, so it is refused."""

    model_config = ConfigDict(extra="forbid")


class ImageRef(_Request):
    """A media reference: exactly one of url, data (base64), generation_id or file_id."""

    url: Annotated[str, AfterValidator(_check_http_url)] | None = None
    data: Annotated[str, AfterValidator(_check_base64)] | None = None
    generation_id: Annotated[str, AfterValidator(_check_uuid)] | None = None
    file_id: Annotated[str, AfterValidator(_check_file_id)] | None = None
    media_type: _MimeType | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> Self:
        """Refuse zero or several references, and inline data without its media type."""
        problems = _Violations()
        given = [name for name in _REF_FIELDS if getattr(self, name) is not None]
        if len(given) != 1:
            problems.add((), "Give exactly one of url, data, generation_id or file_id.", given)
        if self.data is not None and self.media_type is None:
            problems.add(("media_type",), "media_type is required with inline data.", None)
        problems.raise_if_any(type(self).__name__)
        return self


class SourcePosition(_Request):
    """Where the source sits in the output canvas of a video_reframe, as canvas fractions."""

    x_norm: _Offset
    y_norm: _Offset
    w_norm: _Extent
    h_norm: _Extent


class DepthControl(_Request):
    """Depth / scene-geometry conditioning of a video edit."""

    enabled: bool | None = None
    blur: _Unit | None = None


class FaceControl(_Request):
    """Face-identity conditioning of a video edit."""

    enabled: bool | None = None


class NormalsControl(_Request):
    """Surface-normals conditioning of a video edit."""

    enabled: bool | None = None
    augmentation: _Unit | None = None


class PoseControl(_Request):
    """Pose / skeleton conditioning of a video edit."""

    enabled: bool | None = None
    strength: PoseStrength | None = None


class TrajectoryControl(_Request):
    """Motion-trajectory conditioning of a video edit."""

    enabled: bool | None = None
    sparsity: _Unit | None = None


class AdvancedControls(_Request):
    """Per-signal manual conditioning of a video edit."""

    depth: DepthControl | None = None
    face: FaceControl | None = None
    normals: NormalsControl | None = None
    pose: PoseControl | None = None
    trajectory: TrajectoryControl | None = None


class VideoEditOptions(_Request):
    """Video-to-video edit controls (`video.edit`, type video_edit only)."""

    strength: VideoEditStrength | None = None
    auto_controls: bool | None = None
    controls: AdvancedControls | None = None
    keyframes: list[ImageRef] | None = None
    keyframe_indexes: list[int] | None = None


class VideoOptions(_Request):
    """Ray 3.2 options of video, video_edit and video_reframe."""

    duration: VideoDuration | None = None
    resolution: VideoResolution | None = None
    hdr: bool | None = None
    exr_export: bool | None = None
    loop: bool | None = None
    start_frame: ImageRef | None = None
    end_frame: ImageRef | None = None
    keyframes: list[ImageRef] | None = None
    keyframe_indexes: list[int] | None = None
    source_position: SourcePosition | None = None
    edit: VideoEditOptions | None = None


class LayeringOptions(_Request):
    """Options of a layering generation."""

    resolution: LayeringResolution | None = None


class GenerationRequest(_Request):
    """The body of POST /generations.

    Every cross-field rule of the contract is checked after the fields themselves are valid,
    and all breaches are reported together, each at the location of the field it concerns.
    """

    prompt: _Prompt
    type: GenerationType = "image"
    model: Model = "uni-1"
    aspect_ratio: AspectRatio | None = None
    style: Style | None = None
    output_format: OutputFormat | None = None
    image_ref: list[ImageRef] | None = None
    source: ImageRef | None = None
    video: VideoOptions | None = None
    layering: LayeringOptions | None = None
    web_search: bool | None = None
    user_id: _UserId | None = None

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        """Check the combinations the API refuses, reporting every breach at once."""
        problems = _Violations()
        _check_pairing(self, problems)
        _check_image_fields(self, problems)
        _check_source(self, problems)
        _check_video(self, problems)
        problems.raise_if_any(type(self).__name__)
        return self

    def to_wire(self) -> dict[str, Any]:
        """The JSON body: unset options omitted; `type` and `model` always present."""
        # They are never None, so exclude_none keeps them even when left at their defaults.
        return self.model_dump(mode="json", exclude_none=True)


def _check_pairing(request: GenerationRequest, problems: _Violations) -> None:
    """Model/type pairing, the layering prompt limit, and the layering options."""
    kind = request.type
    if kind in VIDEO_TYPES:
        if request.model != VIDEO_MODEL:
            problems.add(("model",), f"Video generations use model {VIDEO_MODEL}.", request.model)
    elif kind == "layering":
        # Inferred: the contract only names uni-1 for layering.
        if request.model != "uni-1":
            problems.add(("model",), "Layering runs on model uni-1.", request.model)
    elif request.model == VIDEO_MODEL:
        problems.add(
            ("model",),
            f"{VIDEO_MODEL} is the video model: choose uni-1 or uni-1-max for images.",
            request.model,
        )
    if kind == "layering" and len(request.prompt) > LAYERING_PROMPT_MAX:
        problems.add(
            ("prompt",),
            "For layering the prompt only guides the split: 500 characters at most.",
            request.prompt,
        )
    if request.layering is not None and kind != "layering":
        problems.add(("layering",), "Layering options are only for type layering.", kind)


def _check_image_fields(request: GenerationRequest, problems: _Violations) -> None:
    """Options of image generations: reference images, style, output format, web search."""
    kind = request.type
    if request.image_ref is not None:
        limit = MAX_IMAGE_REFS.get(kind)
        if limit is None:
            # Inferred: the contract gives limits for image and image_edit only.
            problems.add(
                ("image_ref",),
                "Reference images are only for image and image_edit"
                " (a video starts from video.start_frame or video.keyframes).",
                kind,
            )
        else:
            if len(request.image_ref) > limit:
                problems.add(
                    ("image_ref",),
                    f"At most {limit} reference images for {kind} "
                    f"(here: {len(request.image_ref)}).",
                    len(request.image_ref),
                )
            for index, ref in enumerate(request.image_ref):
                _check_image_media(ref, ("image_ref", index), problems)
    if kind not in IMAGE_TYPES:
        # Inferred: these shape a single still image. A false web_search asks for nothing.
        for name, label in (
            ("style", "A style"),
            ("output_format", "An output format"),
            ("web_search", "Web search"),
        ):
            value = getattr(request, name)
            if value is not None and value is not False:
                problems.add((name,), f"{label} only applies to image and image_edit.", value)


def _check_source(request: GenerationRequest, problems: _Violations) -> None:
    """`source` is the input of the edit, reframe and layering types, and of nothing else."""
    kind, source = request.type, request.source
    if kind not in SOURCE_TYPES:
        if source is not None:
            hint = (
                "start from video.start_frame or video.keyframes"
                if kind == "video"
                else "put reference images in image_ref, or choose image_edit"
            )
            problems.add(("source",), f"Type {kind} takes no source: {hint}.", kind)
        return
    if source is None:
        problems.add(("source",), f"A source is needed for {kind}: {SOURCE_TYPES[kind]}.", None)
    elif kind in VIDEO_TYPES:
        # The API must know it is a video before fetching a URL, hence media_type.
        if source.media_type is None and source.url is not None:
            problems.add(
                ("source", "media_type"),
                "A video URL needs its media_type, such as video/mp4.",
                None,
            )
        elif source.media_type is not None and not source.media_type.startswith("video/"):
            problems.add(
                ("source", "media_type"),
                f"The source of {kind} is a video: media_type must be video/*, such as video/mp4.",
                source.media_type,
            )
    else:
        _check_image_media(source, ("source",), problems)


def _check_image_media(ref: ImageRef, loc: _Loc, problems: _Violations) -> None:
    """A reference at an image position may state a media type, which must then be image/*."""
    if ref.media_type is not None and not ref.media_type.startswith("image/"):
        problems.add(
            (*loc, "media_type"),
            "This takes an image: media_type must be image/*, such as image/png.",
            ref.media_type,
        )


def _check_video(request: GenerationRequest, problems: _Violations) -> None:
    """The rules of `video` and `video.edit`."""
    kind, video = request.type, request.video
    if video is None:
        return
    if kind not in VIDEO_TYPES:
        problems.add(
            ("video",), "Video options are only for video, video_edit and video_reframe.", kind
        )
        return
    if video.loop:
        if kind != "video":
            problems.add(("video", "loop"), "Loop is only available for type video.", True)
        else:
            if video.duration == "10s":
                problems.add(("video", "loop"), "Loop is not available for 10-second videos.", True)
            if video.hdr:
                problems.add(("video", "loop"), "Loop is not available with HDR.", True)
            if video.keyframes is not None:
                problems.add(("video", "loop"), "Loop cannot be combined with keyframes.", True)
    if video.exr_export and not video.hdr:
        problems.add(("video", "exr_export"), "EXR export needs HDR: turn on hdr too.", True)
    if video.hdr and kind == "video_reframe":
        problems.add(("video", "hdr"), "HDR is not available for video_reframe.", True)
    if video.hdr and kind == "video" and video.resolution == "360p":
        problems.add(
            ("video", "resolution"),
            "360p is an SDR draft tier: choose 540p or higher for HDR.",
            "360p",
        )
    if video.duration is not None and kind == "video_edit":
        # Inferred from "output keeps the source's duration": there is nothing to choose.
        problems.add(
            ("video", "duration"),
            "A video edit keeps the source's duration: leave duration unset.",
            video.duration,
        )
    if video.source_position is not None and kind != "video_reframe":
        problems.add(
            ("video", "source_position"), "source_position is only for type video_reframe.", kind
        )
    # 1080p on video_reframe is left to the server: it depends on the caller's rollout.
    _check_frames(request, video, problems)
    _check_video_keyframes(request, video, problems)
    if video.edit is not None:
        if kind != "video_edit":
            problems.add(("video", "edit"), "Edit options are only for type video_edit.", kind)
        else:
            _check_anchors(
                video.edit.keyframes,
                video.edit.keyframe_indexes,
                ("video", "edit"),
                MAX_EDIT_FRAME,
                f"a source video of at most {MAX_EDIT_SOURCE_SECONDS} s "
                f"has frames 0 to {MAX_EDIT_FRAME}",
                problems,
            )


def _check_frames(request: GenerationRequest, video: VideoOptions, problems: _Violations) -> None:
    """start_frame / end_frame: the legacy two-frame surface of type video.

    start_frame is also the single-anchor guide of a video_edit (the SDK says edit keyframes are
    "mutually exclusive with video.start_frame"), so it is accepted there too.
    """
    kind = request.type
    for name, allowed in (("start_frame", ("video", "video_edit")), ("end_frame", ("video",))):
        frame: ImageRef | None = getattr(video, name)
        if frame is None:
            continue
        loc: _Loc = ("video", name)
        if kind not in allowed:
            problems.add(loc, f"{name} is only for type {' or '.join(allowed)}.", kind)
            continue
        _check_image_media(frame, loc, problems)
        if kind == "video_edit":
            if video.edit is not None and video.edit.keyframes is not None:
                problems.add(
                    loc,
                    "start_frame cannot be combined with edit keyframes:"
                    " give it as a keyframe instead.",
                    None,
                )
            continue
        if video.keyframes is not None:
            problems.add(
                loc, f"{name} cannot be combined with keyframes: give it as a keyframe.", None
            )
        # Inferred from the SDK: 10 s and HDR are what keyframes add over this surface.
        if video.duration == "10s":
            problems.add(
                loc, f"{name} works with 5-second videos only: use keyframes for 10 s.", None
            )
        if video.hdr:
            problems.add(loc, f"{name} does not support HDR: use keyframes for HDR.", None)


def _check_video_keyframes(
    request: GenerationRequest, video: VideoOptions, problems: _Violations
) -> None:
    """video.keyframes with keyframe_indexes: type video only, on the 24 fps output grid."""
    if request.type != "video":
        for name in ("keyframes", "keyframe_indexes"):
            if getattr(video, name) is not None:
                problems.add(
                    ("video", name),
                    "Keyframes are only for type video (a video edit takes edit keyframes).",
                    request.type,
                )
        return
    duration = video.duration or "5s"
    last = int(duration.removesuffix("s")) * FPS
    _check_anchors(
        video.keyframes,
        video.keyframe_indexes,
        ("video",),
        last,
        f"a {duration} video has frames 0 to {last}",
        problems,
    )


def _check_anchors(
    frames: Sequence[ImageRef] | None,
    indexes: Sequence[int] | None,
    base: _Loc,
    last: int,
    grid: str,
    problems: _Violations,
) -> None:
    """Keyframes with their parallel, unique, in-range frame indexes (0..last)."""
    frames_loc, indexes_loc = (*base, "keyframes"), (*base, "keyframe_indexes")
    if frames is None:
        if indexes is not None:
            problems.add(
                indexes_loc,
                "keyframe_indexes without keyframes: add the keyframes or drop the indexes.",
                indexes,
            )
        return
    if not 1 <= len(frames) <= MAX_KEYFRAMES:
        problems.add(
            frames_loc,
            f"Give between 1 and {MAX_KEYFRAMES} keyframes (here: {len(frames)}).",
            len(frames),
        )
    for position, ref in enumerate(frames):
        _check_image_media(ref, (*frames_loc, position), problems)
    if indexes is None:
        problems.add(
            indexes_loc, "Give keyframe_indexes: the frame where each keyframe sits.", None
        )
        return
    if len(indexes) != len(frames):
        problems.add(
            indexes_loc,
            f"Give one frame index per keyframe ({len(frames)} keyframes, {len(indexes)} indexes).",
            indexes,
        )
    seen: set[int] = set()
    for position, frame in enumerate(indexes):
        loc = (*indexes_loc, position)
        if frame < 0:
            problems.add(loc, f"Frame indexes start at 0, so {frame} is not one.", frame)
        elif frame > last:
            problems.add(loc, f"Frame {frame} is past the end: {grid}.", frame)
        elif frame in seen:
            problems.add(loc, f"Frame {frame} already holds another keyframe.", frame)
        seen.add(frame)


class FileCreateRequest(_Request):
    """The JSON body of POST /files, which starts a presigned upload."""

    mime_type: _MimeType
    size_bytes: Annotated[int, AfterValidator(_check_size)]
    filename: str | None = None
    purpose: FilePurpose | None = None
    # Aware only: a naive time would be read in whatever zone the server assumes.
    expires_at: AwareDatetime | None = None
    user_id: _UserId | None = None

    def to_wire(self) -> dict[str, Any]:
        """The JSON body, unset options omitted."""
        return self.model_dump(mode="json", exclude_none=True)


# --- Responses --------------------------------------------------------------------------------


class _Reply(BaseModel):
    """Base of the models we receive: fields added upstream later are kept, never refused."""

    model_config = ConfigDict(extra="allow")


class Layer(_Reply):
    """What one output of a layering generation is (index 0 is the front; last is background)."""

    index: int
    label: str
    description: str
    alpha_hint: str


class GenerationOutput(_Reply):
    """One output of a generation; `url` is presigned and expires after an hour."""

    type: str
    url: str
    layer: Layer | None = None


class Generation(_Reply):
    """A generation as returned by POST /generations and GET /generations/{id}."""

    id: str
    created_at: datetime
    # Plain str: a model added upstream must not make its generations unreadable.
    model: str
    type: GenerationType
    state: GenerationState
    # Plain str for the same reason (FAILURE_CODES are the documented ones).
    failure_code: str | None = None
    failure_reason: str | None = None
    output: list[GenerationOutput] = Field(default_factory=list)

    @field_validator("output", mode="before")
    @classmethod
    def _null_output(cls, value: object) -> object:
        """Read an explicit null (the SDK types output as optional) as no outputs."""
        return [] if value is None else value

    @property
    def is_terminal(self) -> bool:
        """True once the generation has completed or failed: polling can stop."""
        return self.state in ("completed", "failed")


class File(_Reply):
    """A file in the caller's namespace, referenced from generations as ImageRef.file_id."""

    id: str
    created_at: datetime
    mime_type: str
    purpose: FilePurpose
    size_bytes: int
    state: FileState
    deleted_at: datetime | None = None
    expires_at: datetime | None = None
    failure_reason: str | None = None
    filename: str | None = None
    user_id: str | None = None


class PresignedUpload(_Reply):
    """Where to PUT the bytes of a presigned upload, before POST /files/{id}/complete."""

    expires_at: datetime
    method: str
    url: str
    headers: dict[str, str] | None = None


class CreateFileResponse(_Reply):
    """The answer to POST /files; `upload` is set only in the presigned flow."""

    id: str
    file: File
    state: FileState
    upload: PresignedUpload | None = None


class FileList(_Reply):
    """One page of GET /files; pass next_cursor back as `cursor` while has_more."""

    data: list[File]
    has_more: bool
    next_cursor: str | None = None
