"""A reseller gateway's "Luma proxy" dialect behind the studio's provider interface."""

from __future__ import annotations

import base64
import uuid
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.storage import default_storage
from pydantic import BaseModel

from generations.providers import errors
from generations.providers.base import (
    Capabilities,
    Provider,
    Summary,
    UpstreamJob,
    UpstreamOutput,
)
from generations.providers.http import Reply

from . import schema
from .client import ProxyClient

if TYPE_CHECKING:
    from generations.models import Generation

MB = 1024 * 1024
MODEL = "luma (gateway)"


class ProxyProvider(Provider):
    name = "proxy"
    label = "Luma proxy"
    key_setting = "LUMA_PROXY_API_KEY"
    capabilities = Capabilities(
        kinds=("video",),
        models=(MODEL,),
        aspect_ratios=schema.ASPECT_RATIOS,
        callbacks=True,
        resends_uploads=True,
    )

    def client(self) -> ProxyClient:
        return ProxyClient(self.base_url, self.api_key, **self.client_options())

    def summary(self, request: BaseModel) -> Summary:
        assert isinstance(request, schema.ProxyRequest)
        return Summary("video", MODEL, request.user_prompt, request.aspect_ratio or "")

    def parse(self, request: dict[str, Any]) -> BaseModel:
        return schema.ProxyRequest.model_validate(request)

    def prepare(self, request: BaseModel, *, user_id: str) -> dict[str, Any]:
        """The dialect has no user id; the studio sets each job's own notify_hook when sent."""
        assert isinstance(request, schema.ProxyRequest)
        return request.model_copy(update={"notify_hook": None}).to_wire()

    def submit(self, generation: Generation) -> UpstreamJob:
        from generations.hooks import hook_url

        # The stored request keeps the studio's references (never inline bytes), and not the
        # hook: its signed URL is for the gateway alone (anyone holding it may call it).
        sent = generation.request
        wire = {
            **sent,
            **{
                k: self._image(v, k, generation)
                for k, v in sent.items()
                if k in schema.IMAGE_FIELDS
            },
            "notify_hook": hook_url(generation),
        }
        request = schema.ProxyRequest.model_validate(wire)
        with self.client() as client:
            return as_job(client.create_generation(request))

    def poll(self, upstream_id: str) -> UpstreamJob:
        with self.client() as client:
            return as_job(client.get_generation(upstream_id))

    @classmethod
    def references(cls, request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The start and end images of a stored request, for the detail page: an upload by its
        placeholder, a gallery piece by its upstream id, a URL as given (inline data: none)."""
        from generations.models import Generation

        found: list[tuple[str, dict[str, Any]]] = []
        for field, what in schema.IMAGE_FIELDS.items():
            value = request.get(field)
            label = what.capitalize()
            if not isinstance(value, str):
                continue
            if value.startswith(schema.INPUT_REFERENCE):
                found.append((label, {"file_id": value}))
            elif value.startswith(schema.PIECE_REFERENCE):
                piece = Generation.objects.filter(uuid=_uuid(value, schema.PIECE_REFERENCE, what))
                if upstream_id := piece.values_list("upstream_id", flat=True).first():
                    found.append((label, {"generation_id": upstream_id}))
            elif value.startswith(("http://", "https://")):
                found.append((label, {"url": value}))
        return found

    def upstream_state(self, raw: dict[str, Any]) -> str:
        return schema.unknown_state(raw)

    def _image(self, value: str, field: str, generation: Generation) -> str:
        """An image field as sent: a URL or base64 as given; a studio reference resolved to a
        public link when the studio has a public address, else inline as base64."""
        from generations.public import public_link

        found = _stored_media(value, schema.IMAGE_FIELDS[field], generation.created_by_id)
        if found is None:
            return value
        name, size, mime_type, upstream_url = found
        if not name:
            return upstream_url
        if link := public_link(name):
            return link
        limit = settings.LUMA_PROXY_INLINE_MAX_MB * MB
        if size > limit:
            raise errors.InputRefused(
                f"The {schema.IMAGE_FIELDS[field]} is {size / MB:.1f} MB; without "
                f"LUMAWEB_PUBLIC_URL images go inline as base64, {limit / MB:g} MB at most. "
                "Use a smaller image, or set LUMAWEB_PUBLIC_URL so the gateway can fetch it."
            )
        with default_storage.open(name, "rb") as handle:
            data = base64.b64encode(handle.read()).decode()
        return f"data:{mime_type};base64,{data}"


def _stored_media(value: str, what: str, maker: int) -> tuple[str, int, str, str] | None:
    """A studio reference as (stored name, size, MIME type, upstream URL), None for a URL or
    base64; the stored name is "" when only the upstream's (still valid) URL is there. An upload
    is only one of the job's `maker` (Input.made_by): a request may name any id (an agent writes
    them)."""
    from generations.models import Generation, Input, State

    if value.startswith(schema.INPUT_REFERENCE):
        key = _uuid(value, schema.INPUT_REFERENCE, what)
        item = Input.objects.filter(Input.made_by(maker), uuid=key).first()
        if item is None or not item.file:
            raise errors.InputRefused(f"The {what}'s upload is gone: upload it again.")
        return str(item.file.name), item.size_bytes, item.mime_type, ""
    if not value.startswith(schema.PIECE_REFERENCE):
        return None
    piece = Generation.objects.filter(
        uuid=_uuid(value, schema.PIECE_REFERENCE, what), state=State.COMPLETED
    ).first()
    output = piece.outputs.filter(kind="image").first() if piece else None
    if output is None:
        raise errors.InputRefused(f"The {what} picked from the gallery is gone or not an image.")
    if output.file:
        return str(output.file.name), output.size_bytes or 0, output.mime_type, ""
    if output.url_is_fresh:
        return "", 0, output.mime_type, output.url
    raise errors.InputRefused(
        f"The {what} picked from the gallery is not archived yet and its link has expired: "
        "try again in a minute."
    )


def _uuid(value: str, prefix: str, what: str) -> str:
    try:
        return str(uuid.UUID(value.removeprefix(prefix)))
    except ValueError:
        raise errors.InputRefused(f"The {what} names no stored file ({value!r}).") from None


def as_job(reply: Reply[schema.ProxyJob]) -> UpstreamJob:
    """A gateway's answer in the studio's words; the answer itself is kept verbatim."""
    job = reply.data
    return UpstreamJob(
        id=job.id,
        state=job.state,
        raw=job.raw,
        request_id=reply.request_id,
        failure_code=job.failure_code,
        failure_reason=job.failure_reason,
        outputs=(UpstreamOutput("video", job.video_url),) if job.state == "completed" else (),
    )
