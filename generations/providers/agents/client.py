"""A typed, synchronous client for Luma's Agents API (luma-api.md §1).

The retry policy (never repeat a job-creating POST whose outcome is unknown) is the shared one of
`generations.providers.http.UpstreamClient`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx

from generations.providers import errors
from generations.providers.http import Reply, UpstreamClient

from . import schema

STREAM_CHUNK = 1024 * 1024


class AgentsClient(UpstreamClient):
    """Speaks Luma's Agents API."""

    # --- generations ---

    def create_generation(self, request: schema.GenerationRequest) -> Reply[schema.Generation]:
        """Submit a job. Never repeated once sent: see the module docstring."""
        return self._call(
            "POST",
            "/generations",
            endpoint="POST /generations",
            parse=schema.Generation,
            creates=True,
            json=request.to_wire(),
        )

    def get_generation(self, generation_id: str) -> Reply[schema.Generation]:
        """Poll a job; also returns fresh presigned output URLs."""
        return self._call(
            "GET",
            f"/generations/{generation_id}",
            endpoint="GET /generations/{id}",
            parse=schema.Generation,
        )

    # --- files ---

    def upload_inline(
        self,
        content: bytes | IO[bytes],
        *,
        filename: str,
        mime_type: str,
        purpose: schema.FilePurpose | None = None,
        user_id: str | None = None,
    ) -> Reply[schema.CreateFileResponse]:
        """Upload a small file in one multipart request; it comes back `pending` ingest."""
        fields = {"mime_type": mime_type, "filename": filename}
        if purpose:
            fields["purpose"] = purpose
        if user_id:
            fields["user_id"] = user_id
        return self._call(
            "POST",
            "/files",
            endpoint="POST /files",
            parse=schema.CreateFileResponse,
            creates=True,
            data=fields,
            files={"file": (filename, content, mime_type)},
        )

    def create_presigned_upload(
        self, request: schema.FileCreateRequest
    ) -> Reply[schema.CreateFileResponse]:
        """Ask for a presigned upload envelope for a large file."""
        return self._call(
            "POST",
            "/files",
            endpoint="POST /files",
            parse=schema.CreateFileResponse,
            creates=True,
            json=request.model_dump(mode="json", exclude_none=True),
        )

    def put_upload(self, upload: schema.PresignedUpload, path: Path) -> None:
        """PUT a file's bytes to its presigned URL, streamed from disk (never read whole)."""
        size = path.stat().st_size

        def send() -> httpx.Response:
            headers = {**(upload.headers or {}), "Content-Length": str(size)}
            return self._storage.request(
                upload.method or "PUT", upload.url, headers=headers, content=_stream_file(path)
            )

        self._attempts("PUT (presigned upload)", send, creates=False, parse=None)

    def complete_file(self, file_id: str) -> Reply[schema.File]:
        """Start ingest of a presigned upload whose bytes are in place."""
        return self._call(
            "POST",
            f"/files/{file_id}/complete",
            endpoint="POST /files/{id}/complete",
            parse=schema.File,
        )

    def get_file(self, file_id: str) -> Reply[schema.File]:
        """Read a file's record (its state, mostly)."""
        return self._call("GET", f"/files/{file_id}", endpoint="GET /files/{id}", parse=schema.File)

    def list_files(
        self,
        *,
        cursor: str | None = None,
        limit: int = 25,
        purpose: schema.FilePurpose | None = None,
        state: schema.FileState | None = None,
    ) -> Reply[schema.FileList]:
        """One keyset page of files, newest first."""
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        if purpose:
            params["purpose"] = purpose
        if state:
            params["state"] = state
        return self._call(
            "GET", "/files", endpoint="GET /files", parse=schema.FileList, params=params
        )

    def delete_file(self, file_id: str) -> str:
        """Soft-delete a file; returns the request id."""
        return self._call(
            "DELETE", f"/files/{file_id}", endpoint="DELETE /files/{id}", parse=None
        ).request_id

    def upload(
        self,
        path: Path,
        *,
        mime_type: str,
        filename: str | None = None,
        purpose: schema.FilePurpose | None = None,
        user_id: str | None = None,
        inline_limit: int = 8 * 1024 * 1024,
        wait: float = 120.0,
        poll_every: float = 0.5,
    ) -> schema.File:
        """Upload a file the right way for its size and wait until it is `ready`.

        Raises `errors.Unprocessable` with the upstream's reason if ingest fails.
        """
        name = filename or path.name
        size = path.stat().st_size
        if size <= inline_limit:
            with path.open("rb") as handle:
                created = self.upload_inline(
                    handle, filename=name, mime_type=mime_type, purpose=purpose, user_id=user_id
                ).data
        else:
            created = self.create_presigned_upload(
                schema.FileCreateRequest(
                    mime_type=mime_type,
                    size_bytes=size,
                    filename=name,
                    purpose=purpose,
                    user_id=user_id,
                )
            ).data
            if created.upload is None:
                raise errors.MalformedResponse("The presigned upload came back without a URL.")
            self.put_upload(created.upload, path)
            self.complete_file(created.id)
        return self.wait_for_file(created.id, timeout=wait, poll_every=poll_every)

    def wait_for_file(self, file_id: str, *, timeout: float, poll_every: float) -> schema.File:
        """Poll a file until ingest finishes; raise if it failed or took too long."""
        deadline = time.monotonic() + timeout
        while True:
            file = self.get_file(file_id).data
            if file.state == "ready":
                return file
            if file.state in ("failed", "deleted"):
                raise errors.Unprocessable(
                    file.failure_reason or f"The upload ended {file.state}.", status=None
                )
            if time.monotonic() >= deadline:
                raise errors.ServerError(f"The upload was still {file.state} after {timeout} s.")
            self._sleep(poll_every)

    # --- the one place requests are sent ---


def _stream_file(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(STREAM_CHUNK):
            yield chunk
