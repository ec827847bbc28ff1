"""The simulated Agents API over HTTP: same paths, bodies, errors and headers as Luma's."""

from __future__ import annotations

import base64
import functools
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Q
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from generations import media_probe
from generations.providers.agents import schema
from generations.simulators.api import (
    Refusal,
    api,
    caller,
    cut_short,
    json_body,
    mangled,
    reset_connection,
    stall,
    take_fault,
)
from generations.simulators.clock import clock
from generations.simulators.models import SimFault, SimFile, SimGeneration, SimOutput

from . import engine

INLINE_UPLOAD_LIMIT = 10 * 1024 * 1024
# A presigned upload never completed within this long is deleted, bytes and all.
STALE_UPLOAD = timedelta(hours=1)
UPLOAD_CHUNK = 1024 * 1024
# How the object store behind the output URLs words a refusal (S3's error codes).
STORAGE_ERRORS = {
    403: ("AccessDenied", "Access Denied"),
    404: ("NoSuchKey", "The specified key does not exist."),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}


def _validation_refusal(exc: ValidationError) -> Refusal:
    """400 for malformed parameters, 422 for a documented combination that is refused."""
    problems = exc.errors()
    status = 422 if all(p["type"] == "luma_rule" for p in problems) else 400
    messages = []
    for problem in problems:
        where = ".".join(str(part) for part in problem["loc"])
        messages.append(f"{where}: {problem['msg']}" if where else problem["msg"])
    return Refusal(status, "; ".join(messages))


def _base_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


# --- /generations ---


@api
def generations(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        raise Refusal(405, "Method not allowed.")
    try:
        body = schema.GenerationRequest.model_validate(json_body(request))
    except ValidationError as exc:
        raise _validation_refusal(exc) from None
    owner = caller(request)
    limit = settings.LUMA_SIM_MAX_CONCURRENT
    if limit and _unfinished(owner) >= limit:
        raise Refusal(429, f"Too many unfinished generations: {limit} at a time.", retry_after=2.0)
    gen = engine.create_generation(owner, body)
    return JsonResponse(engine.as_reply(gen, _base_url(request)), status=201)


def _unfinished(owner: str) -> int:
    now = clock.now()
    count = 0
    for gen in SimGeneration.objects.filter(owner=owner, created_at__gte=now - timedelta(days=1)):
        if gen.state_at(now) in ("queued", "processing"):
            count += 1
    return count


@api
def generation(request: HttpRequest, generation_id: uuid.UUID) -> HttpResponse:
    if request.method != "GET":
        raise Refusal(405, "Method not allowed.")
    gen = SimGeneration.objects.filter(pk=generation_id, owner=caller(request)).first()
    if gen is None:
        raise Refusal(404, f"Generation {generation_id} not found.")
    return JsonResponse(engine.as_reply(gen, _base_url(request)))


@csrf_exempt
@login_not_required
def output(request: HttpRequest, output_id: uuid.UUID, filename: str) -> HttpResponseBase:
    """A presigned output URL: no API key, but a valid, unexpired signature."""
    try:
        engine.check_signature(
            request.path, request.GET.get("expires", ""), request.GET.get("signature", "")
        )
        item = SimOutput.objects.filter(pk=output_id, filename=filename).first()
        if item is None:
            raise Refusal(404, "No such object.")
        fault = take_fault(request, item.generation.owner, download=True)
    except Refusal as refusal:
        return HttpResponse(refusal.detail, status=refusal.status, content_type="text/plain")
    path = engine.media_dir() / item.filename
    if fault is not None:
        return _strike_download(request, fault, path, item.mime_type)
    response = FileResponse(path.open("rb"), content_type=item.mime_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _strike_download(
    request: HttpRequest, fault: SimFault, path: Path, mime_type: str
) -> HttpResponseBase:
    """A download gone wrong: the store refuses it, or the body stops halfway.

    `partial` just ends the body; `reset` then drops the connection, and `timeout` stalls
    first (a client's read timeout fires) and then ends it. The other kinds send the API's
    mangled bodies.
    """
    if fault.kind.isdigit():
        status = int(fault.kind)
        code, message = STORAGE_ERRORS.get(status, ("InjectedFault", f"Injected {status} fault."))
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message></Error>\n"
        )
        return HttpResponse(body, status=status, content_type="application/xml")
    if fault.kind not in ("partial", "reset", "timeout"):
        return mangled(fault.kind)
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(size // 2)
    at_cut: Callable[[], None] | None = None
    if fault.kind == "reset":
        at_cut = functools.partial(reset_connection, request)
    elif fault.kind == "timeout":
        at_cut = functools.partial(stall, fault)
    response = StreamingHttpResponse(cut_short(head, at_cut), content_type=mime_type)
    response["Content-Length"] = str(size)
    return response


# --- /files ---


@api
def files(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _list_files(request)
    if request.method != "POST":
        raise Refusal(405, "Method not allowed.")
    if request.content_type == "multipart/form-data":
        return _upload_inline(request)
    try:
        body = schema.FileCreateRequest.model_validate(json_body(request))
    except ValidationError as exc:
        raise _validation_refusal(exc) from None
    _check_mime(body.mime_type)
    limit = int(settings.LUMA_SIM_MAX_FILE_MB * 1024 * 1024)
    if body.size_bytes > limit:
        raise Refusal(413, f"Files are limited to {limit // 2**20} MiB here.")
    _delete_stale_uploads()
    file = SimFile.objects.create(
        owner=caller(request),
        mime_type=body.mime_type,
        size_bytes=body.size_bytes,
        filename=body.filename or "",
        purpose=body.purpose or "input",
        user_id=body.user_id or "",
        expires_at=body.expires_at,
    )
    path = reverse("luma_sim:upload", args=[file.id])
    upload = {
        "url": engine.signed_url(_base_url(request), path, ttl=3600),
        "method": "PUT",
        "headers": {"Content-Type": body.mime_type},
        "expires_at": (timezone.now() + timedelta(hours=1)).isoformat(),
    }
    return JsonResponse(_file_created(file, upload), status=201)


def _awaited_by_a_job(file: SimFile) -> bool:
    unrendered = SimGeneration.objects.filter(owner=file.owner, outputs__isnull=True)
    return any(str(file.id) in json.dumps(gen.request) for gen in unrendered)


def _delete_stale_uploads() -> None:
    """Presigned uploads nobody completed: their bytes must not pile up on disk."""
    stale = SimFile.objects.filter(uploaded=False, created_at__lt=timezone.now() - STALE_UPLOAD)
    for file in stale:
        engine.file_path(file).unlink(missing_ok=True)
    stale.delete()


def _check_mime(mime_type: str) -> None:
    if not mime_type.startswith(("image/", "video/")):
        raise Refusal(400, f"mime_type {mime_type!r} is not an image or video type.")


def _upload_inline(request: HttpRequest) -> HttpResponse:
    part = request.FILES.get("file")
    if part is None or part.size is None:
        raise Refusal(400, "The multipart body needs a `file` part.")
    if part.size > INLINE_UPLOAD_LIMIT:
        raise Refusal(
            413,
            f"Inline uploads are limited to {INLINE_UPLOAD_LIMIT // 2**20} MiB; "
            "use the presigned flow (a JSON body) for larger files.",
        )
    mime_type = request.POST.get("mime_type") or part.content_type or ""
    _check_mime(mime_type)
    purpose = request.POST.get("purpose") or "input"
    if purpose not in schema.FILE_PURPOSES:
        raise Refusal(400, "purpose must be one of " + ", ".join(schema.FILE_PURPOSES) + ".")
    file = SimFile.objects.create(
        owner=caller(request),
        mime_type=mime_type,
        size_bytes=part.size,
        filename=request.POST.get("filename") or part.name or "",
        purpose=purpose,
        user_id=request.POST.get("user_id") or "",
    )
    with engine.file_path(file).open("wb") as out:
        for chunk in part.chunks():
            out.write(chunk)
    _ingest(file)
    return JsonResponse(_file_created(file, None), status=201)


def _ingest(file: SimFile) -> None:
    """Probe the bytes now; the verdict shows once the simulated ingest time has passed."""
    path = engine.file_path(file)
    limit = settings.LUMA_SIM_MAX_PIXELS
    try:
        if file.mime_type.startswith("video/"):
            file.video_seconds = media_probe.probe_video(path, max_pixels=limit).duration
        else:
            media_probe.probe_image(path.read_bytes(), max_pixels=limit)
    except media_probe.MediaError as exc:
        file.failure_reason = str(exc)
    file.uploaded = True
    file.ready_at = clock.now() + timedelta(seconds=1.0 / max(settings.LUMA_SIM_SPEED, 1e-6))
    file.save()


def _file_json(file: SimFile) -> dict[str, Any]:
    data = {
        "id": str(file.id),
        "created_at": file.created_at.isoformat(),
        "mime_type": file.mime_type,
        "purpose": file.purpose,
        "size_bytes": file.size_bytes,
        "state": file.state_at(clock.now()),
        "deleted_at": file.deleted_at.isoformat() if file.deleted_at else None,
        "expires_at": file.expires_at.isoformat() if file.expires_at else None,
        "failure_reason": file.failure_reason or None,
        "filename": file.filename or None,
        "user_id": file.user_id or None,
    }
    return schema.File.model_validate(data).model_dump(mode="json")


def _file_created(file: SimFile, upload: dict[str, Any] | None) -> dict[str, Any]:
    record = _file_json(file)
    return {"id": record["id"], "state": record["state"], "file": record, "upload": upload}


def _list_files(request: HttpRequest) -> HttpResponse:
    try:
        limit = int(request.GET.get("limit", "25"))
    except ValueError:
        raise Refusal(400, "limit must be an integer from 1 to 100.") from None
    if not 1 <= limit <= 100:
        raise Refusal(400, "limit must be an integer from 1 to 100.")
    query = SimFile.objects.filter(owner=caller(request))
    if purpose := request.GET.get("purpose"):
        query = query.filter(purpose=purpose)
    if cursor := request.GET.get("cursor"):
        query = query.filter(_decode_cursor(cursor))
    page = list(query.order_by("-created_at", "-id")[: limit + 1])
    if state := request.GET.get("state"):
        now = clock.now()
        page = [f for f in page if f.state_at(now) == state]
    has_more = len(page) > limit
    page = page[:limit]
    next_cursor = _encode_cursor(page[-1]) if has_more and page else None
    return JsonResponse(
        {"data": [_file_json(f) for f in page], "has_more": has_more, "next_cursor": next_cursor}
    )


def _encode_cursor(file: SimFile) -> str:
    raw = f"{file.created_at.isoformat()}|{file.id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(cursor: str) -> Q:
    try:
        created, _, file_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        when = parse_datetime(created)
        uuid.UUID(file_id)
    except (ValueError, UnicodeDecodeError):
        when = None
    # Issued in UTC: at another offset a moment may lie past the calendar's ends once the
    # database has it in UTC (year 1 at +05:00 was a 500).
    if when is None or when.utcoffset() != timedelta(0):
        raise Refusal(400, "cursor is not one this API issued.")
    return Q(created_at__lt=when) | Q(created_at=when, id__lt=file_id)


@api
def file_detail(request: HttpRequest, file_id: uuid.UUID) -> HttpResponse:
    file = SimFile.objects.filter(pk=file_id, owner=caller(request)).first()
    if file is None:
        raise Refusal(404, f"File {file_id} not found.")
    if request.method == "DELETE":
        if not file.deleted_at:
            file.deleted_at = timezone.now()
            file.save(update_fields=["deleted_at"])
        # Soft-deleted for the API (GET still answers `deleted`); its bytes go as soon as no
        # accepted job still has to render from them.
        if not _awaited_by_a_job(file):
            engine.file_path(file).unlink(missing_ok=True)
        return HttpResponse(status=204)
    if request.method != "GET":
        raise Refusal(405, "Method not allowed.")
    return JsonResponse(_file_json(file))


@api
def file_complete(request: HttpRequest, file_id: uuid.UUID) -> HttpResponse:
    if request.method != "POST":
        raise Refusal(405, "Method not allowed.")
    file = SimFile.objects.filter(pk=file_id, owner=caller(request)).first()
    if file is None:
        raise Refusal(404, f"File {file_id} not found.")
    if not file.uploaded:
        path = engine.file_path(file)
        size = path.stat().st_size if path.exists() else 0
        if size != file.size_bytes:
            raise Refusal(409, f"Expected {file.size_bytes} bytes at the upload URL, found {size}.")
        _ingest(file)
    return JsonResponse(_file_json(file))


@csrf_exempt
@login_not_required
def upload(request: HttpRequest, file_id: uuid.UUID) -> HttpResponse:
    """The presigned PUT target: the raw bytes, streamed to disk."""
    if request.method != "PUT":
        return HttpResponse("Method not allowed.", status=405, content_type="text/plain")
    try:
        engine.check_signature(
            request.path, request.GET.get("expires", ""), request.GET.get("signature", "")
        )
    except Refusal as refusal:
        return HttpResponse(refusal.detail, status=refusal.status, content_type="text/plain")
    if "Authorization" in request.headers:
        # Like S3: a presigned URL is the credential, and a second one is refused.
        return HttpResponse(
            "Only one auth mechanism allowed: the URL is already signed.",
            status=400,
            content_type="text/plain",
        )
    file = SimFile.objects.filter(pk=file_id).first()
    if file is None or file.uploaded:
        return HttpResponse("No such pending upload.", status=404, content_type="text/plain")
    if request.content_type != file.mime_type:
        return HttpResponse(
            f"Content-Type must be {file.mime_type}, as signed.",
            status=403,
            content_type="text/plain",
        )
    received = 0
    with engine.file_path(file).open("wb") as out:
        while chunk := request.read(UPLOAD_CHUNK):
            received += len(chunk)
            if received > file.size_bytes:
                out.close()
                engine.file_path(file).unlink()
                return HttpResponse(
                    "More bytes than size_bytes declared.", status=400, content_type="text/plain"
                )
            out.write(chunk)
    return HttpResponse(status=200)
