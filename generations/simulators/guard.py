"""Where a simulator may send a request of its own (a callback, a URL input): the studio only.

A simulator never fetches or calls back a URL but the studio's own addresses (the simulators'
root and LUMAWEB_PUBLIC_URL, each host with its port) and the hosts listed in
LUMA_SIM_ALLOWED_HOSTS, so nobody can use it to reach other machines, nor another service on
the studio's own machine.
"""

from urllib.parse import urlsplit

from django.conf import settings

DEFAULT_PORTS = {"http": 80, "https": 443}


def may_call(url: str) -> bool:
    """Whether a simulator may send a request to `url`."""
    address = _address(url)
    if address is None:
        return False
    own = {_address(settings.LUMA_SIMULATOR_ROOT), _address(settings.LUMAWEB_PUBLIC_URL)}
    listed = {host.lower() for host in settings.LUMA_SIM_ALLOWED_HOSTS}
    return address in own or address[0] in listed


def _address(url: str) -> tuple[str, int] | None:
    """An http(s) URL's host and port (the scheme's own when it names none), or None."""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not host:
        return None
    return host, port or DEFAULT_PORTS[parts.scheme]
