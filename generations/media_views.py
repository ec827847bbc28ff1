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
    """One stored file, to a logged-in person; a trashed piece's outputs and uploads only to
    whoever may restore it (its owner, staff: the Trash page shows them)."""
    if (found := _piece_of(name)) and trash.out_of_reach(request.user).filter(**found).exists():
        raise Http404("No such file.")
    return serve(request, name)


# Where a stored file's folder names its piece (archive.py: outputs/<piece>/…; an upload's
# Input: inputs/<input>/…).
OWNED_BY = {"outputs": "uuid", "inputs": "inputs__uuid"}


def _piece_of(name: str) -> dict[str, UUID] | None:
    """The lookup of the piece a stored file belongs to, or None."""
    folder, _, rest = name.partition("/")
    if folder not in OWNED_BY:
        return None
    try:
        return {OWNED_BY[folder]: UUID(rest.partition("/")[0])}
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
