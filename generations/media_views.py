"""Archived media, for logged-in people only (LoginRequiredMiddleware guards every view), and
the signed public links an upstream fetches a job's input from (public.py makes them). Both send
the file as serving.py does: only image and video types for display.
"""

from uuid import UUID

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponseNotFound
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_safe

from generations import trash
from generations.public import SALT
from generations.serving import serve


@require_safe
def media(request: HttpRequest, name: str) -> HttpResponseBase:
    """One stored file, to a logged-in person; a trashed piece's outputs only to whoever may
    restore it (its owner, staff: the Trash page shows them)."""
    if (piece := _output_of(name)) and trash.out_of_reach(request.user).filter(uuid=piece).exists():
        raise Http404("No such file.")
    return serve(request, name)


def _output_of(name: str) -> UUID | None:
    """The piece an archived output's name belongs to (archive.py: outputs/<uuid>/…)."""
    folder, _, rest = name.partition("/")
    piece, _, _ = rest.partition("/")
    if folder != "outputs":
        return None
    try:
        return UUID(piece)
    except ValueError:
        return None


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
