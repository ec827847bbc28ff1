"""Signed links to stored media for an upstream to fetch (a job's input image), without a login.

Only when `LUMAWEB_PUBLIC_URL` says where the outside world reaches the studio. A link names one
stored file, is signed with SECRET_KEY and dies after PUBLIC_LINK_TTL; anything else is a 404.
The file is served as media_views serves it to people (only image and video types for display).
"""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.http import require_safe

from generations.media_views import serve

SALT = "lumaweb.public-media"
# An upstream may queue a job for hours before it fetches the inputs.
PUBLIC_LINK_TTL = 24 * 3600


def public_base() -> str:
    """The studio's public address without a trailing slash, or "" when it has none."""
    return str(settings.LUMAWEB_PUBLIC_URL).rstrip("/")


def public_link(name: str) -> str | None:
    """A signed public URL for the stored file `name`, or None without LUMAWEB_PUBLIC_URL."""
    base = public_base()
    if not base:
        return None
    token = signing.dumps(name, salt=SALT, compress=True)
    return base + reverse("public-media", args=[token])


@login_not_required
@require_safe
def public_media(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        name = signing.loads(token, salt=SALT, max_age=PUBLIC_LINK_TTL)
    except signing.BadSignature:
        raise Http404("No such file.") from None
    if not isinstance(name, str):
        raise Http404("No such file.")
    return serve(request, name)
