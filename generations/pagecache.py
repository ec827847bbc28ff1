"""Rendered pages kept per viewer until anything they show changes.

A gallery page costs 20-30 ms to render (24 cards); serving it again costs a tenth of a
millisecond. An entry is keyed by what the page depends on:

- the database's change counter (`ChangeCounter`, bumped by triggers on every write a page could
  show: jobs, outputs, inputs, events, stars, people), read with one statement per request;
- the viewer (their stars, their delete links, staff links) and their browser's CSRF cookie (the
  forms in the page carry a token for it);
- the path with its query, and the htmx headers the views answer differently to.

Entries also expire after `LUMAWEB_PAGE_CACHE_SECONDS` (30 s), which bounds what changes with the
clock alone: "5 min ago" labels, and the presigned URLs a page shows, which stay valid for
`LUMAWEB_URL_SAFETY_MARGIN` (300 s) after any render. A page with a flash message, or without a
CSRF cookie yet, is always rendered. Each web process keeps its own entries in memory.
"""

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.messages.storage.session import SessionStorage
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, HttpResponse

from generations.models import ChangeCounter

View = Callable[..., HttpResponse]
VARIANT_HEADERS = ("HX-Request", "HX-History-Restore-Request")


def change_count() -> int:
    """The counter's value: one indexed read, without the ORM's compiler."""
    table = connection.ops.quote_name(ChangeCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {table} WHERE id = 1")  # noqa: S608
        row = cursor.fetchone()
    if row is None:  # emptied by a test's flush: start again
        return ChangeCounter.objects.get_or_create(pk=1)[0].value
    return int(row[0])


def _key(request: HttpRequest, part: str = "") -> str | None:
    csrf = request.COOKIES.get(settings.CSRF_COOKIE_NAME)
    off = not settings.LUMAWEB_PAGE_CACHE_SECONDS
    if off or request.method != "GET" or not csrf or _has_messages(request):
        return None
    parts = [
        part,
        str(change_count()),
        str(request.user.pk),
        "staff" if request.user.is_staff else "",
        csrf,
        request.get_full_path(),
        *(request.headers.get(name, "") for name in VARIANT_HEADERS),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _has_messages(request: HttpRequest) -> bool:
    """A flash message waits to be shown (and consumed) by the next page rendered."""
    session = getattr(request, "session", {})
    return CookieStorage.cookie_name in request.COOKIES or SessionStorage.session_key in session


def cached_fragment(request: HttpRequest, part: str, render: Callable[[], str]) -> str:
    """One part of a page that also holds something fresh each time (the studio's form)."""
    key = _key(request, part)
    if key is None:
        return render()
    pages = caches["pages"]
    if (html := pages.get(key)) is None:
        html = render()
        pages.set(key, html, settings.LUMAWEB_PAGE_CACHE_SECONDS)
    return html


def cached_page(view: View) -> View:
    """Serve the view's 200 answers again to the same viewer until something shown changes."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key = _key(request)
        if key is None:
            return view(request, *args, **kwargs)
        pages = caches["pages"]
        if (hit := pages.get(key)) is not None:
            content, headers = hit
            return HttpResponse(content, headers=headers)
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and not response.streaming and not response.cookies:
            headers = dict(response.headers.items())
            pages.set(key, (response.content, headers), settings.LUMAWEB_PAGE_CACHE_SECONDS)
        return response

    return wrapper
