"""The tools an agent calls at /mcp, each acting as the person whose token it presents.

The seed servers' tool and argument names are kept (luma-api.md §2), so prompts written for
them keep working; the new tools submit without blocking and `wait_for_generation` waits in
bounded steps. Every job goes through `start_generation` with the person's limits, as the form's
do, and records that it came through MCP. Database work runs in the request's own thread
(`sync_to_async`), as Django wants.
"""

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import anyio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from generations import credits, gallery, providers, trash
from generations.chaining import IMAGE_KINDS, VIDEO_KINDS
from generations.mcp import answers
from generations.mcp.requests import (
    ADD_AUDIO,
    BUILDERS,
    KIND_WORDS,
    UPSCALE,
    Ask,
    AskRefused,
    Media,
    choose,
    plain_errors,
)
from generations.models import Generation, Lineage, State, Via
from generations.submission import SubmissionRefused
from generations.tasks import start_generation

# wait_for_generation holds a request this long at most; agents wait again for longer jobs.
MAX_WAIT = 60.0
WAIT_STEP = 0.5
LIST_MAX = 100
OFFSET_MAX = 10**9  # past any team's history; a larger number is no row a database can skip to
# The gallery's filter fields that list_generations names otherwise.
ARGUMENT_OF_FILTER = {"q": "search"}


class Waits:
    """The wait_for_generation calls holding a thread of this web process: each one holds it
    for up to a minute, so at most LUMAWEB_MCP_MAX_WAITS at once, and the threads left serve
    the pages; a call past them answers at once with the state it sees."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.held = 0

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Whether this call may wait (it holds a place while it does)."""
        with self._lock:
            free = self.held < settings.LUMAWEB_MCP_MAX_WAITS
            self.held += free
        try:
            yield free
        finally:
            if free:
                with self._lock:
                    self.held -= 1


WAITS = Waits()


@dataclass(frozen=True)
class Caller:
    """Who is calling (the token's person) and the studio's address for links."""

    user: Any
    base_url: str


CALLER: ContextVar[Caller] = ContextVar("mcp_caller")


class StudioMCP(MCPServer):
    """The SDK's server, with tool errors in plain words (no "Error executing tool" prefix)."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                raise ToolError(f"Check the arguments of {name}:\n{plain_errors(cause)}") from cause
            if isinstance(cause, ToolError):
                raise ToolError(str(cause)) from cause
            raise


server = StudioMCP(
    name="lumaweb",
    title="lumaweb studio",
    instructions=(
        "A team's Luma studio. Jobs you start land in the team's shared gallery under the "
        "token's person, within their rate limits and budget. Creating tools return at once "
        "with the job's id and state; call wait_for_generation (at most 60 s per call, repeat "
        "as needed) or get_generation for the result. Media links in answers open without a "
        "login for a limited time. Pass idempotency_key to make a retried create safe."
    ),
)

READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
READ_UPSTREAM = ToolAnnotations(read_only_hint=True, open_world_hint=True)
CREATE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
DELETE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)

JobId = Annotated[str, Field(description="A job's id in this studio (list_generations shows them)")]
Source = Annotated[
    str, Field(description="A finished job's id in this studio, or an http(s) URL of the media")
]
Key = Annotated[
    str | None,
    Field(
        max_length=200,
        description="Any string; calling again with the same key returns the first job "
        "instead of starting another",
    ),
]
ProviderName = Annotated[
    str | None, Field(description="Which upstream to use (e.g. agents); default: any that can")
]
Answer = Annotated[CallToolResult, answers.GenerationInfo]
T = TypeVar("T")


async def studio(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run database work in the request's thread; refusals become tool errors."""
    try:
        return await sync_to_async(fn)(*args, **kwargs)
    except (AskRefused, SubmissionRefused) as exc:
        raise ToolError(str(exc)) from None


def result(structured: BaseModel, text: str) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=structured.model_dump(mode="json"),
    )


# --- looking things up ---


def find_job(generation_id: str, argument: str = "generation_id") -> Generation:
    try:
        uuid = UUID(generation_id.strip())
    except ValueError:
        raise AskRefused(
            f"{argument}: {generation_id!r} is not a job id of this studio; ids look like "
            "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed (list_generations shows them)."
        ) from None
    found = Generation.objects.gallery().select_related("parent").filter(uuid=uuid).first()
    if found is None:
        raise AskRefused(f"{argument}: no job {uuid} in the studio's history.")
    return found


def _made_from_trashed(job: Generation) -> bool:
    """Whether the job's request names a piece now in the Trash (by its upstream id, or by its
    output's link, as Dream Machine's requests keep a picked piece): the studio's own Remix
    refuses such a pick."""
    refs = providers.references(job.provider, job.request)
    named = [ref["generation_id"] for _, ref in refs if ref.get("generation_id")]
    links = [ref["url"] for _, ref in refs if ref.get("url")]
    if not named and not links:
        return False
    by_either = Q(provider=job.provider, upstream_id__in=named) | Q(outputs__url__in=links)
    return Generation.objects.filter(by_either, deleted_at__isnull=False).exists()


def finished_job(generation_id: str, argument: str, kinds: tuple[str, ...]) -> Generation:
    """A completed job of one of `kinds`, to make something from."""
    job = find_job(generation_id, argument)
    if job.kind not in kinds:
        wanted = " or ".join(sorted({_media_word(kind) for kind in kinds}))
        raise AskRefused(
            f"{argument}: job {job.uuid} is {_media_word(job.kind)} ({job.kind}); "
            f"this needs {wanted}."
        )
    if job.state != State.COMPLETED:
        raise AskRefused(
            f"{argument}: job {job.uuid} is {job.get_state_display().lower()}; it can be used "
            "once completed (wait_for_generation)."
        )
    return job


def _media_word(kind: str) -> str:
    if kind in IMAGE_KINDS:
        return "an image"
    return "a video" if kind in VIDEO_KINDS else "a layer split"


def media(value: str, argument: str, kinds: tuple[str, ...]) -> Media:
    """A URL, or a finished job of the studio by its id."""
    value = value.strip()
    if value.lower().startswith(("http://", "https://")):
        return Media(url=value)
    return Media(job=finished_job(value, argument, kinds))


def state_of(job: Generation) -> str:
    """A job's state now, in one indexed read; refused once someone deleted it."""
    state = Generation.objects.filter(pk=job.pk).values_list("state", flat=True).first()
    if state is None:
        raise AskRefused(f"Job {job.uuid} was deleted while waiting for it.")
    return state


def namespaced_key(user: Any, key: str | None) -> str | None:
    """An agent's idempotency key in its own namespace: never a form's key nor a retry's."""
    if not key:
        return None
    return "mcp:" + hashlib.sha256(f"{user.pk}:{key}".encode()).hexdigest()[:48]


def answer(generation: Generation, headline: str = "") -> CallToolResult:
    job = Generation.objects.gallery().select_related("parent").get(pk=generation.pk)
    info = answers.describe(job, CALLER.get().base_url)
    return result(info, answers.as_text(info, headline))


def submit(
    ask: Ask,
    *,
    provider: str | None,
    idempotency_key: str | None,
    parent: Generation | None = None,
    lineage: str = "",
) -> CallToolResult:
    """Start a job as the caller, through the studio's own submission and its limits."""
    chosen = choose(ask.kind, model=ask.model, provider=provider)
    request = BUILDERS[chosen.name].build(ask)
    user = CALLER.get().user
    generation, created = start_generation(
        user,
        request,
        provider=chosen.name,
        idempotency_key=namespaced_key(user, idempotency_key),
        parent=parent,
        lineage=lineage,
        check_limits=True,
        via=Via.MCP,
    )
    if created:
        headline = (
            f"Created {KIND_WORDS[generation.kind][:-1]} generation with ID: {generation.uuid}"
        )
    else:
        headline = f"This idempotency_key already started job {generation.uuid}; nothing new."
    return answer(generation, headline)


def submit_made_from(
    ask: Ask, lineage: str, *, provider: str | None, idempotency_key: str | None
) -> CallToolResult:
    """Start a job made from `ask.source`: a finished job of the studio is its parent, in
    `lineage` (an edit, a reframe, layers); a URL has no parent here."""
    parent = ask.source.job if ask.source else None
    return submit(
        ask,
        provider=provider,
        idempotency_key=idempotency_key,
        parent=parent,
        lineage=lineage if parent else "",
    )


# --- the seed's tools ---


class Keyframe(BaseModel):
    type: Literal["image", "generation"] = Field(
        description="image: a picture by URL; generation: a finished job of this studio by id"
    )
    url: str | None = None
    id: str | None = None


class Keyframes(BaseModel):
    # A name it does not know is refused: dropped, a typo would start a text-to-video.
    model_config = ConfigDict(extra="forbid")

    frame0: Keyframe | None = Field(None, description="The start (a video job: extend it)")
    frame1: Keyframe | None = Field(None, description="The end")


class ImageWeight(BaseModel):
    url: str
    weight: float | None = Field(None, description="Accepted for the seed's prompts; unused")


class CharacterImages(BaseModel):
    images: list[str]


@server.tool(annotations=READ_UPSTREAM)
async def ping() -> Annotated[CallToolResult, answers.Pong]:
    """Check that the studio answers, as whom, and which upstreams are on."""

    def run() -> CallToolResult:
        user = CALLER.get().user
        on = [p.display_name for p in providers.enabled() if p.ping()]
        pong = answers.Pong(message="pong", user=user.get_username(), providers=on)
        text = f"pong: lumaweb, acting as {pong.user}. Providers on: {', '.join(on) or 'none'}."
        return result(pong, text)

    return await studio(run)


def _frame(frame: Keyframe | None, argument: str) -> Media | None:
    if frame is None:
        return None
    if frame.type == "image":
        if not frame.url:
            raise AskRefused(f"{argument}.url: give the image's URL (type image).")
        return Media(url=frame.url)
    if not frame.id:
        raise AskRefused(f"{argument}.id: give the job's id (type generation).")
    return Media(job=finished_job(frame.id, f"{argument}.id", IMAGE_KINDS + VIDEO_KINDS))


@server.tool(annotations=CREATE)
async def create_generation(
    prompt: str,
    model: str | None = None,
    resolution: str | None = None,
    duration: str | None = None,
    aspect_ratio: str | None = None,
    loop: Annotated[bool | None, Field(strict=True)] = None,  # "yes" or 1 is no answer
    keyframes: Keyframes | None = None,
    callback_url: Annotated[
        str | None, Field(description="Ignored: call wait_for_generation instead")
    ] = None,
    provider: ProviderName = None,
    idempotency_key: Key = None,
) -> Answer:
    """Start a video from a prompt, optionally from/to images or extending a finished video
    (keyframes.frame0 / frame1). Returns at once with the job's id; wait_for_generation waits."""

    def run() -> CallToolResult:
        frames = keyframes or Keyframes()
        start = _frame(frames.frame0, "keyframes.frame0")
        end = _frame(frames.frame1, "keyframes.frame1")
        ask = Ask(
            "video",
            prompt,
            model=model,
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            duration=duration,
            loop=loop,
            start=start,
            end=end,
        )
        parent = next((m.job for m in (start, end) if m is not None and m.job), None)
        lineage = ""
        if parent is not None:
            extends = start is not None and start.job is parent and parent.kind in VIDEO_KINDS
            lineage = Lineage.EXTEND if extends else Lineage.ANIMATE
        return submit(
            ask,
            provider=provider,
            idempotency_key=idempotency_key,
            parent=parent,
            lineage=lineage,
        )

    return await studio(run)


@server.tool(annotations=CREATE)
async def generate_image(
    prompt: str,
    model: str | None = None,
    aspect_ratio: str | None = None,
    image_ref: list[ImageWeight] | None = None,
    style_ref: list[ImageWeight] | None = None,
    character_ref: dict[str, CharacterImages] | None = None,
    modify_image_ref: Annotated[
        ImageWeight | None, Field(description="An image to change: makes an image edit")
    ] = None,
    provider: ProviderName = None,
    idempotency_key: Key = None,
) -> Answer:
    """Start an image from a prompt and optional reference images (by URL). Returns at once
    with the job's id; wait_for_generation waits for the picture."""

    def run() -> CallToolResult:
        urls = [ref.url for ref in (image_ref or []) + (style_ref or [])]
        urls += [url for identity in (character_ref or {}).values() for url in identity.images]
        ask = Ask(
            "image_edit" if modify_image_ref else "image",
            prompt,
            model=model,
            aspect_ratio=aspect_ratio,
            references=tuple(Media(url=url) for url in urls),
            source=Media(url=modify_image_ref.url) if modify_image_ref else None,
        )
        return submit(ask, provider=provider, idempotency_key=idempotency_key)

    return await studio(run)


@server.tool(annotations=READ)
async def get_generation(generation_id: JobId) -> Answer:
    """One job of the team's history: its state, why it failed, its page and media links."""
    return await studio(lambda: answer(find_job(generation_id)))


@server.tool(annotations=READ)
async def list_generations(
    limit: Annotated[int, Field(strict=True, ge=1, le=LIST_MAX)] = 10,
    offset: Annotated[int, Field(strict=True, ge=0, le=OFFSET_MAX)] = 0,
    mine: Annotated[
        bool, Field(strict=True, description="Only jobs the token's person started")
    ] = False,
    person: Annotated[str | None, Field(description="Only this teammate's jobs (username)")] = None,
    kind: Literal[tuple(gallery.KINDS)] | None = None,  # type: ignore[valid-type]
    state: Literal["active", "completed", "failed"] | None = None,
    provider: ProviderName = None,
    search: Annotated[str | None, Field(description="Words the prompt contains")] = None,
) -> Annotated[CallToolResult, answers.GenerationList]:
    """The team's history, newest first, like the gallery; has_more says if offset+limit goes on."""

    def run() -> CallToolResult:
        caller = CALLER.get()
        if mine and person:
            raise AskRefused("mine, person: give one of them, not both.")
        if provider and provider not in providers.CLASSES:
            raise AskRefused(
                f"provider: {provider!r} is not one of {', '.join(providers.CLASSES)}."
            )
        people = get_user_model().objects.values_list("username", flat=True)
        data = {
            "kind": kind or "",
            "state": state or "",
            "person": caller.user.get_username() if mine else person or "",
            "q": search or "",
        }
        filters = gallery.GalleryFilters(data, people=list(people))
        if not filters.is_valid():
            raise AskRefused(
                "\n".join(
                    f"{ARGUMENT_OF_FILTER.get(name, name)}: {' '.join(map(str, errors))}"
                    for name, errors in filters.errors.items()
                )
            )
        jobs = filters.apply(Generation.objects.gallery().select_related("parent"))
        if provider:
            jobs = jobs.filter(provider=provider)
        found = list(jobs.order_by("-created_at", "-id")[offset : offset + limit + 1])
        page = [answers.describe(job, caller.base_url) for job in found[:limit]]
        listing = answers.GenerationList(
            generations=page, limit=limit, offset=offset, has_more=len(found) > limit
        )
        lines = [f"Generations, newest first ({offset + 1} to {offset + len(page)}):"]
        if not page:
            lines = ["No generations match." if offset == 0 else "No more generations."]
        lines += ["\n" + answers.as_text(info) for info in page]
        if listing.has_more:
            lines.append(f"\nMore: call list_generations with offset={offset + limit}.")
        return result(listing, "\n".join(lines))

    return await studio(run)


class Deleted(BaseModel):
    id: str
    deleted: bool


@server.tool(annotations=DELETE)
async def delete_generation(generation_id: JobId) -> Annotated[CallToolResult, Deleted]:
    """Move a job to the studio's trash (its owner or staff only); it can be restored from the
    Trash page until it is purged with its files (LUMAWEB_TRASH_DAYS)."""

    def run() -> CallToolResult:
        job = find_job(generation_id)
        user = CALLER.get().user
        if not trash.can_delete(user, job):
            raise AskRefused(
                f"Only {job.created_by.get_username()}, who made job {job.uuid}, or staff can "
                "delete it."
            )
        trash.move_to_trash(user, [job])
        return result(
            Deleted(id=str(job.uuid), deleted=True),
            f"Moved generation {job.uuid} to the trash; it can be restored from the Trash page.",
        )

    return await studio(run)


@server.tool(annotations=CREATE)
async def upscale_generation(
    generation_id: JobId,
    resolution: Annotated[str | None, Field(description="e.g. 1080p or 4k")] = None,
    provider: ProviderName = None,
    idempotency_key: Key = None,
) -> Answer:
    """Start a higher-resolution copy of a finished video."""

    def run() -> CallToolResult:
        job = finished_job(generation_id, "generation_id", VIDEO_KINDS)
        ask = Ask(UPSCALE, job.prompt, resolution=resolution, source=Media(job=job))
        return submit(ask, provider=provider, idempotency_key=idempotency_key, parent=job)

    return await studio(run)


@server.tool(annotations=CREATE)
async def add_audio(
    generation_id: JobId,
    prompt: str,
    negative_prompt: str | None = None,
    callback_url: Annotated[
        str | None, Field(description="Ignored: call wait_for_generation instead")
    ] = None,
    provider: ProviderName = None,
    idempotency_key: Key = None,
) -> Answer:
    """Start a copy of a finished video with sound made from a prompt."""

    def run() -> CallToolResult:
        job = finished_job(generation_id, "generation_id", VIDEO_KINDS)
        options = {"negative_prompt": negative_prompt} if negative_prompt else {}
        ask = Ask(ADD_AUDIO, prompt, source=Media(job=job), options=options)
        return submit(ask, provider=provider, idempotency_key=idempotency_key, parent=job)

    return await studio(run)


@server.tool(annotations=READ)
async def get_credits() -> Annotated[CallToolResult, answers.Credits]:
    """Each upstream's balance in US dollars as the studio last read it, for staff as on the
    studio's pages (or why not)."""

    def run() -> CallToolResult:
        # The worker's readings (credits.py): a call never asks an upstream, whose rate limit
        # the team's jobs share.
        stored = {reading.provider: reading for reading in credits.balances()}
        staff = CALLER.get().user.is_staff
        rows = []
        for upstream in providers.enabled():
            row = answers.CreditInfo(provider=upstream.display_name)
            reading = stored.get(upstream.name)
            if not upstream.capabilities.credits:
                row.note = "not available: this upstream does not report a balance"
            elif not staff:
                row.note = "shown to staff only, as on the studio's pages"
            elif reading is None:
                row.note = "not read yet: the studio's worker reads it every few minutes"
            else:
                row.balance_usd = round(reading.cents / 100, 2)
                row.read_at = reading.read_at
            rows.append(row)
        text = "\n".join(
            f"{row.provider}: "
            + (
                f"${row.balance_usd:,.2f} (read {row.read_at:%Y-%m-%d %H:%M} UTC)"
                if row.balance_usd is not None
                else row.note
            )
            for row in rows
        )
        return result(answers.Credits(providers=rows), text or "No upstream is on.")

    return await studio(run)


@server.tool(annotations=READ_UPSTREAM)
async def get_camera_motions() -> Annotated[CallToolResult, answers.Motions]:
    """The camera moves a video prompt may name (from upstreams that publish such a list)."""

    def run() -> CallToolResult:
        motions: list[str] = []
        for upstream in providers.enabled():
            builder = BUILDERS.get(upstream.name)
            found = builder.camera_motions(upstream) if builder else None
            motions += [m for m in found or [] if m not in motions]
        if not motions:
            raise AskRefused(
                "No upstream that is on here publishes camera motions: that needs Luma's "
                "Dream Machine API to be configured. Describe the camera move in the prompt."
            )
        return result(answers.Motions(camera_motions=motions), "\n".join(motions))

    return await studio(run)


# --- beyond the seed ---


@server.tool(annotations=CREATE)
async def edit_image(
    prompt: str,
    source: Source,
    image_ref: Annotated[list[str] | None, Field(description="Reference image URLs")] = None,
    model: str | None = None,
    aspect_ratio: str | None = None,
    provider: ProviderName = None,
    idempotency_key: Key = None,
) -> Answer:
    """Start an edit of an image (a finished image job, or a URL) described by the prompt."""

    def run() -> CallToolResult:
        picked = media(source, "source", IMAGE_KINDS)
        ask = Ask(
            "image_edit",
            prompt,
            model=model,
            aspect_ratio=aspect_ratio,
            source=picked,
            references=tuple(Media(url=url) for url in image_ref or []),
        )
        return submit_made_from(
            ask, Lineage.EDIT, provider=provider, idempotency_key=idempotency_key
        )

    return await studio(run)


@server.tool(annotations=CREATE)
async def edit_video(
    prompt: str,
    source: Source,
    strength: Annotated[
        str | None, Field(description="adhere_1..3 (keep most), flex_1..3, reimagine_1..3")
    ] = None,
    resolution: str | None = None,
    provider: ProviderName = None,
    idempotency_key: Key = None,
) -> Answer:
    """Start a restyle or change of a video (a finished video job, or a URL)."""

    def run() -> CallToolResult:
        picked = media(source, "source", VIDEO_KINDS)
        ask = Ask("video_edit", prompt, resolution=resolution, source=picked, strength=strength)
        return submit_made_from(
            ask, Lineage.EDIT, provider=provider, idempotency_key=idempotency_key
        )

    return await studio(run)


@server.tool(annotations=CREATE)
async def reframe_video(
    source: Source,
    aspect_ratio: str,
    prompt: Annotated[
        str, Field(description="What to show in the new parts of the frame")
    ] = "Continue the scene naturally into the new parts of the frame.",
    resolution: str | None = None,
    provider: ProviderName = None,
    idempotency_key: Key = None,
) -> Answer:
    """Start a copy of a video in another aspect ratio, the model filling the new area."""

    def run() -> CallToolResult:
        picked = media(source, "source", VIDEO_KINDS)
        ask = Ask(
            "video_reframe",
            prompt,
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            source=picked,
        )
        return submit_made_from(
            ask, Lineage.REFRAME, provider=provider, idempotency_key=idempotency_key
        )

    return await studio(run)


@server.tool(annotations=CREATE)
async def split_layers(
    source: Source,
    prompt: Annotated[
        str, Field(description="Optional guide, e.g. 'the person, the car, the sky'")
    ] = "Split this image into its layers.",
    resolution: Annotated[str | None, Field(description="1k or 2k")] = None,
    provider: ProviderName = None,
    idempotency_key: Key = None,
) -> Answer:
    """Start a split of an image into transparent layers (subject, background, …)."""

    def run() -> CallToolResult:
        picked = media(source, "source", IMAGE_KINDS)
        ask = Ask("layering", prompt, resolution=resolution, source=picked)
        return submit_made_from(
            ask, Lineage.LAYERS, provider=provider, idempotency_key=idempotency_key
        )

    return await studio(run)


@server.tool(annotations=CREATE)
async def remix_generation(
    generation_id: JobId,
    prompt: Annotated[str | None, Field(description="A new prompt; default: the same")] = None,
    idempotency_key: Key = None,
) -> Answer:
    """Start a job with the same request as an earlier one, optionally with a new prompt."""

    def run() -> CallToolResult:
        job = find_job(generation_id)
        if job.holds_unsent_uploads:
            raise AskRefused(
                f"generation_id: job {job.uuid}'s uploads never reached its upstream, so it "
                "cannot be remixed; remake it from its page."
            )
        builder = BUILDERS.get(job.provider)
        try:
            upstream = providers.get(job.provider)
        except providers.ProviderOff:
            upstream = None
        if builder is None or upstream is None:
            raise AskRefused(
                f"generation_id: job {job.uuid} was made with {providers.label(job.provider)}, "
                "which is not on here."
            )
        try:
            stored = upstream.parse(job.request)
        except ValidationError as exc:
            raise AskRefused(
                f"Its stored request is no longer valid:\n{plain_errors(exc)}"
            ) from None
        if _made_from_trashed(job):
            raise AskRefused(
                f"generation_id: job {job.uuid} was made from a piece that has since been moved "
                "to the Trash, so it cannot be made again; its owner can restore that piece."
            )
        request = builder.remix(stored, prompt)
        user = CALLER.get().user
        generation, created = start_generation(
            user,
            request,
            provider=job.provider,
            idempotency_key=namespaced_key(user, idempotency_key),
            parent=job,
            lineage=Lineage.REMIX,
            check_limits=True,
            via=Via.MCP,
        )
        headline = (
            f"Created a remix of {job.uuid} with ID: {generation.uuid}"
            if created
            else f"This idempotency_key already started job {generation.uuid}; nothing new."
        )
        return answer(generation, headline)

    return await studio(run)


@server.tool(annotations=READ)
async def wait_for_generation(
    generation_id: JobId,
    timeout: Annotated[
        float,
        Field(
            strict=True,
            ge=0,
            le=MAX_WAIT,
            allow_inf_nan=False,
            description="Seconds to wait at most (60 at most)",
        ),
    ] = 30,
) -> Answer:
    """Wait until a job finishes or `timeout` seconds pass; returns the state it saw then.
    Call again to keep waiting: each call holds at most 60 seconds."""
    with WAITS.slot() as waiting:
        deadline = time.monotonic() + (timeout if waiting else 0)
        job = await studio(find_job, generation_id)
        while not job.is_terminal and (left := deadline - time.monotonic()) > 0:
            await anyio.sleep(min(WAIT_STEP, left))
            job.state = await studio(state_of, job)
    state = job.get_state_display().lower()
    if job.is_terminal:
        headline = f"Finished: {state}."
    elif not waiting:
        headline = (
            f"Still {state}; the studio is answering other waits, so this one did not wait: "
            "call wait_for_generation again in a few seconds."
        )
    else:
        headline = (
            f"Still {state} after {timeout:g} s; call wait_for_generation again to keep waiting."
        )
    return await studio(answer, job, headline)
