"""The MCP endpoint and its media links.

/mcp takes a personal access token (`Authorization: Bearer …`), then hands the request to the
SDK's Streamable HTTP transport, stateless and answering in JSON, inside this ordinary Django
view: each request gets its own session manager, driven with `async_to_sync`, so the pages'
WSGI server and process model serve it too. A token is never a login: nothing here touches the
session, and a session cookie alone gets a 401.
"""

from collections.abc import MutableMapping
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.http.request import split_domain_port
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import INVALID_REQUEST

from generations.gallery import download_output
from generations.mcp.answers import unsign_media
from generations.mcp.server import CALLER, Caller, server
from generations.mcp.tokens import bearer_token, check_token

PATH = "/mcp"
# Django checks the Host header (ALLOWED_HOSTS); a bearer token, never a cookie, authenticates.
TRANSPORT_SECURITY = TransportSecuritySettings(enable_dns_rebinding_protection=False)


@csrf_exempt
@login_not_required
def endpoint(request: HttpRequest) -> HttpResponse:
    given = bearer_token(request.headers.get("Authorization", ""))
    token = check_token(given) if given else None
    if token is None:
        return unauthorized(bool(given))
    if request.method != "POST":
        # Stateless, answering each POST in JSON: no event stream to hold open (a GET held one
        # forever, its thread spinning), no session to end. The spec's answer is a 405.
        refused = JsonResponse({"error": ONLY_POST}, status=405)
        refused["Allow"] = "POST"
        return refused
    if request.content_type != "application/json":
        shown = request.content_type or "none"
        return invalid_request(
            400, f"Send each JSON-RPC message as Content-Type: application/json (not {shown})."
        )
    try:
        body = request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1024 / 1024
        return invalid_request(413, f"A message may be at most {limit:g} MB; this one is larger.")
    caller = Caller(user=token.user, base_url=request.build_absolute_uri("/").rstrip("/"))
    return async_to_sync(_serve)(request, body, caller)


ONLY_POST = (
    "Send each JSON-RPC message with POST: this server is stateless and answers in JSON, so "
    "there is no event stream to open (GET) and no session to end (DELETE)."
)


def invalid_request(status: int, message: str) -> JsonResponse:
    """A JSON-RPC "Invalid Request" error, as the SDK answers what it cannot read."""
    error = {"code": INVALID_REQUEST, "message": message}
    return JsonResponse({"jsonrpc": "2.0", "id": None, "error": error}, status=status)


def unauthorized(token_given: bool) -> JsonResponse:
    """401 with the challenge RFC 6750 describes; the body says what to do, for people."""
    challenge = 'Bearer realm="lumaweb"'
    if token_given:
        challenge += ', error="invalid_token", error_description="The token is unknown or revoked."'
        message = (
            "This token is unknown or was revoked. "
            "Make a new one on the studio's Agent tokens page (/tokens/)."
        )
    else:
        message = (
            "Send a personal access token: Authorization: Bearer <token>. "
            "Make one on the studio's Agent tokens page (/tokens/)."
        )
    response = JsonResponse({"error": message}, status=401)
    response["WWW-Authenticate"] = challenge
    return response


async def _serve(request: HttpRequest, body: bytes, caller: Caller) -> HttpResponse:
    """One request through the SDK's transport; its answer as a Django response."""
    app = server.streamable_http_app(
        streamable_http_path=PATH,
        stateless_http=True,
        json_response=True,
        transport_security=TRANSPORT_SECURITY,
    )
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        # The request, then its end: the client has nothing more to say in this exchange.
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    reset = CALLER.set(caller)
    try:
        async with app.router.lifespan_context(app):
            await app(_scope(request), receive, send)
    finally:
        CALLER.reset(reset)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    response = HttpResponse(content, status=start["status"])
    for name, value in start.get("headers", []):
        if name.lower() != b"content-length":
            response[name.decode("latin-1")] = value.decode("latin-1")
    return response


def _scope(request: HttpRequest) -> dict[str, Any]:
    """The ASGI scope of a Django request, at the SDK app's path."""
    host, port = split_domain_port(request.get_host())  # "[::1]:8000" too
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in request.headers.items()
        ],
        "server": (host, int(port or (443 if request.is_secure() else 80))),
        "client": (request.META.get("REMOTE_ADDR", ""), 0),
        "state": {},
    }


@login_not_required
@require_safe
def media(request: HttpRequest, signed: str) -> HttpResponseBase:
    """An output behind a signed, expiring link from an MCP answer: no login, no cookie."""
    named = unsign_media(signed)
    if named is None:
        return HttpResponse(
            "This link is broken or has expired; ask get_generation for a fresh one.",
            status=403,
            content_type="text/plain",
        )
    uuid, index = named
    return download_output(request, uuid, index)
