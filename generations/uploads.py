"""Files people upload for a job: checked from their bytes and kept with the job, for a provider
to send (never base64 in a request body, never a whole video in memory)."""

import hashlib
import mimetypes
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import File
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponse
from django.utils.text import get_valid_filename

from generations import media_probe
from generations.models import Generation, Input

MB = 1024 * 1024
# Markup a browser could run, looked for where content sniffers look: the first kilobyte. Real
# images and videos never carry it there (their XMP metadata is RDF, none of these tags), so a
# file that does is a page or a polyglot dressed as media. Later bytes are not searched: in
# compressed data a short tag turns up by chance, and the media view never lets a browser read
# a stored file as anything but its probed image or video type (serving.INLINE_TYPES).
ACTIVE_MARKUP = re.compile(
    rb"<(!doctype|html|head|body|script|iframe|svg|object|embed|meta)\b", re.IGNORECASE
)
SNIFFED_BYTES = 1024


class UploadRefused(ValueError):
    """An upload we will not send, with a message that says what to fix."""


# --- before a form's body is kept: its total size, and each file's ---

FORM_BODIES = ("multipart/form-data", "application/x-www-form-urlencoded")


class FormBodyLimitMiddleware:
    """Refuse a form body larger than LUMAWEB_MAX_REQUEST_MB from its Content-Length, before
    anything reads it (so before Django parses it into memory and temporary files). Other
    bodies (the simulators' presigned PUTs) are read by their own views, in bounded chunks."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        kind = str(request.META.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.LUMAWEB_MAX_REQUEST_MB
        if kind in FORM_BODIES and length > limit * MB:
            message = (
                f"This request is {length / MB:.0f} MB; the studio takes at most {limit:g} MB "
                "at once. Nothing was kept: send fewer or smaller files."
            )
            response = HttpResponse(message, status=413, content_type="text/plain")
            response["Connection"] = "close"  # the rest of the body is never read
            return response
        return self.get_response(request)


class CappedUploadHandler(FileUploadHandler):
    """Stop reading an uploaded file once it is larger than its kind may be (by its declared
    type: a video, else an image), before the rest is kept in memory or on disk. The file is
    left out of the request and `upload_refusals` says why, for the form to show."""

    limit_mb = 0.0
    received = 0

    def new_file(self, field_name: str, file_name: str, content_type: str, *args: Any,
                 **kwargs: Any) -> None:  # fmt: skip
        super().new_file(field_name, file_name, content_type, *args, **kwargs)
        video = (content_type or "").lower().startswith("video/")
        self.what = "videos" if video else "images"
        self.limit_mb = (
            settings.LUMAWEB_UPLOAD_MAX_VIDEO_MB if video else settings.LUMAWEB_UPLOAD_MAX_IMAGE_MB
        )
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit_mb * MB:
            refusals = upload_refusals(self.request)
            refusals[self.field_name] = (
                f"{self.file_name} is over {self.limit_mb:g} MB; "
                f"{self.what} may be at most {self.limit_mb:g} MB."
            )
            setattr(self.request, "upload_refusals", refusals)  # noqa: B010
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler keeps the file


def upload_refusals(request: Any) -> dict[str, str]:
    """Files CappedUploadHandler left out of this request, by field: why."""
    return dict(getattr(request, "upload_refusals", {}))


@dataclass(frozen=True)
class CheckedUpload:
    upload: UploadedFile
    mime_type: str
    width: int
    height: int
    duration: float | None
    sha256: str


def check_image(upload: UploadedFile) -> CheckedUpload:
    """An image upload read from its bytes: size, real format, pixel count, completeness."""
    _check_size(upload, settings.LUMAWEB_UPLOAD_MAX_IMAGE_MB, "Images")
    _check_not_active(upload, "an image")
    data = upload.read()
    upload.seek(0)
    try:
        info = media_probe.probe_image(data, max_pixels=settings.LUMAWEB_UPLOAD_MAX_PIXELS)
    except media_probe.MediaError as exc:
        if what := _document(data[:SNIFFED_BYTES]):
            raise UploadRefused(f"{upload.name} is {what}, not an image.") from None
        raise UploadRefused(f"{upload.name}: {exc}") from None
    return CheckedUpload(
        upload, info.mime_type, info.width, info.height, None, hashlib.sha256(data).hexdigest()
    )


def check_video(upload: UploadedFile, *, max_seconds: float | None = None) -> CheckedUpload:
    """A video upload probed from disk (large uploads are temporary files, not memory)."""
    _check_size(upload, settings.LUMAWEB_UPLOAD_MAX_VIDEO_MB, "Videos")
    _check_not_active(upload, "a video")
    limit = settings.LUMAWEB_UPLOAD_MAX_PIXELS
    try:
        if isinstance(upload, TemporaryUploadedFile):
            info = media_probe.probe_video(upload.temporary_file_path(), max_pixels=limit)
        else:
            info = media_probe.probe_video(upload.read(), max_pixels=limit)
            upload.seek(0)
    except media_probe.MediaError as exc:
        head = upload.read(SNIFFED_BYTES)
        upload.seek(0)
        if what := _document(head):
            raise UploadRefused(f"{upload.name} is {what}, not a video.") from None
        raise UploadRefused(f"{upload.name}: {exc}") from None
    if max_seconds is not None and info.duration > max_seconds:
        raise UploadRefused(
            f"{upload.name} is {info.duration:.1f} s long; video edits take "
            f"{max_seconds:g} s at most. Trim it and upload again."
        )
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return CheckedUpload(
        upload, info.mime_type, info.width, info.height, info.duration, digest.hexdigest()
    )


def _check_size(upload: UploadedFile, limit_mb: float, what: str) -> None:
    size = upload.size or 0
    if size == 0:
        raise UploadRefused(f"{upload.name} is empty.")
    if size > limit_mb * MB:
        raise UploadRefused(
            f"{upload.name} is {size / MB:.1f} MB; {what.lower()} may be at most {limit_mb:g} MB."
        )


# What a declared type a browser could run as a page or a script is, in plain words.
ACTIVE_TYPES = (
    ("html", "a web page"),
    ("svg", "an SVG drawing, which can carry scripts"),
    ("javascript", "a script"),
    ("ecmascript", "a script"),
    ("xml", "an XML document"),
    ("text/", "a text file"),
)


def _check_not_active(upload: UploadedFile, wanted: str) -> None:
    """Refuse a page or script dressed as media (`wanted`: "an image", "a video"): by the type
    the browser declared, or markup."""
    declared = (upload.content_type or "").lower()
    if declared.startswith("text/") or declared.endswith(("xml", "javascript", "ecmascript")):
        what = next(words for part, words in ACTIVE_TYPES if part in declared)
        raise UploadRefused(f"{upload.name} is {what}, not {wanted}. Upload {wanted} file.")
    head = upload.read(SNIFFED_BYTES)
    upload.seek(0)
    if found := ACTIVE_MARKUP.search(head):
        raise UploadRefused(
            f"{upload.name} contains web page markup (<{found.group(1).decode().lower()}>), "
            "which browsers could run. Only plain images and videos are accepted."
        )


def _document(head: bytes) -> str:
    """What a file that is no media is, in words, by its first bytes, or "" when they say
    nothing plain."""
    if head.startswith(b"%PDF-"):
        return "a PDF document"
    return "a text file" if _is_text(head) else ""


def _is_text(head: bytes) -> bool:
    """Whether a file's first bytes read as text (no media format starts like that)."""
    if not head or b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # only a character cut at the end of the sample
    return True


def _shown_name(upload: UploadedFile, extension: str) -> str:
    """The name the person gave the file, kept to letters, digits, - _ and . (or one we make)."""
    try:
        name = get_valid_filename(Path(upload.name or "").name)[-100:]
    except SuspiciousFileOperation:  # nothing left of it, e.g. "<>"
        name = ""
    return name or f"upload{extension}"


def store(
    checked: CheckedUpload,
    *,
    user: Any,
    role: str,
    key: uuid.UUID,
    generation: Generation | None,
) -> Input:
    """Keep a checked upload in storage as the job's Input under the key its request names; with
    no job, a pending upload of a refused form, kept for its next submit (`kept_token`).

    The stored name is ours (inputs/<key>/<role>.<extension of the probed type>): the name the
    person gave is only shown and sent upstream as the file's label, never used as a path.
    """
    extension = mimetypes.guess_extension(checked.mime_type) or ".bin"
    name = _shown_name(checked.upload, extension)
    item = Input(
        uuid=key,
        generation=generation,
        uploaded_by=user,
        role=role,
        original_name=name,
        mime_type=checked.mime_type,
        size_bytes=checked.upload.size or 0,
        sha256=checked.sha256,
        width=checked.width,
        height=checked.height,
        duration=checked.duration,
    )
    item.file.save(f"{role}{extension}", checked.upload, save=False)
    item.save()
    return item


# --- uploads kept across submits: a refused form's, what was just sent, a Remix's ---

KEPT_SALT = "lumaweb.uploads.kept"
# A refused form's uploads no job took are deleted by the sweep after this long.
PENDING_HOURS = 24


def kept_token(item: Input, user: Any) -> str:
    """An opaque token naming a stored upload for one person's next submit (a hidden field)."""
    return signing.dumps([str(item.uuid), user.pk], salt=KEPT_SALT)


def kept_input(token: str, user: Any) -> Input | None:
    """The upload a token names, if it was made for this person and the file is still kept."""
    try:
        wanted, owner = signing.loads(token, salt=KEPT_SALT)
        wanted = uuid.UUID(str(wanted))
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if user is None or owner != user.pk:
        return None
    return Input.objects.filter(uuid=wanted).first()


def copy_input(item: Input, *, key: uuid.UUID, generation: Generation) -> Input:
    """A kept upload as a new job's own Input (its own file: purging one job never takes another
    job's bytes); sent upstream again, as a new upload."""
    copy = Input(
        uuid=key,
        generation=generation,
        uploaded_by=item.uploaded_by,
        role=item.role,
        original_name=item.original_name,
        mime_type=item.mime_type,
        size_bytes=item.size_bytes,
        sha256=item.sha256,
        width=item.width,
        height=item.height,
        duration=item.duration,
    )
    with item.file.open("rb") as source:
        copy.file.save(Path(item.file.name).name, File(source), save=False)
    copy.save()
    return copy


def replace_placeholders(value: Any, replacements: dict[str, str]) -> Any:
    """A stored request with each of its inputs' placeholders replaced (by a file id, a public
    URL…): those values only, never text that merely begins like one (a prompt may)."""
    if isinstance(value, dict):
        return {key: replace_placeholders(item, replacements) for key, item in value.items()}
    if isinstance(value, list):
        return [replace_placeholders(item, replacements) for item in value]
    if isinstance(value, str):
        return replacements.get(value, value)
    return value


@contextmanager
def local_copy(item: Input) -> Iterator[Path]:
    """A path to the input's bytes: the stored file itself, or a streamed temporary copy."""
    try:
        path = Path(item.file.path)
    except NotImplementedError:
        path = None  # remote storage (S3): copy it down in chunks
    if path is not None:
        yield path
        return
    with tempfile.NamedTemporaryFile(suffix=Path(item.file.name).suffix) as handle:
        with item.file.open("rb") as source:
            for chunk in iter(lambda: source.read(MB), b""):
                handle.write(chunk)
        handle.flush()
        yield Path(handle.name)
