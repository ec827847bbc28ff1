"""A typed, synchronous client for Luma's Dream Machine API v1 (luma-api.md §2).

Every call goes through `UpstreamClient`, whose retry rule protects the bill: the API takes no
idempotency key, so a job-creating POST whose outcome is unknown is never repeated (the official
SDK repeats it).
"""

from __future__ import annotations

from pydantic import RootModel

from generations.providers.http import Reply, UpstreamClient

from . import schema

# Where each creating request is POSTed (upscale and audio name their source in the path).
CREATE_PATHS = {
    "video": "/generations/video",
    "image": "/generations/image",
    "reframe_image": "/generations/image/reframe",
    "reframe_video": "/generations/video/reframe",
    "modify_video": "/generations/video/modify",
    "upscale_video": "/generations/{id}/upscale",
    "add_audio": "/generations/{id}/audio",
}


class Strings(RootModel[list[str]]):
    """A bare JSON list of strings (the concept and camera-motion lists)."""


class DreamMachineClient(UpstreamClient):
    """Speaks Luma's Dream Machine API v1."""

    def create_generation(self, request: schema.AnyRequest) -> Reply[schema.Generation]:
        """Submit any job (see CREATE_PATHS). Never repeated once sent."""
        template = CREATE_PATHS[request.generation_type]
        source = request.generation_id if isinstance(request, schema.Chained) else ""
        return self._call(
            "POST",
            template.format(id=source),
            endpoint=f"dream-machine POST {template}",
            parse=schema.Generation,
            creates=True,
            json=request.to_wire(),
        )

    def get_generation(self, generation_id: str) -> Reply[schema.Generation]:
        """Poll a job; a completed one carries its asset URLs."""
        return self._call(
            "GET",
            f"/generations/{generation_id}",
            endpoint="dream-machine GET /generations/{id}",
            parse=schema.Generation,
        )

    def list_generations(
        self, *, limit: int = 100, offset: int = 0
    ) -> Reply[schema.GenerationList]:
        """One page of the key's generations, newest first (limit and offset in the query)."""
        return self._call(
            "GET",
            "/generations",
            endpoint="dream-machine GET /generations",
            parse=schema.GenerationList,
            params={"limit": limit, "offset": offset},
        )

    def delete_generation(self, generation_id: str) -> str:
        """Delete a job; the answer is an empty 204. Returns the request id."""
        return self._call(
            "DELETE",
            f"/generations/{generation_id}",
            endpoint="dream-machine DELETE /generations/{id}",
            parse=None,
        ).request_id

    def concepts(self) -> list[str]:
        """The concept keys (camera moves) videos can ask for."""
        reply = self._call(
            "GET",
            "/generations/concepts/list",
            endpoint="dream-machine GET /generations/concepts/list",
            parse=Strings,
        )
        return reply.data.root

    def camera_motions(self) -> list[str]:
        """The legacy camera-motion phrases, which concepts replace."""
        reply = self._call(
            "GET",
            "/generations/camera_motion/list",
            endpoint="dream-machine GET /generations/camera_motion/list",
            parse=Strings,
        )
        return reply.data.root

    def credits(self) -> float:
        """The account's balance in US cents."""
        return self._call(
            "GET", "/credits", endpoint="dream-machine GET /credits", parse=schema.CreditBalance
        ).data.credit_balance

    def ping(self) -> str:
        """The upstream's answer to a ping ("pong")."""
        return (
            self._call(
                "GET", "/ping", endpoint="dream-machine GET /ping", parse=schema.Ping
            ).data.message
            or ""
        )
