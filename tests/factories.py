"""Objects tests need, made one way: import from here, never from another test module."""

from typing import Any

from django.conf import settings

from generations.simulators.api import owner_of
from generations.simulators.models import SimFault


def sim_fault(kind: str, *, token: str | None = None, **fields: Any) -> SimFault:
    """Queue a fault in the simulators for the calls made with `token` (default: the app's own)."""
    token = token or settings.LUMA_PROVIDERS["agents"]["api_key"]
    return SimFault.objects.create(owner=owner_of(token), kind=kind, **fields)
