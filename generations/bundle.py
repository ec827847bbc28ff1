"""Many pieces as one ZIP, streamed to the browser in constant memory whatever their size.

zipstream-ng writes the archive as the response is read: each file is read from storage in 64 KiB
chunks while it is being sent, and only the central directory (a few hundred bytes a file) stays
in memory. It is chosen over the standard library's zipfile on a generator because, with stored
(uncompressed: images and videos do not shrink) entries of known sizes, it knows the archive's
length before the first byte, so the browser shows real progress and an end time; it also switches
to ZIP64 by itself past 4 GB, where zipfile needs each entry opened with `force_zip64`.
"""

import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.files.storage import default_storage
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify
from zipstream import ZipStream

from generations.gallery import download_name
from generations.models import Generation, Output
from generations.serving import attachment

CHUNK = 64 * 1024


def _read(name: str) -> Iterator[bytes]:
    with default_storage.open(name, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _piece(generation: Generation, files: list[str], missing: list[int]) -> dict[str, Any]:
    return {
        "id": str(generation.uuid),
        "prompt": generation.prompt,
        "kind": generation.kind,
        "model": generation.model,
        "provider": generation.provider,
        "by": generation.created_by.get_username(),
        "created_at": generation.created_at.isoformat(),
        "settings": generation.request,
        "files": files,
        "outputs_not_archived": missing,
    }


def zip_stream(pieces: Iterable[Generation], title: str) -> ZipStream:
    """The archive of `pieces`' archived outputs under readable names, with `manifest.json` (every
    piece's prompt and settings, and which outputs are not archived yet and so left out)."""
    stream = ZipStream(sized=True)
    manifest: list[dict[str, Any]] = []
    taken: set[str] = {"manifest.json"}
    for generation in pieces:
        files: list[str] = []
        missing: list[int] = []
        output: Output
        for output in generation.outputs.all():
            if not output.is_archived:
                missing.append(output.index)
                continue
            arcname = _unique(download_name(output), taken)
            stream.add(
                _read(output.file.name), arcname, size=default_storage.size(output.file.name)
            )
            files.append(arcname)
        manifest.append(_piece(generation, files, missing))
    body = {"title": title, "made_at": timezone.now().isoformat(), "pieces": manifest}
    stream.add(json.dumps(body, indent=2, ensure_ascii=False).encode(), "manifest.json")
    return stream


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, extension = name.rpartition(".")
    number = 1
    while name in taken:
        number += 1
        name = f"{stem}-{number}{dot}{extension}"
    taken.add(name)
    return name


def zip_response(pieces: Iterable[Generation], title: str) -> StreamingHttpResponse:
    """`pieces` as a ZIP download named after `title`, with its length known in advance."""
    stream = zip_stream(pieces, title)
    response = StreamingHttpResponse(stream, content_type="application/zip")
    response["Content-Length"] = str(len(stream))
    name = slugify(title)[:60] or "lumaweb"
    response["Content-Disposition"] = attachment(f"{name}-{timezone.now():%Y-%m-%d}.zip")
    return response


def downloadable(pieces: Any) -> Any:
    """A queryset of pieces with what the archive reads, in a fixed order."""
    return pieces.select_related("created_by").prefetch_related("outputs").order_by("created_at")
