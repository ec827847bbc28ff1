"""Where a simulator may send a request of its own (a callback, a URL input): the studio only.

A simulator never fetches or calls back a URL outside the studio's own host (any port) and the
hosts listed in LUMA_SIM_ALLOWED_HOSTS, so nobody can use it to reach other machines.
"""

from urllib.parse import urlsplit

from django.conf import settings


def may_call(url: str) -> bool:
    """Whether a simulator may send a request to `url`."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    own = (urlsplit(settings.LUMA_SIMULATOR_ROOT).hostname or "").lower()
    return host == own or host in {h.lower() for h in settings.LUMA_SIM_ALLOWED_HOSTS}
