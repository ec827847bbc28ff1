"""The Agents API behind the studio's provider interface."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
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
from .client import AgentsClient

if TYPE_CHECKING:
    from generations.models import Generation

# Input roles that guide style (Files API purpose `reference`); the rest are the subject.
REFERENCE_ROLES = {"image_ref"}
MB = 1024 * 1024


class AgentsProvider(Provider):
    name = "agents"
    label = "Luma Agents API"
    key_setting = "LUMA_AGENTS_API_KEY"
    capabilities = Capabilities(
        kinds=schema.GENERATION_TYPES, models=schema.MODELS, aspect_ratios=schema.ASPECT_RATIOS
    )

    def client(self) -> AgentsClient:
        return AgentsClient(self.base_url, self.api_key, **self.client_options())

    def summary(self, request: BaseModel) -> Summary:
        assert isinstance(request, schema.GenerationRequest)
        video, layering = request.video, request.layering
        options = {
            "resolution": (video and video.resolution) or (layering and layering.resolution),
            "duration": video and video.duration,
        }
        return Summary(
            request.type,
            request.model,
            request.prompt,
            request.aspect_ratio or "",
            {name: value for name, value in options.items() if value},
        )

    def parse(self, request: dict[str, Any]) -> BaseModel:
        return schema.GenerationRequest.model_validate(request)

    def prepare(self, request: BaseModel, *, user_id: str) -> dict[str, Any]:
        assert isinstance(request, schema.GenerationRequest)
        return request.model_copy(update={"user_id": user_id}).to_wire()

    @classmethod
    def settings_in_words(cls, request: dict[str, Any]) -> str:
        return settings_in_words(request)

    @classmethod
    def references(cls, request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        found: list[tuple[str, dict[str, Any]]] = []
        if isinstance(request.get("source"), dict):
            found.append(("Source", request["source"]))
        for number, ref in enumerate(request.get("image_ref") or [], start=1):
            found.append((f"Reference {number}", ref))
        video = request.get("video") or {}
        for key, label in (("start_frame", "Start frame"), ("end_frame", "End frame")):
            if isinstance(video.get(key), dict):
                found.append((label, video[key]))
        found += _keyframes(video, "Keyframe")
        found += _keyframes(video.get("edit") or {}, "Edit keyframe")
        return [(label, ref) for label, ref in found if isinstance(ref, dict)]

    def submit(self, generation: Generation) -> UpstreamJob:
        with self.client() as client:
            wire = self._send_inputs(generation, client)
            reply = client.create_generation(schema.GenerationRequest.model_validate(wire))
        return as_job(reply)

    def poll(self, upstream_id: str) -> UpstreamJob:
        with self.client() as client:
            return as_job(client.get_generation(upstream_id))

    def _send_inputs(self, generation: Generation, client: AgentsClient) -> dict[str, Any]:
        """Upload the job's unsent inputs through the Files API; its request with their ids.

        Re-uploading a file is harmless (no charge), so an upload whose outcome is unknown is
        reported as a retryable network error; a file Luma refuses is an `InputRefused`.
        """
        from generations.models import Generation
        from generations.uploads import local_copy, replace_placeholders

        user_id = generation.request.get("user_id", "")
        for item in generation.inputs.filter(file_id=""):
            try:
                with local_copy(item) as path:
                    file = client.upload(
                        path,
                        mime_type=item.mime_type,
                        filename=item.original_name,
                        purpose="reference" if item.role in REFERENCE_ROLES else "input",
                        user_id=user_id,
                        inline_limit=int(settings.LUMAWEB_INLINE_UPLOAD_MB * MB),
                    )
            except errors.OutcomeUnknown as exc:
                raise errors.NetworkError(exc.detail, request_id=exc.request_id) from exc
            except errors.Unprocessable as exc:
                raise errors.InputRefused(exc.detail, request_id=exc.request_id) from exc
            item.file_id = file.id
            item.save(update_fields=["file_id"])
        file_ids = {item.placeholder: item.file_id for item in generation.inputs.all()}
        request: dict[str, Any] = replace_placeholders(generation.request, file_ids)
        Generation.objects.filter(pk=generation.pk).update(request=request)
        return request


def as_job(reply: Reply[schema.Generation]) -> UpstreamJob:
    """An Agents API answer in the studio's words."""
    data = reply.data
    return UpstreamJob(
        id=data.id,
        state=data.state,
        raw=data.model_dump(mode="json"),
        request_id=reply.request_id,
        failure_code=data.failure_code or ("generation_failed" if data.state == "failed" else ""),
        failure_reason=data.failure_reason or "",
        outputs=tuple(
            UpstreamOutput(
                output.type,
                output.url,
                output.layer.model_dump(mode="json") if output.layer else None,
            )
            for output in data.output
        ),
    )


def _keyframes(options: dict[str, Any], label: str) -> list[tuple[str, dict[str, Any]]]:
    indexes = options.get("keyframe_indexes") or []
    return [
        (f"{label} at frame {indexes[n]}" if n < len(indexes) else label, ref)
        for n, ref in enumerate(options.get("keyframes") or [])
    ]


def _count(items: Any, one: str) -> str:
    number = len(items) if isinstance(items, list) else 0
    return f"{number} {one}{'s' if number != 1 else ''}" if number else ""


def _part(options: dict[str, Any], name: str) -> dict[str, Any]:
    value = options.get(name)
    return value if isinstance(value, dict) else {}


def settings_in_words(request: dict[str, Any]) -> str:
    """A stored request's settings in plain words, in the order a person would say them.

    The exact request stays on the page ("Request as sent to Luma"); this is the reading.
    """
    video = _part(request, "video")
    edit = _part(video, "edit")
    layering = _part(request, "layering")
    duration = str(video.get("duration") or "")
    words = [
        f"{duration.rstrip('s')} seconds" if duration.endswith("s") else duration,
        str(video.get("resolution") or ""),
        str(request.get("aspect_ratio") or ""),
        "loops" if video.get("loop") else "",
        "HDR" if video.get("hdr") else "",
        "EXR frames too" if video.get("exr_export") else "",
        f"{request['style']} style" if request.get("style") not in (None, "auto") else "",
        str(request.get("output_format") or "").upper(),
        _count(request.get("image_ref"), "reference image"),
        "from a start frame" if video.get("start_frame") else "",
        "to an end frame" if video.get("end_frame") else "",
        _count(video.get("keyframes") or edit.get("keyframes"), "keyframe"),
        f"{str(edit['strength']).replace('_', ' ')} change" if edit.get("strength") else "",
        "the source placed by hand" if video.get("source_position") else "",
        f"layers at {layering['resolution']}" if layering.get("resolution") else "",
        "searches the web" if request.get("web_search") else "",
    ]
    said = ", ".join(word for word in words if word)
    return said[:1].upper() + said[1:] if said else "The model's defaults"
