"""The HTTP surface every simulator shares: bearer auth, rate limits, injected faults, JSON errors.

A simulator in demo mode shares the studio's port and takes any bearer token (each token is its
own customer), so nothing here may let one caller hurt another or the studio:
* faults are owned by the token that queued them and strike only that token's calls (and the
  downloads of its outputs); a fault is looked at only after authentication;
* a stall lasts at most MAX_FAULT_DELAY seconds, and at most MAX_STALLS requests stall at once;
* a fault's count and delay are checked numbers, refused in plain words otherwise.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from generations.simulators.models import SimCall, SimFault

API_VERSION = "2026-11-01-sim"
# Besides these, any HTTP status from 400 to 599 is a fault kind ("503", "429", ...).
FAULT_KINDS = ("timeout", "reset", "malformed", "truncated", "partial", "missing_fields")
MAX_FAULT_COUNT = 100
MAX_FAULT_DELAY = 60.0
MAX_STALLS = 2
_stalls = threading.BoundedSemaphore(MAX_STALLS)

View = Callable[..., HttpResponse]


class Refusal(Exception):
    """A request the simulated API refuses with an HTTP status and a `detail`."""

    def __init__(self, status: int, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


def owner_of(token: str) -> str:
    """The customer a bearer token stands for (a hash: tokens are never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def api(view: View) -> View:
    """Wrap an API view: bearer auth, rate limits, the caller's injected faults, JSON errors."""

    @csrf_exempt
    @login_not_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        try:
            owner = _authenticate(request)
            request.sim_owner = owner  # type: ignore[attr-defined]
            fault = take_fault(request, owner)
            if fault is not None and not fault.after:
                response = _strike_before(fault)
            else:
                _rate_limit(owner)
                response = view(request, *args, **kwargs)
                if fault is not None:
                    response = _strike_after(request, fault, response)
        except Refusal as refusal:
            response = JsonResponse({"detail": refusal.detail}, status=refusal.status)
            if refusal.retry_after is not None:
                response["Retry-After"] = str(max(1, round(refusal.retry_after)))
        response["X-Request-Id"] = request_id
        response["X-API-Version"] = API_VERSION
        return response

    return wrapper


def caller(request: HttpRequest) -> str:
    """The customer an `api` view is answering."""
    return request.sim_owner  # type: ignore[attr-defined,no-any-return]


def json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):  # nested too deep
        raise Refusal(400, "The body is not valid JSON.") from None


def _authenticate(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refusal(401, "Missing or invalid API key. Send Authorization: Bearer <key>.")
    return owner_of(token.strip())


def _rate_limit(owner: str) -> None:
    rpm = settings.LUMA_SIM_RPM
    if not rpm:
        return
    now = timezone.now()
    window = now - timedelta(seconds=60)
    SimCall.objects.filter(at__lt=window).delete()
    calls = SimCall.objects.filter(owner=owner, at__gte=window).order_by("at")
    if (count := calls.count()) >= rpm:
        oldest = calls.values_list("at", flat=True)[0]
        wait = (oldest + timedelta(seconds=60) - now).total_seconds()
        raise Refusal(
            429, f"Rate limit exceeded: {count} of {rpm} requests per minute.", retry_after=wait
        )
    SimCall.objects.create(owner=owner, at=now)


def _relative(path: str) -> str:
    """A path without the simulators' mount point and its simulator's prefix (/sim/v1, …)."""
    path = path.removeprefix("/sim")
    for prefix in sorted(settings.LUMA_SIMULATOR_PATHS.values(), key=len, reverse=True):
        if path.startswith(prefix + "/"):
            return path.removeprefix(prefix)
    return path


def take_fault(request: HttpRequest, owner: str, *, download: bool = False) -> SimFault | None:
    """The fault this call of `owner` must suffer: a one-off header, else their oldest match.

    A fault's path may be given with or without its simulator's prefix. Output downloads are
    struck only by queued faults whose path names them, never by a fault meant for the API.
    """
    if header := request.headers.get("X-Sim-Fault"):
        kind, _, after = header.partition(";")
        if not _is_fault_kind(kind.strip()):
            raise Refusal(400, f"X-Sim-Fault: {kind.strip()!r} is not a fault kind.")
        return SimFault(owner=owner, kind=kind.strip(), after=after.strip() == "after")
    path = _relative(request.path)
    if path.startswith("/_sim/"):
        return None  # the controls themselves never misbehave
    for fault in SimFault.objects.filter(owner=owner, remaining__gt=0):
        if fault.method and fault.method != request.method:
            continue
        if fault.path and not path.startswith(_relative(fault.path)):
            continue
        if download and not fault.path:
            continue
        if SimFault.objects.filter(pk=fault.pk, remaining=fault.remaining).update(
            remaining=F("remaining") - 1
        ):
            return fault
    return None


def _is_fault_kind(kind: str) -> bool:
    return kind in FAULT_KINDS or (kind.isdigit() and 400 <= int(kind) <= 599)


def _strike_before(fault: SimFault) -> HttpResponse:
    """A refusal before any work is done: nothing is created."""
    if fault.kind == "timeout":
        stall(fault)
        raise Refusal(504, "Gateway timeout (injected).")
    if fault.kind.isdigit():
        retry_after = 1.0 if fault.kind == "429" else None
        raise Refusal(int(fault.kind), f"Injected {fault.kind} fault.", retry_after=retry_after)
    return mangled(fault.kind)


def _strike_after(request: HttpRequest, fault: SimFault, response: HttpResponse) -> HttpResponse:
    """The work is done (a job may exist) but the reply is lost or mangled."""
    if fault.kind == "timeout":
        stall(fault)
        return response
    if fault.kind == "reset":
        reset_connection(request)
        return mangled("partial")
    if fault.kind.isdigit():
        return JsonResponse({"detail": f"Injected {fault.kind} fault."}, status=int(fault.kind))
    return mangled(fault.kind)


def stall(fault: SimFault) -> None:
    """Hold the request like a hung upstream: bounded, and never more than MAX_STALLS at once."""
    if not _stalls.acquire(blocking=False):
        return
    try:
        time.sleep(min(fault.delay or settings.LUMA_SIM_FAULT_DELAY, MAX_FAULT_DELAY))
    finally:
        _stalls.release()


def mangled(kind: str) -> HttpResponse:
    if kind == "malformed":
        return HttpResponse(b"<html>upstream error</html>", content_type="application/json")
    if kind == "truncated":
        return HttpResponse(b'{"id": "3f1c', content_type="application/json")
    if kind == "missing_fields":
        return JsonResponse({"id": str(uuid.uuid4()), "model": "uni-1"})
    # "partial" and a reset without a reachable socket: a body shorter than its Content-Length.
    response = HttpResponse(cut_short(b'{"id": "'), content_type="application/json")
    response["Content-Length"] = "4096"
    return response


def cut_short(head: bytes, at_cut: Callable[[], None] | None = None) -> Iterator[bytes]:
    """A body that ends after `head`, whatever its Content-Length promised; `at_cut` runs then."""
    yield head
    if at_cut is not None:
        at_cut()


def reset_connection(request: HttpRequest) -> None:
    """Drop the TCP connection under the request, when the server lets us reach it."""
    sock = request.META.get("gunicorn.socket") or request.META.get("lumaweb.socket")
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        # Close the descriptor itself: sock.close() waits for the server's makefile() readers
        # (wsgiref has one), so the reset would come only when the server hangs up.
        os.close(sock.detach())


# --- fault injection controls: each caller sees and clears only its own faults ---


@api
def faults(request: HttpRequest) -> HttpResponse:
    owner = caller(request)
    if request.method == "DELETE":
        SimFault.objects.filter(owner=owner).delete()
        return HttpResponse(status=204)
    if request.method == "GET":
        queued = SimFault.objects.filter(owner=owner, remaining__gt=0)
        return JsonResponse({"data": list(queued.values(*FAULT_FIELDS))})
    if request.method != "POST":
        raise Refusal(405, "Method not allowed.")
    fault = SimFault.objects.create(owner=owner, **_fault_fields(json_body(request)))
    return JsonResponse(
        {"id": fault.pk, "kind": fault.kind, "remaining": fault.remaining}, status=201
    )


FAULT_FIELDS = ("id", "kind", "remaining", "method", "path", "after", "delay", "created_at")


def _fault_fields(body: Any) -> dict[str, Any]:
    """A queued fault's fields from a request body, each checked; a Refusal says what is wrong."""
    if not isinstance(body, dict) or not _is_fault_kind(str(body.get("kind"))):
        raise Refusal(
            400, "kind must be an HTTP status from 400 to 599 or one of " + ", ".join(FAULT_KINDS)
        )
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_FAULT_COUNT:
        raise Refusal(400, f"count must be a whole number from 1 to {MAX_FAULT_COUNT}.")
    delay = body.get("delay")
    if delay is not None and (
        isinstance(delay, bool)
        or not isinstance(delay, int | float)
        or not 0 <= delay <= MAX_FAULT_DELAY
    ):
        raise Refusal(400, f"delay must be a number of seconds from 0 to {MAX_FAULT_DELAY:g}.")
    return {
        "kind": str(body["kind"]),
        "remaining": count,
        "method": str(body.get("method", "")).upper()[:8],
        "path": str(body.get("path", ""))[:128],
        "after": bool(body.get("after", False)),
        "delay": delay,
    }
