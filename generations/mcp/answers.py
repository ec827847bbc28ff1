"""What the tools answer: typed structured content, and the same facts as text for people."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from pydantic import BaseModel, Field

from generations.models import FAILURE_STATES, Generation, Output, State

MEDIA_SALT = "lumaweb.mcp.media"


class MediaLink(BaseModel):
    kind: str = Field(description="image, video or audio")
    url: str = Field(description="Opens without a browser session until expires_at")
    expires_at: datetime
    label: str = Field("", description="A layer's label, for layer splits")


class GenerationInfo(BaseModel):
    id: str = Field(description="The job's id in this studio (use it with the other tools)")
    state: str = Field(
        description="draft, submitting, queued, processing, completed, failed, unknown"
    )
    finished: bool
    kind: str
    model: str
    provider: str
    prompt: str
    created_by: str
    created_at: datetime
    via: str = Field(description="web (the studio's pages) or mcp")
    failure_code: str = ""
    reason: str = Field("", description="Why it failed, in plain words")
    parent_id: str | None = Field(None, description="The job it was made from")
    lineage: str = ""
    page_url: str = Field(description="The job's page in the studio")
    media: list[MediaLink] = Field(default_factory=list)


class GenerationList(BaseModel):
    generations: list[GenerationInfo]
    limit: int
    offset: int
    has_more: bool


class CreditInfo(BaseModel):
    provider: str
    balance_usd: float | None = Field(None, description="Dollars; None when not available")
    read_at: datetime | None = Field(None, description="When the studio read the balance")
    note: str = ""


class Credits(BaseModel):
    providers: list[CreditInfo]


class Motions(BaseModel):
    camera_motions: list[str]


class Pong(BaseModel):
    message: str
    user: str
    providers: list[str]


def media_link(output: Output, base_url: str) -> MediaLink:
    """A signed link to one output that works for LUMAWEB_MCP_LINK_TTL seconds, no login needed."""
    signed = signing.TimestampSigner(salt=MEDIA_SALT).sign(
        f"{output.generation.uuid}_{output.index}"
    )
    return MediaLink(
        kind=output.kind,
        url=base_url + reverse("mcp-media", args=[signed]),
        expires_at=timezone.now() + timedelta(seconds=settings.LUMAWEB_MCP_LINK_TTL),
        label=(output.layer or {}).get("label", ""),
    )


def unsign_media(signed: str) -> tuple[str, int] | None:
    """The (job id, output index) a media link names, or None when forged or expired."""
    try:
        value = signing.TimestampSigner(salt=MEDIA_SALT).unsign(
            signed, max_age=settings.LUMAWEB_MCP_LINK_TTL
        )
    except signing.BadSignature:
        return None
    uuid, _, index = value.partition("_")
    return uuid, int(index)


def describe(generation: Generation, base_url: str) -> GenerationInfo:
    """One job as a tool answers it (its outputs prefetched when it is completed)."""
    completed = generation.state == State.COMPLETED
    return GenerationInfo(
        id=str(generation.uuid),
        state=generation.state,
        finished=generation.is_terminal,
        kind=generation.kind,
        model=generation.model,
        provider=generation.provider,
        prompt=generation.prompt,
        created_by=generation.created_by.get_username(),
        created_at=generation.created_at,
        via=generation.via,
        failure_code=generation.failure_code,
        reason=_reason(generation),
        # A trashed parent is not named, as the piece's page does not show it.
        parent_id=str(parent.uuid)
        if (parent := generation.parent) and not parent.deleted_at
        else None,
        lineage=generation.lineage,
        page_url=base_url + generation.get_absolute_url(),
        media=[media_link(o, base_url) for o in generation.outputs.all()] if completed else [],
    )


def _reason(generation: Generation) -> str:
    if generation.state not in FAILURE_STATES:
        return ""
    words = str(generation.explanation.advice)
    return f"{generation.failure_reason} — {words}" if generation.failure_reason else words


def as_text(info: GenerationInfo, headline: str = "") -> str:
    """The facts of one job as lines of text, like the seed server's answers."""
    lines = [headline] if headline else []
    lines += [
        f"ID: {info.id}",
        f"State: {info.state}",
        f"Kind: {info.kind} ({info.model}, {info.provider})",
        f"Prompt: {info.prompt}",
        f"By: {info.created_by} via {info.via}, {info.created_at:%Y-%m-%d %H:%M} UTC",
    ]
    if info.parent_id:
        lines.append(f"Made from: {info.parent_id} ({info.lineage})")
    if info.reason:
        lines.append(f"Reason: {info.reason}")
    lines.append(f"Page: {info.page_url}")
    for link in info.media:
        label = f" ({link.label})" if link.label else ""
        lines.append(f"{link.kind.capitalize()} URL{label}: {link.url}")
    if info.media:
        lines.append(f"Media links expire at {info.media[0].expires_at:%H:%M} UTC.")
    return "\n".join(lines)
