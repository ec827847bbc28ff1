"""The resellers' "Luma proxy" dialect (luma-api.md §3, seed 003), as pydantic v2 models.

The request is the seed's: `POST /luma/generations` with `user_prompt` and six options. Answers
differ between gateways, so they are read defensively (`read_answer`): flat or wrapped as
`{code, message, data: {…}}`, the video at `video.url`, `video.download_url` or elsewhere,
unknown fields and states kept. Whatever cannot be understood is said in plain words.
"""

import base64
import binascii
from typing import Annotated, Any, Literal, TypeAlias, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

from generations.providers.base import failure_code_for

AspectRatio: TypeAlias = Literal["1:1", "4:3", "3:4", "16:9", "9:16"]
ASPECT_RATIOS: tuple[str, ...] = get_args(AspectRatio)
PROMPT_MAX = 6000  # inferred: the seed states no limit; the Agents API's is used
# The image fields carry a URL, base64, or (in a stored request) a reference to the studio's
# own media, resolved when the job is sent: an upload, or a finished piece of the gallery.
INPUT_REFERENCE = "lumaweb-input:"
PIECE_REFERENCE = "lumaweb-piece:"
IMAGE_FIELDS = {"image_url": "start image", "image_end_url": "end image"}

# The dialect's states, and the synonyms gateways were seen or are likely to use (inferred),
# in the studio's words. Anything else is kept verbatim and read as "still working".
STATES = {
    "pending": "queued",
    "queued": "queued",
    "submitted": "queued",
    "processing": "processing",
    "running": "processing",
    "dreaming": "processing",
    "completed": "completed",
    "succeeded": "completed",
    "success": "completed",
    "failed": "failed",
    "failure": "failed",
    "error": "failed",
    "cancelled": "failed",
}
# Where gateways put the finished video, most specific first (dotted paths into the answer).
VIDEO_PATHS = (
    "video.url",
    "video.download_url",
    "video_raw.url",
    "video_raw.download_url",
    "video",
    "video_url",
    "url",
    "assets.video",
    "output.url",
)
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm")


def _refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError("proxy_field", message)


def _check_prompt(value: str) -> str:
    if not value.strip():
        raise _refuse("Write a prompt.")
    if len(value) > PROMPT_MAX:
        raise _refuse(f"The prompt is {len(value)} characters long: {PROMPT_MAX} at most.")
    return value


def _check_image(value: str) -> str:
    """A URL, base64 image data, or a studio reference (in a stored request)."""
    if value.startswith((INPUT_REFERENCE, PIECE_REFERENCE)):
        return value
    if value.startswith(("http://", "https://")):
        try:
            host = urlsplit(value).hostname
        except ValueError:
            host = None
        if not host:
            raise _refuse("Give a full http:// or https:// URL.")
        return value
    data = value.split(",", 1)[1] if value.startswith("data:") and "," in value else value
    try:
        decoded = base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        decoded = b""
    if not decoded:
        raise _refuse("Give an image URL (http:// or https://) or the image as base64.")
    return value


def _check_hook(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise _refuse("notify_hook must be an http:// or https:// URL.")
    return value


class ProxyRequest(BaseModel):
    """The body of POST /luma/generations. An unknown key is a typo, so it is refused."""

    model_config = ConfigDict(extra="forbid")

    user_prompt: Annotated[str, AfterValidator(_check_prompt)]
    expand_prompt: bool | None = None
    image_url: Annotated[str, AfterValidator(_check_image)] | None = None
    image_end_url: Annotated[str, AfterValidator(_check_image)] | None = None
    notify_hook: Annotated[str, AfterValidator(_check_hook)] | None = None
    loop: bool | None = None
    aspect_ratio: AspectRatio | None = None

    def to_wire(self) -> dict[str, Any]:
        """The JSON body, unset options left out."""
        return self.model_dump(mode="json", exclude_none=True)


class JSONObject(BaseModel):
    """Any JSON object a gateway answers with, kept whole (interpreted by `read_answer`)."""

    model_config = ConfigDict(extra="allow")


class AnswerProblem(ValueError):
    """A gateway's answer that cannot be read as a job; `reported` when it says it failed."""

    def __init__(self, message: str, *, reported: bool = False, code: int | None = None) -> None:
        super().__init__(message)
        self.reported = reported
        self.code = code


class ProxyJob(BaseModel):
    """A job as a gateway describes it, in the studio's words; `raw` is the answer verbatim."""

    id: str
    state: str  # the studio's: queued, processing, completed, failed
    upstream_state: str  # the gateway's own word, kept even when unknown
    video_url: str = ""
    failure_code: str = ""
    failure_reason: str = ""
    raw: dict[str, Any]


def read_answer(answer: dict[str, Any], *, accepted: bool = False) -> ProxyJob:
    """Read a gateway's answer about one job, flat or wrapped; AnswerProblem says what is wrong.

    The answer to a submission (`accepted`) with a job id but no state is a job just accepted.
    """
    job = unwrap(answer)
    job_id = job.get("id") or job.get("task_id") or job.get("generation_id")
    if not isinstance(job_id, str | int) or isinstance(job_id, bool) or not str(job_id).strip():
        raise AnswerProblem(f"The answer has no job id (keys: {_keys(job)}).")
    word = job.get("state", job.get("status"))
    if word is None and accepted:
        word = "pending"
    if not isinstance(word, str) or not word.strip():
        raise AnswerProblem(f"The answer has no state (keys: {_keys(job)}).")
    state = STATES.get(word.strip().lower(), "processing")
    video = find_video(job) if state == "completed" else ""
    reason = job.get("failure_reason") or job.get("fail_reason") or job.get("error") or ""
    code = failure_code_for(str(reason)) if state == "failed" else ""
    if state == "completed" and not video:
        state, code = "failed", "output_not_found"
        reason = (
            "The gateway says the video is done but its answer has no video URL "
            f"(looked at {', '.join(VIDEO_PATHS)})."
        )
    return ProxyJob(
        id=str(job_id),
        state=state,
        upstream_state=word,
        video_url=video,
        failure_code=code,
        failure_reason=reason if isinstance(reason, str) else str(reason),
        raw=answer,
    )


def unknown_state(answer: dict[str, Any]) -> str:
    """The gateway's word for a job's state in a kept answer when it is none the studio knows."""
    try:
        job = unwrap(answer)
    except AnswerProblem:
        return ""
    word = job.get("state", job.get("status"))
    if isinstance(word, str) and word.strip().lower() not in STATES:
        return word
    return ""


def unwrap(answer: dict[str, Any]) -> dict[str, Any]:
    """The job inside a `{code, message, data}` envelope, or the answer itself when flat.

    An envelope whose code is not a success (0, 200, "ok"), or an answer with no job but an
    error message, is the gateway reporting an error, whatever the HTTP status said.
    """
    if "id" in answer:
        return answer
    if _is_error_envelope(answer):
        raise _reported(answer)
    data = answer.get("data")
    if isinstance(data, dict):
        return data
    if any(answer.get(key) for key in ("detail", "error", "message", "msg")):
        raise _reported(answer)
    return answer


def _is_error_envelope(answer: dict[str, Any]) -> bool:
    if answer.get("success") is False:
        return True
    if "code" not in answer:
        return False
    code = answer["code"]
    if isinstance(code, bool):
        return not code
    if isinstance(code, int):
        return code not in (0, 200)
    if isinstance(code, str):
        return code.strip().lower() not in ("0", "200", "ok", "success")
    return code is not None


def _reported(answer: dict[str, Any]) -> AnswerProblem:
    message = answer.get("message") or answer.get("msg") or answer.get("detail") or "no message"
    code = answer.get("code")
    status = code if isinstance(code, int) and not isinstance(code, bool) else None
    return AnswerProblem(
        f"The gateway reported an error (code {code!r}): {message}", reported=True, code=status
    )


def find_video(job: dict[str, Any]) -> str:
    """The finished video's URL: at a known path, else any URL that looks like a video."""
    for path in VIDEO_PATHS:
        value: Any = job
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
    for text in _strings(job):
        if text.startswith(("http://", "https://")) and _path(text).endswith(VIDEO_SUFFIXES):
            return text
    return ""


def _path(url: str) -> str:
    try:
        return urlsplit(url).path.lower()
    except ValueError:
        return ""


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _keys(job: dict[str, Any]) -> str:
    return ", ".join(sorted(job)) or "none"
