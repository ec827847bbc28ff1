"""Signed links to stored media for an upstream to fetch (a job's input), without a login.

Some upstreams take inputs by URL only (Dream Machine), and a gateway takes them as URLs when it
can. Only when `LUMAWEB_PUBLIC_URL` says where the outside world reaches the studio. A link names
one stored file, is signed with SECRET_KEY and dies after LUMAWEB_PUBLIC_INPUT_TTL; anything else
is a 404. media_views.public_media sends the file as people's media is sent (image and video
types only). On object storage (S3) the store presigns its own links instead.
"""

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage
from django.urls import reverse

from generations.models import Input

SALT = "lumaweb.public-media"


class NoPublicUrl(Exception):
    """LUMAWEB_PUBLIC_URL is not set: the upstream cannot reach the studio's uploads."""


def public_base() -> str:
    """The studio's public address without a trailing slash, or "" when it has none."""
    return str(settings.LUMAWEB_PUBLIC_URL).rstrip("/")


def available() -> bool:
    """Whether the studio can give an upstream links to itself."""
    return bool(public_base())


def input_url(item: Input) -> str:
    """A link the upstream can fetch this one upload from: presigned on object storage, else a
    signed, expiring link to the studio; raises NoPublicUrl when neither is possible."""
    if not isinstance(item.file.storage, FileSystemStorage):
        return str(item.file.url)
    link = public_link(item.file.name)
    if link is None:
        raise NoPublicUrl("LUMAWEB_PUBLIC_URL is not set, so uploads cannot be sent upstream.")
    return link


def public_link(name: str) -> str | None:
    """A signed public URL for the stored file `name`, or None without LUMAWEB_PUBLIC_URL."""
    base = public_base()
    if not base:
        return None
    token = signing.dumps(name, salt=SALT, compress=True)
    return base + reverse("public-media", args=[token])
