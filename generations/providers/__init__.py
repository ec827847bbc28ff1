"""Every upstream dialect the studio speaks, and which of them this installation has turned on.

`settings.LUMA_PROVIDERS` names the providers that are on (a key is set, or demo mode) with their
base URL and key; `get(name)` gives a configured `Provider`. Nothing outside a provider's own
package knows its wire format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from importlib import import_module
from typing import Any

import httpx
from django.conf import settings

from generations.providers import errors
from generations.providers.base import Provider
from generations.providers.http import CallRecord, tls

# Tests may route every provider's HTTP through an in-process transport (httpx.WSGITransport).
transport: httpx.BaseTransport | None = None
# Told of every exchange with an upstream; the app counts them for /metrics (apps.py).
on_call: Callable[[CallRecord], None] | None = None

# Each provider's class, by the name a job records.
CLASSES = {
    "agents": "generations.providers.agents.provider.AgentsProvider",
    "dream_machine": "generations.providers.dream_machine.provider.DreamMachineProvider",
    "proxy": "generations.providers.proxy.provider.ProxyProvider",
}


class ProviderOff(errors.LumaError):
    """A job or form names a provider this installation has not turned on (never retried)."""


@cache
def _class(name: str) -> type[Provider]:
    module, _, attr = CLASSES[name].rpartition(".")
    cls: type[Provider] = getattr(import_module(module), attr)
    return cls


def get(name: str, **options: Any) -> Provider:
    """The configured provider `name`, its HTTP client built with `client_options()` and any
    of them given in `options` (a shorter wait, say); raises ProviderOff when it is not on."""
    config = settings.LUMA_PROVIDERS.get(name)
    if config is None or name not in CLASSES:
        raise ProviderOff(f"The {name} upstream is not configured here.")
    return _class(name)(**config, client_options={**client_options(), **options})


def client_options() -> dict[str, Any]:
    """The options every provider's HTTP client is built with."""
    return {
        "connect_timeout": settings.LUMA_CONNECT_TIMEOUT,
        "read_timeout": settings.LUMA_READ_TIMEOUT,
        "max_retries": settings.LUMA_MAX_RETRIES,
        "retry_after_cap": settings.LUMA_RETRY_AFTER_CAP,
        "on_call": on_call,
        "transport": transport,
    }


def http_client(**options: Any) -> httpx.Client:
    """An HTTP client for a URL outside an upstream's API (an output to archive, a simulator's
    callback or input): the tests' transport when they set one, and this thread's TLS context
    (`http.tls`), with `options` (timeout, headers, ...)."""
    return httpx.Client(transport=transport, verify=tls(), **options)


def enabled() -> list[Provider]:
    """The providers that are on, in the order the studio shows them."""
    return [get(name) for name in CLASSES if name in settings.LUMA_PROVIDERS]


def every() -> list[type[Provider]]:
    """Every provider the studio knows, on or not: old jobs keep theirs (the gallery's filters)."""
    return [_class(name) for name in CLASSES]


def models() -> list[str]:
    """Every model a provider the studio knows offers, once each, in the providers' order (the
    gallery's filter, the price table's choices)."""
    return list(dict.fromkeys(m for p in every() for m in p.capabilities.models))


def references(name: str, request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The labelled media inputs of a job's stored request (the detail page shows them)."""
    return _class(name).references(request) if name in CLASSES else []


def settings_in_words(name: str, request: dict[str, Any]) -> str:
    """A job's stored request in plain words, by its provider ("" when it has no reading)."""
    return _class(name).settings_in_words(request) if name in CLASSES else ""


def label(name: str) -> str:
    """A provider's name for people (a gateway's own name when it is on), whether or not it is
    on (old jobs keep theirs); a simulated one says so."""
    simulated = settings.LUMA_PROVIDERS.get(name, {}).get("simulated", False)
    return display_name(name) + (" (simulator)" if simulated and name in CLASSES else "")


def labels(names: Iterable[str]) -> str:
    """Providers named for people in a sentence: "the Luma Agents API or the Luma proxy"."""
    return " or ".join(f"the {label(name)}" for name in names)


def display_name(name: str) -> str:
    """What people here call provider `name`, simulated or not: the words a sentence about it
    uses ("Acme Gateway's safety filter")."""
    if name in settings.LUMA_PROVIDERS and name in CLASSES:
        return get(name).display_name
    return _class(name).label if name in CLASSES else name


def key_setting(name: str) -> str:
    """The setting that holds provider `name`'s key, for advice to an admin."""
    return _class(name).key_setting if name in CLASSES else ""
