"""Sending stored media (no view here: media_views.py has the views that call `serve`).

Whitenoise serves static files, never user media. Django streams the file itself by default (with
single byte ranges, which video seeking needs); in production, LUMAWEB_MEDIA_ACCEL hands the
sending to nginx (X-Accel-Redirect) or Apache (X-Sendfile) after the view allowed it, and a
remote store (S3) gets a redirect to a short-lived signed URL. See docs/deploy.md.

Nothing stored is ever shown as a page: only image and video types are sent for display, by the
stored name's extension (a name we chose: uploads by their probed type, outputs by archive.py);
anything else, whatever its bytes, goes as opaque bytes to be downloaded. SecurityMiddleware adds
`X-Content-Type-Options: nosniff` to every response, so browsers keep to the type we send.
"""

import os
import posixpath
import re
from collections.abc import Iterator
from typing import IO
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.utils.http import http_date, parse_http_date_safe

# Only what the archive and uploads write; nothing else under MEDIA_ROOT is reachable.
SERVED_PREFIXES = ("outputs/", "inputs/")
# The only types a stored file is sent as for display (never HTML, SVG or script).
INLINE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
}
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# A position of more digits than any file's size has is past its end (Python reads no number of
# over 4,300 digits at all): "to the end" for a last byte, nothing for a first.
MAX_POSITION_DIGITS = 18
CHUNK = 256 * 1024


def serve(request: HttpRequest, name: str, *, download_as: str = "") -> HttpResponseBase:
    """Send a stored file (or hand it to the web server) as an image or video to show, else as
    a download; `download_as` makes any file a download under that name."""
    name = _checked(name)
    content_type = INLINE_TYPES.get(posixpath.splitext(name)[1].lower())
    if content_type is None:
        content_type = "application/octet-stream"
        download_as = download_as or posixpath.basename(name)
    try:
        path = default_storage.path(name)
    except NotImplementedError:
        return _redirect_to_store(name, download_as)
    accel = settings.LUMAWEB_MEDIA_ACCEL
    if accel:
        if not default_storage.exists(name):
            raise Http404("No such file.")
        response: HttpResponseBase = HttpResponse(content_type=content_type)
        if accel == "x-accel":
            response["X-Accel-Redirect"] = settings.LUMAWEB_MEDIA_ACCEL_PREFIX + quote(name)
        else:
            response["X-Sendfile"] = path
    else:
        response = _file_response(request, path, content_type)
    if download_as:
        response["Content-Disposition"] = attachment(download_as)
    response["Cache-Control"] = "private, max-age=86400"
    return response


def _checked(name: str) -> str:
    normal = posixpath.normpath(name)
    if normal != name or not name.startswith(SERVED_PREFIXES) or "\\" in name or "\0" in name:
        raise Http404("No such file.")
    return name


def _redirect_to_store(name: str, download_as: str) -> HttpResponseBase:
    if download_as:
        disposition = {"ResponseContentDisposition": attachment(download_as)}
        try:
            return HttpResponseRedirect(default_storage.url(name, parameters=disposition))  # type: ignore[call-arg]
        except TypeError:
            pass
    return HttpResponseRedirect(default_storage.url(name))


def attachment(filename: str) -> str:
    """A Content-Disposition that downloads under `filename`, whatever its characters."""
    ascii_name = filename.encode("ascii", "ignore").decode() or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def _file_response(request: HttpRequest, path: str, content_type: str) -> HttpResponseBase:
    try:
        handle = open(path, "rb")  # noqa: SIM115 -- the response closes it
    except (FileNotFoundError, IsADirectoryError):
        raise Http404("No such file.") from None
    stat = os.fstat(handle.fileno())
    size, modified = stat.st_size, stat.st_mtime
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    if since is not None and int(modified) <= since:
        handle.close()
        return HttpResponse(status=304, content_type=content_type)
    wanted = _byte_range(request.headers.get("Range", ""), size)
    if wanted is None:
        response: HttpResponseBase = FileResponse(handle, content_type=content_type)
    else:
        start, end = wanted
        handle.seek(start)
        response = StreamingHttpResponse(
            _read(handle, end - start + 1), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    response["Last-Modified"] = http_date(modified)
    return response


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The one byte range asked for, clipped to the file; anything else gets the whole file."""
    match = RANGE.match(header.strip())
    if not match or size == 0:
        return None
    first, last = match.groups()
    if first:
        start = _position(first)
        end = min(_position(last), size - 1) if last else size - 1
    elif last:
        start, end = max(0, size - _position(last)), size - 1
    else:
        return None
    return (start, end) if start <= end < size else None


def _position(digits: str) -> int:
    return int(digits) if len(digits) <= MAX_POSITION_DIGITS else 10**MAX_POSITION_DIGITS


def _read(handle: IO[bytes], length: int) -> Iterator[bytes]:
    with handle:
        while length > 0:
            chunk = handle.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
