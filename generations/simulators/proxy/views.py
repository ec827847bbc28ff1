"""The simulated gateway over HTTP: the seed's paths, bodies and `{"detail": …}` errors."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from generations.simulators.api import Refusal, api, caller, json_body
from generations.simulators.models import SimGeneration

from . import engine


def _shape(request: HttpRequest) -> str:
    shape = request.headers.get("X-Sim-Shape") or settings.LUMA_SIM_PROXY_SHAPE
    if shape not in engine.SHAPES:
        raise Refusal(400, f"X-Sim-Shape: {shape!r} is not one of " + ", ".join(engine.SHAPES))
    return shape


def _base_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


@api
def generations(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        raise Refusal(405, "Method not allowed.")
    shape = _shape(request)
    body = engine.check_body(json_body(request))
    gen = engine.create(caller(request), body, shape)
    return JsonResponse(engine.accepted(gen, shape))


@api
def generation(request: HttpRequest, generation_id: uuid.UUID) -> HttpResponse:
    if request.method != "GET":
        raise Refusal(405, "Method not allowed.")
    shape = _shape(request)
    gen = SimGeneration.objects.filter(
        pk=generation_id, owner=caller(request), model=engine.MODEL
    ).first()
    if gen is None:
        raise Refusal(404, f"Generation {generation_id} not found.")
    return JsonResponse(engine.answer(gen, _base_url(request), shape))
