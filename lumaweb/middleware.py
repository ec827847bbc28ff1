"""A strict Content-Security-Policy: our own scripts and styles only, nothing inline.

No nonce either: no page has an inline script or style (tests/test_security.py checks every
page), so a nonce would only add a way in.

And Django's LoginRequiredMiddleware, asked in the other order; and a page in words for an
address visited that only takes a form.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import middleware as auth
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render


class LoginRequiredMiddleware(auth.LoginRequiredMiddleware):
    """Django's, but a view marked `login_not_required` is let through before the person is
    looked up (Django's reads `request.user` first, a query, whatever the view): the poll
    (generations/views.py) answers "nothing changed" without it."""

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], *args: Any
    ) -> HttpResponseBase | None:
        if not getattr(view_func, "login_required", True):
            return None
        return super().process_view(request, view_func, *args)


def media_sources() -> str:
    """Where output media may load from: us, plus the upstream's presigned URLs."""
    if settings.LUMA_SIMULATOR:
        parts = urlsplit(settings.LUMA_SIMULATOR_ROOT)
        return f"'self' {parts.scheme}://{parts.netloc}"
    return "'self' https:"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        media = media_sources()
        self.policy = "; ".join(
            [
                "default-src 'self'",
                "script-src 'self'",
                "style-src 'self'",
                f"img-src {media} data: blob:",
                f"media-src {media} blob:",
                "connect-src 'self'",
                "object-src 'none'",
                "base-uri 'self'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            ]
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.policy)
        return response


class MethodNotAllowedPageMiddleware:
    """Django answers a method a view does not take with an empty 405: a blank page for someone
    who typed /accounts/logout/ or followed a form's address. A browser asking for a page gets
    one that says so (with the top bar, and its Log out); a program keeps the bare answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if (
            response.status_code == 405
            and not response.streaming
            and not response.content  # type: ignore[attr-defined]
            and "text/html" in request.headers.get("Accept", "")
        ):
            page = render(request, "405.html", status=405)
            page["Allow"] = response.get("Allow", "")
            return page
        return response
