"""HTTP to an upstream, with the retry policy every provider's client shares (httpx).

Retry policy — the part that protects the bill:

* Reads and other idempotent calls (GET, DELETE, a presigned PUT, completing an upload) are
  retried on connection errors, timeouts, 408/409/429 and 5xx, with exponential backoff and
  jitter (`backoff_base` · 2ⁿ, capped at `backoff_cap`), honouring `Retry-After` up to
  `retry_after_cap` seconds; a longer wait is raised to the caller instead of slept.
* Calls that create something (a job, a file) are retried only when the request certainly
  created nothing: the connection was never made, or the upstream answered 429 or 503 (refused
  before any work).
* When such a call was sent but its reply never arrived intact (read timeout, connection reset,
  a 500/502/504, an unreadable 2xx body), it raises `OutcomeUnknown` and is never repeated:
  no Luma dialect takes an idempotency key, so a blind retry could create and charge a second job.

Every call sends an `X-Request-Id` (the same one on each attempt of a call) and reports the
exchange to an optional `on_call` hook, for metrics and history.
"""

from __future__ import annotations

import email.utils
import json
import random
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from generations.providers import errors

T = TypeVar("T", bound=BaseModel)

USER_AGENT = "lumaweb/0.1 (+httpx)"


class ErrorBody(BaseModel):
    """The `{"detail": …}` body every Luma dialect answers errors with."""

    model_config = ConfigDict(extra="allow")

    detail: str

    @field_validator("detail", mode="before")
    @classmethod
    def _detail_as_text(cls, value: object) -> object:
        """Keep a structured detail (a list of field errors, say) readable instead of failing."""
        return value if isinstance(value, str) else json.dumps(value)


_tls = threading.local()


def tls() -> ssl.SSLContext:
    """The TLS settings every HTTP client of the studio and its simulators shares: httpx's own
    defaults (certifi's CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR), made once per thread.

    A client made without it reads the whole CA bundle again (about 30 ms of CPU), which each
    poll paid twice (a provider's API and storage clients) and each upstream hook three times.
    One per thread, not per process: httpcore sets a context's ALPN protocols on every
    connection it opens, which another thread opening one with the same context must not see.
    """
    context: ssl.SSLContext | None = getattr(_tls, "context", None)
    if context is None:
        context = _tls.context = httpx.create_ssl_context()
    return context


@dataclass(frozen=True)
class Reply(Generic[T]):
    """A parsed answer and the request id it was given."""

    data: T
    request_id: str


@dataclass(frozen=True)
class CallRecord:
    """One HTTP exchange with the upstream, as reported to the `on_call` hook."""

    endpoint: str
    status: str
    request_id: str
    attempt: int
    seconds: float


class UpstreamClient:
    """An upstream's HTTP API: subclasses add one method per endpoint, built on `_call`."""

    """Speaks Luma's Agents API; the only code that sends requests upstream."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_retries: int = 2,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        retry_after_cap: float = 60.0,
        on_call: Callable[[CallRecord], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        self.on_call = on_call
        self._sleep = sleep
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._api = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT},
            timeout=timeout,
            transport=transport,
            verify=tls(),
        )
        # Presigned URLs point at object storage: our API key must never travel there.
        self._storage = httpx.Client(
            headers={"User-Agent": USER_AGENT}, timeout=timeout, transport=transport, verify=tls()
        )

    def close(self) -> None:
        self._api.close()
        self._storage.close()

    def __enter__(self: Self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        parse: type[T] | None,
        creates: bool = False,
        **kwargs: Any,
    ) -> Reply[T]:
        request_id = uuid.uuid4().hex

        def send() -> httpx.Response:
            return self._api.request(method, path, headers={"X-Request-Id": request_id}, **kwargs)

        return self._attempts(endpoint, send, creates=creates, parse=parse, request_id=request_id)

    def _attempts(
        self,
        endpoint: str,
        send: Callable[[], httpx.Response],
        *,
        creates: bool,
        parse: type[T] | None,
        request_id: str = "",
    ) -> Reply[T]:
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                result = self._attempt(send, creates=creates, parse=parse, request_id=request_id)
            except errors.LumaError as error:
                self._report(endpoint, _status_label(error), error.request_id, attempt, started)
                delay = self._retry_delay(error, attempt, creates=creates)
                if delay is None:
                    raise
                attempt += 1
                self._sleep(delay)
                continue
            self._report(endpoint, "ok", result.request_id, attempt, started)
            return result

    def _attempt(
        self,
        send: Callable[[], httpx.Response],
        *,
        creates: bool,
        parse: type[T] | None,
        request_id: str,
    ) -> Reply[T]:
        try:
            response = send()
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise errors.NetworkError(
                f"Could not reach Luma: {_describe(exc)}", request_id=request_id
            ) from exc
        except httpx.TransportError as exc:
            if creates:
                raise errors.OutcomeUnknown(
                    f"The request was sent but no reply arrived ({_describe(exc)}).",
                    request_id=request_id,
                ) from exc
            raise errors.NetworkError(
                f"The connection to Luma failed: {_describe(exc)}", request_id=request_id
            ) from exc
        request_id = response.headers.get("x-request-id", request_id)
        if response.is_error:
            raise self._status_error(response, request_id, creates=creates)
        if parse is None:
            return Reply(data=None, request_id=request_id)  # type: ignore[arg-type]
        try:
            return Reply(data=parse.model_validate_json(response.content), request_id=request_id)
        except ValidationError as exc:
            message = f"Luma's reply was not a valid {parse.__name__}: {_first_error(exc)}"
            if creates:
                raise errors.OutcomeUnknown(
                    message, status=response.status_code, request_id=request_id
                ) from exc
            raise errors.MalformedResponse(
                message, status=response.status_code, request_id=request_id
            ) from exc

    def _status_error(
        self, response: httpx.Response, request_id: str, *, creates: bool
    ) -> errors.LumaError:
        status = response.status_code
        detail = _detail(response)
        retry_after = _retry_after(response.headers.get("retry-after"))
        if creates and status >= 500 and status != 503:
            return errors.OutcomeUnknown(
                f"Luma answered {status} ({detail}); the job may or may not exist.",
                status=status,
                request_id=request_id,
            )
        cls = errors.error_for_status(status)
        return cls(detail, status=status, request_id=request_id, retry_after=retry_after)

    def _retry_delay(self, error: errors.LumaError, attempt: int, *, creates: bool) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now."""
        if attempt >= self.max_retries or not error.retryable:
            return None
        if creates and not _certainly_created_nothing(error):
            return None
        wait = error.retry_after
        if wait is not None:
            return float(wait) if wait <= self.retry_after_cap else None
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _report(
        self, endpoint: str, status: str, request_id: str, attempt: int, started: float
    ) -> None:
        if self.on_call is not None:
            self.on_call(
                CallRecord(endpoint, status, request_id, attempt, time.monotonic() - started)
            )


def _certainly_created_nothing(error: errors.LumaError) -> bool:
    if isinstance(error, errors.NetworkError):
        return True
    return error.status in (429, 503)


def _status_label(error: errors.LumaError) -> str:
    named = {
        errors.OutcomeUnknown: "unknown",
        errors.NetworkError: "network",
        errors.MalformedResponse: "malformed",
    }
    return named.get(type(error)) or str(error.status or "error")


def storable(text: str) -> str:
    """`text` as every database column and page takes it: without lone surrogates (which no
    page writes) or NULs (which PostgreSQL refuses)."""
    return text.encode("utf-8", "replace").decode().replace("\x00", "\N{REPLACEMENT CHARACTER}")


def _detail(response: httpx.Response) -> str:
    try:
        return ErrorBody.model_validate_json(response.content).detail
    except ValidationError:
        pass
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python reads
        body = None
    # Resellers' gateways wrap errors as {code, message} (or msg, error) instead.
    for key in ("message", "msg", "error"):
        if isinstance(body, dict) and isinstance(body.get(key), str) and body[key].strip():
            return storable(body[key])
    text = storable(response.text.strip())
    return text[:200] if text else response.reason_phrase or f"HTTP {response.status_code}"


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _describe(exc: httpx.TransportError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"
