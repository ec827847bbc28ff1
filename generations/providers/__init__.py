"""Every upstream dialect the studio speaks, and which of them this installation has turned on.

`settings.LUMA_PROVIDERS` names the providers that are on (a key is set, or demo mode) with their
base URL and key; `get(name)` gives a configured `Provider`. Nothing outside a provider's own
package knows its wire format.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

import httpx
from django.conf import settings

from generations.providers import errors
from generations.providers.base import Provider

# Tests may route every provider's HTTP through an in-process transport (httpx.WSGITransport).
transport: httpx.BaseTransport | None = None

# Each provider's class, by the name a job records.
CLASSES = {
    "agents": "generations.providers.agents.provider.AgentsProvider",
    "dream_machine": "generations.providers.dream_machine.provider.DreamMachineProvider",
}


class ProviderOff(errors.LumaError):
    """A job or form names a provider this installation has not turned on (never retried)."""


@cache
def _class(name: str) -> type[Provider]:
    module, _, attr = CLASSES[name].rpartition(".")
    cls: type[Provider] = getattr(import_module(module), attr)
    return cls


def get(name: str) -> Provider:
    """The configured provider `name`; raises ProviderOff when it is not on."""
    config = settings.LUMA_PROVIDERS.get(name)
    if config is None or name not in CLASSES:
        raise ProviderOff(f"The {name} upstream is not configured here.")
    return _class(name)(**config)


def enabled() -> list[Provider]:
    """The providers that are on, in the order the studio shows them."""
    return [get(name) for name in CLASSES if name in settings.LUMA_PROVIDERS]


def label(name: str) -> str:
    """A provider's name for people, whether or not it is on (old jobs keep theirs)."""
    return _class(name).label if name in CLASSES else name
