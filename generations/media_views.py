"""Archived media, for logged-in people only (LoginRequiredMiddleware guards every view), and
the signed public links an upstream fetches a job's input from (public.py makes them). Both send
the file as serving.py does: only image and video types for display.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponseNotFound
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_safe

from generations.public import SALT
from generations.serving import serve


@require_safe
def media(request: HttpRequest, name: str) -> HttpResponseBase:
    """One stored file, to a logged-in person."""
    return serve(request, name)


@login_not_required
@require_safe
def public_media(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        name = signing.loads(token, salt=SALT, max_age=settings.LUMAWEB_PUBLIC_INPUT_TTL)
    except signing.BadSignature:
        return HttpResponseNotFound(
            "This link is invalid or has expired.", content_type="text/plain"
        )
    if not isinstance(name, str):
        raise Http404("No such file.")
    return serve(request, name)
