"""The app's door to the upstream: a configured LumaClient, with every call counted."""

import httpx
from django.conf import settings

from generations.models import UpstreamCallCount
from generations.providers.agents.client import CallRecord, LumaClient

# Tests may route the client through an in-process transport (httpx.WSGITransport).
transport: httpx.BaseTransport | None = None


def _count(call: CallRecord) -> None:
    UpstreamCallCount.record(call.endpoint, call.status)


def luma_client(**overrides: float) -> LumaClient:
    """A client for the configured upstream: Luma itself, or the built-in simulator."""
    options = {
        "connect_timeout": settings.LUMA_CONNECT_TIMEOUT,
        "read_timeout": settings.LUMA_READ_TIMEOUT,
        "max_retries": settings.LUMA_MAX_RETRIES,
        "retry_after_cap": settings.LUMA_RETRY_AFTER_CAP,
        **overrides,
    }
    return LumaClient(
        settings.LUMA_BASE_URL,
        settings.LUMA_API_TOKEN,
        on_call=_count,
        transport=transport,
        **options,  # type: ignore[arg-type]
    )
