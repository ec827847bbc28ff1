"""A synchronous client for a reseller gateway's "Luma proxy" dialect (luma-api.md §3).

The retry policy (never repeat a job-creating POST whose outcome is unknown) is the shared one of
`generations.providers.http.UpstreamClient`. Answers are read by `schema.read_answer`; one that
cannot be read is a `MalformedResponse` for a poll, and for a submission an `OutcomeUnknown`
(the gateway may have made the job) unless the gateway itself reported an error.
"""

from __future__ import annotations

from generations.providers import errors
from generations.providers.http import Reply, UpstreamClient

from . import schema


class ProxyClient(UpstreamClient):
    """Speaks one reseller gateway's Luma dialect."""

    def create_generation(self, request: schema.ProxyRequest) -> Reply[schema.ProxyJob]:
        """Submit a job. Never repeated once sent: see the module docstring."""
        reply = self._call(
            "POST",
            "/luma/generations",
            endpoint="POST /luma/generations",
            parse=schema.JSONObject,
            creates=True,
            json=request.to_wire(),
        )
        return Reply(_read(reply, creates=True), reply.request_id)

    def get_generation(self, generation_id: str) -> Reply[schema.ProxyJob]:
        """Poll a job."""
        reply = self._call(
            "GET",
            f"/luma/generations/{generation_id}",
            endpoint="GET /luma/generations/{id}",
            parse=schema.JSONObject,
        )
        return Reply(_read(reply, creates=False), reply.request_id)


def _read(reply: Reply[schema.JSONObject], *, creates: bool) -> schema.ProxyJob:
    try:
        return schema.read_answer(reply.data.model_dump(mode="json"), accepted=creates)
    except schema.AnswerProblem as problem:
        if problem.reported:
            # The gateway says the call failed: a refusal like the HTTP status it names.
            status = problem.code if problem.code and 400 <= problem.code < 600 else None
            cls = errors.error_for_status(status) if status else errors.BadRequest
            if creates and cls is errors.ServerError:
                raise errors.OutcomeUnknown(
                    f"{problem}; the job may or may not exist.", request_id=reply.request_id
                ) from None
            raise cls(str(problem), status=status, request_id=reply.request_id) from None
        message = f"The gateway's answer could not be read: {problem}"
        if creates:
            raise errors.OutcomeUnknown(message, request_id=reply.request_id) from None
        raise errors.MalformedResponse(message, request_id=reply.request_id) from None
