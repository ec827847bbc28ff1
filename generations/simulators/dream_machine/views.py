"""The simulated Dream Machine API v1 over HTTP: Luma's paths, bodies, errors and headers."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from generations.providers.dream_machine import schema
from generations.simulators.agents import engine as agents_engine
from generations.simulators.agents.views import _base_url, _strike_download, _validation_refusal
from generations.simulators.api import Refusal, api, caller, json_body, take_fault
from generations.simulators.models import DreamGeneration

from . import engine
from .callbacks import dispatcher

LIST_LIMIT_MAX = 1000
LIST_OFFSET_MAX = 10**9  # past any key's history; a larger number is no row a database can skip to
# The legacy camera-motion phrases (replaced by concepts).
CAMERA_MOTIONS = (
    "Static",
    "Move Left",
    "Move Right",
    "Move Up",
    "Move Down",
    "Push In",
    "Pull Out",
    "Zoom In",
    "Zoom Out",
    "Pan Left",
    "Pan Right",
    "Orbit Left",
    "Orbit Right",
    "Crane Up",
    "Crane Down",
)


def _method(request: HttpRequest, *allowed: str) -> None:
    if request.method not in allowed:
        raise Refusal(405, "Method not allowed.")


@api
def ping(request: HttpRequest) -> HttpResponse:
    _method(request, "GET")
    return JsonResponse({"message": "pong"})


@api
def credits(request: HttpRequest) -> HttpResponse:
    _method(request, "GET")
    return JsonResponse({"credit_balance": engine.balance(caller(request))})


@api
def concepts(request: HttpRequest) -> HttpResponse:
    _method(request, "GET")
    return JsonResponse(list(schema.CONCEPTS), safe=False)


@api
def camera_motions(request: HttpRequest) -> HttpResponse:
    _method(request, "GET")
    return JsonResponse(list(CAMERA_MOTIONS), safe=False)


@api
def generations(request: HttpRequest) -> HttpResponse:
    """GET lists the key's generations; POST is the older path of a video."""
    _method(request, "GET", "POST")
    if request.method == "POST":
        return _create(request, "video", {})
    limit = _number(request, "limit", 100, 1, LIST_LIMIT_MAX)
    offset = _number(request, "offset", 0, 0, LIST_OFFSET_MAX)
    mine = DreamGeneration.objects.filter(owner=caller(request))
    page = list(mine[offset : offset + limit])
    base = _base_url(request)
    return JsonResponse(
        {
            "generations": [engine.as_reply(gen, base) for gen in page],
            "count": len(page),
            "has_more": mine.count() > offset + len(page),
            "limit": limit,
            "offset": offset,
        }
    )


def _number(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    """A query parameter as a whole number from `low` to `high`; a 400, a malformed field,
    otherwise (an unbounded one reached the database, which holds no such number: a 500)."""
    raw = request.GET.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Refusal(400, f"{name} must be a whole number.") from None
    if not low <= value <= high:
        raise Refusal(400, f"{name} must be from {low} to {high}.")
    return value


@api
def create(request: HttpRequest, kind: str) -> HttpResponse:
    _method(request, "POST")
    return _create(request, kind, {})


@api
def chained(request: HttpRequest, generation_id: str, kind: str) -> HttpResponse:
    _method(request, "POST")
    return _create(request, kind, {"generation_id": generation_id})


def _create(request: HttpRequest, kind: str, extra: dict[str, Any]) -> HttpResponse:
    body = json_body(request)
    if not isinstance(body, dict):
        raise Refusal(400, "The body must be a JSON object.")
    given = body.get("generation_type", kind)
    if given != kind:
        raise Refusal(400, f"generation_type must be {kind} on this path, not {given!r}.")
    try:
        parsed = schema.REQUEST_MODELS[kind].model_validate(
            {**body, "generation_type": kind, **extra}
        )
    except ValidationError as exc:
        raise _validation_refusal(exc) from None
    owner, base = caller(request), _base_url(request)
    gen = engine.create(owner, parsed, base)
    if parsed.callback_url:
        url = parsed.callback_url
        transaction.on_commit(lambda: dispatcher.schedule(gen, url, base))
    return JsonResponse(engine.as_reply(gen, base), status=201)


@api
def generation(request: HttpRequest, generation_id: str) -> HttpResponse:
    _method(request, "GET", "DELETE")
    gen = engine.find(caller(request), generation_id)
    if gen is None:
        raise Refusal(404, f"Generation {generation_id} not found.")
    if request.method == "DELETE":
        engine.delete(gen)
        return HttpResponse(status=204)
    return JsonResponse(engine.as_reply(gen, _base_url(request)))


@csrf_exempt
@login_not_required
def asset(request: HttpRequest, generation_id: str, filename: str) -> HttpResponseBase:
    """A signed asset URL: no API key, but a valid, unexpired signature."""
    try:
        agents_engine.check_signature(
            request.path, request.GET.get("expires", ""), request.GET.get("signature", "")
        )
        gen = DreamGeneration.objects.filter(pk=generation_id, asset=filename).first()
        if gen is None:
            raise Refusal(404, "No such object.")
        fault = take_fault(request, gen.owner, download=True)
    except Refusal as refusal:
        return HttpResponse(refusal.detail, status=refusal.status, content_type="text/plain")
    path = agents_engine.media_dir() / gen.asset
    mime = {"png": "image/png", "jpg": "image/jpeg"}.get(filename.rpartition(".")[2], "video/mp4")
    if fault is not None:
        return _strike_download(request, fault, path, mime)
    response = FileResponse(path.open("rb"), content_type=mime)
    response["Cache-Control"] = "private, max-age=3600"
    return response
