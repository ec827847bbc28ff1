"""Typed errors for everything that can go wrong talking to Luma.

Each carries the HTTP status (when there was one), the upstream's `detail`, the request id, and
whether repeating the same call could succeed (`retryable`).
"""

from __future__ import annotations


class LumaError(Exception):
    """Base class: a call to the upstream did not give a usable answer."""

    retryable = False

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        request_id: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        prefix = f"HTTP {self.status}: " if self.status else ""
        return f"{prefix}{self.detail}"


class BadRequest(LumaError):
    """400: the parameters are invalid."""


class AuthenticationFailed(LumaError):
    """401: the API key is missing or wrong."""


class InsufficientBalance(LumaError):
    """402: the account has no credit left."""


class Forbidden(LumaError):
    """403: the account is suspended or the plan does not allow this."""


class NotFound(LumaError):
    """404: no such generation or file for this key."""


class Conflict(LumaError):
    """409: the request conflicts with the resource's current state."""

    retryable = True


class RequestTimeout(LumaError):
    """408: the upstream gave up waiting for the request."""

    retryable = True


class PayloadTooLarge(LumaError):
    """413: an input is too large."""


class Unprocessable(LumaError):
    """422: a combination was refused or media could not be read."""


class RateLimited(LumaError):
    """429: too many requests or too many unfinished jobs; wait `retry_after` seconds."""

    retryable = True


class ServerError(LumaError):
    """5xx: the upstream or one of its dependencies failed."""

    retryable = True


class NetworkError(LumaError):
    """The request never reached the upstream (connection refused, DNS, connect timeout)."""

    retryable = True


class MalformedResponse(LumaError):
    """The upstream answered, but not with what the contract promises."""

    retryable = True


class OutcomeUnknown(LumaError):
    """A job-creating request was sent but its reply never arrived intact.

    The upstream may or may not have created (and charged for) the job, so repeating the request
    could pay twice. The caller must hold the job for review instead.
    """


STATUS_ERRORS: dict[int, type[LumaError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    402: InsufficientBalance,
    403: Forbidden,
    404: NotFound,
    408: RequestTimeout,
    409: Conflict,
    413: PayloadTooLarge,
    422: Unprocessable,
    429: RateLimited,
}


def error_for_status(status: int) -> type[LumaError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return STATUS_ERRORS.get(status, BadRequest)


class InputRefused(LumaError):
    """The upstream refused one of the job's input files (unreadable, wrong kind, too large)."""
