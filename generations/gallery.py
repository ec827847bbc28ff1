"""The team gallery's queries and what its pages share (none of them a view: gallery_views.py,
board_views.py and views.py are the views): keyset pages, filters that live in the URL, prompt
search, a browsable page of any set of pieces, a piece's download, its lineage for its page."""

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Prefetch, Q, Subquery, prefetch_related_objects
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify

from generations import providers, search, tasks
from generations.cards import PageCard, page_board, page_cards, render_card
from generations.models import (
    ACTIVE_STATES,
    NAMED_FOR_THEIR_WORK,
    Board,
    Generation,
    GenerationQuerySet,
    Input,
    Kind,
    Output,
    State,
)
from generations.serving import serve

PAGE_SIZE = 24
# What the Kind filter finds: each kind, and upscales and added audio as their cards name them
# (also found among video edits).
KINDS = {**dict(Kind.choices), **NAMED_FOR_THEIR_WORK}
STATE_FILTERS = {
    "active": ACTIVE_STATES,
    "completed": (State.COMPLETED,),
    "failed": (State.FAILED, State.UNKNOWN),
}
SIDE_BY_SIDE = {"image_edit", "video_edit", "video_reframe"}
CHILD_LABELS = {
    "remix": "Remix",
    "edit": "Edit",
    "animate": "Animation",
    "extend": "Extension",
    "reframe": "Reframe",
    "layers": "Layers",
    "retry": "Retry",
}


# Dates a filter may name: "until 9999-12-31" would overflow the day after it (and far years
# any time zone's offset), so such a filter is ignored like any other bad one.
DATE_RANGE = [
    MinValueValidator(date(1970, 1, 1), "choose a date from 1970 on."),
    MaxValueValidator(date(9000, 12, 31), "choose a date before the year 9001."),
]


class GalleryFilters(forms.Form):
    """What the gallery shows; every field is a URL parameter, so a view can be shared."""

    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search prompts",
        error_messages={
            "max_length": "use at most %(limit_value)d characters (this has %(show_value)d)."
        },
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Search prompts", "autocomplete": "off"}
        ),
    )
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *KINDS.items()])
    provider = forms.ChoiceField(required=False, label="Upstream")
    model = forms.ChoiceField(required=False)
    state = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any state"),
            ("active", "In progress"),
            ("completed", "Completed"),
            ("failed", "Failed"),
        ],
    )
    person = forms.ChoiceField(required=False)
    ratio = forms.ChoiceField(required=False, label="Aspect ratio")
    since = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=DATE_RANGE,
    )
    until = forms.DateField(
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=DATE_RANGE,
    )
    starred = forms.BooleanField(required=False, label="Starred by me")

    def __init__(self, data: Any, *, people: list[str]) -> None:
        super().__init__(data)
        self.fields["person"].choices = [("", "Anyone"), *((p, p) for p in people)]
        known = providers.every()
        self.fields["provider"].choices = [
            ("", "Any upstream"),
            *((p.name, p.label) for p in known),
        ]
        self.fields["model"].choices = [("", "Any model"), *((m, m) for m in providers.models())]
        ratios = dict.fromkeys(r for p in known for r in p.capabilities.aspect_ratios)
        self.fields["ratio"].choices = [("", "Any shape"), *((r, r) for r in ratios)]

    def apply(self, queryset: GenerationQuerySet) -> GenerationQuerySet:
        """Narrow the (viewer-annotated) queryset by every valid filter; bad ones are ignored."""
        self.is_valid()
        data = {key: value for key, value in self.cleaned_data.items() if value}
        if data.get("kind") in NAMED_FOR_THEIR_WORK:
            queryset = queryset.filter(model=data["kind"])
        elif "kind" in data:
            queryset = queryset.filter(kind=data["kind"])
        if "provider" in data:
            queryset = queryset.filter(provider=data["provider"])
        if "model" in data:
            queryset = queryset.filter(model=data["model"])
        if "state" in data:
            queryset = queryset.filter(state__in=STATE_FILTERS[data["state"]])
        if "person" in data:
            queryset = queryset.filter(created_by__username=data["person"])
        if "ratio" in data:
            queryset = queryset.filter(aspect_ratio=data["ratio"])
        zone = timezone.get_current_timezone()
        if "since" in data and "until" in data:  # the wrong way round: the range they name
            data["since"], data["until"] = sorted((data["since"], data["until"]))
        if "since" in data:
            queryset = queryset.filter(
                created_at__gte=datetime.combine(data["since"], time.min, tzinfo=zone)
            )
        if "until" in data:
            end = data["until"] + timedelta(days=1)
            queryset = queryset.filter(created_at__lt=datetime.combine(end, time.min, tzinfo=zone))
        if data.get("starred"):
            queryset = queryset.filter(is_starred=True)
        if "q" in data:
            queryset = search.matching(queryset, data["q"])
        return queryset

    def query(self) -> dict[str, str]:
        """The filters as given (non-empty ones), for links to further pages."""
        return {name: self.data[name] for name in self.fields if self.data.get(name)}


# --- keyset pages ---


@dataclass
class GalleryPage:
    items: list[PageCard]
    next_url: str
    first_url: str  # the newest page with the same filters
    after: bool  # not the first page
    filtered: bool
    base_url: str  # the same view unfiltered
    walk: str = ""  # what a card's link carries to its piece's page ("?q=…"): see Walk


def encode_cursor(generation: Generation | PageCard) -> str:
    raw = f"{generation.created_at.timestamp():.6f}|{generation.uuid}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, uuid = raw.split("|")
        return datetime.fromtimestamp(float(stamp), tz=UTC), UUID(uuid)
    except (ValueError, OverflowError, OSError, binascii.Error, UnicodeDecodeError):
        return None  # not a cursor we made (a time no clock reaches, say): the first page


def after_cursor(queryset: GenerationQuerySet, cursor: str) -> GenerationQuerySet:
    """Rows older than the cursor's row in (created_at, id) order: an index range, no OFFSET."""
    decoded = decode_cursor(cursor)
    if decoded is None:
        return queryset
    created_at, uuid = decoded
    cursor_id = Subquery(Generation.objects.filter(uuid=uuid).order_by().values("id")[:1])
    # The first condition bounds the index scan; the second breaks ties on equal times.
    return queryset.filter(created_at__lte=created_at).filter(
        Q(created_at__lt=created_at) | Q(id__lt=cursor_id)
    )


def gallery_page(
    queryset: GenerationQuerySet,
    user: Any,
    cursor: str = "",
    query: dict[str, str] | None = None,
    base_url: str = "",
    walk: str = "",
) -> GalleryPage:
    """One page of `queryset` (annotated for `user`: `for_viewer`), newest first; its links go
    to `base_url` (default: the gallery)."""
    if cursor:
        queryset = after_cursor(queryset, cursor)
    query = query or {}
    base_url = base_url or reverse("gallery")
    items, more = page_cards(queryset.order_by("-created_at", "-id"), user, PAGE_SIZE)
    next_url = ""
    if more and items:
        params = {**query, "cursor": encode_cursor(items[-1])}
        next_url = f"{base_url}?{urlencode(params)}"
    first_url = f"{base_url}?{urlencode(query)}" if query else base_url
    return GalleryPage(
        items,
        next_url,
        first_url,
        after=bool(cursor),
        filtered=bool(query),
        base_url=base_url,
        walk=walk,
    )


def first_page(user: Any) -> GalleryPage:
    """The newest of everything, for the studio's home page."""
    return gallery_page(listed_in(None, user), user)


def listed_in(board: Board | None, user: Any) -> GenerationQuerySet:
    """What the gallery, or one board, lists before its filters (annotated for `user`)."""
    pieces = Generation.objects.filter(boards=board) if board else Generation.objects.all()
    return pieces.alive().listed().for_viewer(user)


def read_filters(request: HttpRequest) -> GalleryFilters:
    people = list(get_user_model().objects.order_by("username").values_list("username", flat=True))
    return GalleryFilters(request.GET, people=people)


def walk_query(filters: GalleryFilters, board: Board | None) -> str:
    """The query string that keeps a walk: the filters as given, and the board."""
    query = {**filters.query(), **({"board": str(board.uuid)} if board else {})}
    return f"?{urlencode(query)}" if query else ""


def browse(
    request: HttpRequest,
    board: Board | None = None,
    template: str = "generations/gallery.html",
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    """A filtered, searched, infinitely scrolled page of the gallery or of `board`; htmx asks
    for the results or the next page only."""
    filters = read_filters(request)
    queryset = filters.apply(listed_in(board, request.user))
    cursor = request.GET.get("cursor", "")
    base_url = board.get_absolute_url() if board else reverse("gallery")
    walk = walk_query(filters, board)
    page = gallery_page(queryset, request.user, cursor, filters.query(), base_url, walk)
    # The rendered filter form is the same for everyone asking with the same values and people.
    filters_key = repr((sorted(filters.query().items()), filters.fields["person"].choices))
    context = {
        **(context or {}),
        "filters": filters,
        "page": page,
        "selectable": True,
        "filters_key": filters_key,
    }
    if request.htmx and not request.htmx.history_restore_request:
        partial = (
            "generations/gallery_grid.html#page" if cursor else "generations/gallery.html#results"
        )
        return render(request, partial, context)
    return render(request, template, context)


@dataclass
class Walk:
    """Where ← / → on a piece's page lead: through what the gallery or board it was opened
    from listed, by the filters and search its address carries (`?q=…&board=…`, which a
    card's link is given in the browser: gallery.js)."""

    pieces: GenerationQuerySet  # viewer-annotated
    query: str  # carried by each step, so the next piece keeps the walk
    back_url: str = ""  # the filtered page or board, when it is not the whole gallery
    back_to: str = ""  # its name, after "Back to"


def walk_from(request: HttpRequest) -> Walk:
    """The walk a piece's page was opened in; filters a hand made nonsense of are left out,
    as the gallery leaves them out."""
    if not request.GET.keys() & {*GalleryFilters.base_fields, "board"}:
        return Walk(listed_in(None, request.user), "")
    try:
        board = Board.objects.filter(uuid=UUID(request.GET.get("board", ""))).first()
    except ValueError:
        board = None
    filters = read_filters(request)
    pieces = filters.apply(listed_in(board, request.user))
    query = walk_query(filters, board)
    if not query:  # nothing that narrows it: the whole gallery, no way back to name
        return Walk(pieces, "")
    if board:
        back = board.get_absolute_url() + walk_query(filters, None)
        return Walk(pieces, query, back, f"“{board.name}”")
    return Walk(pieces, query, reverse("gallery") + query, "the results")


# --- one piece ---


def download_output(request: HttpRequest, uuid: str, index: int) -> HttpResponseBase:
    """One output's original file under a name a person can recognise (the gallery's download,
    and MCP's signed media links)."""
    output = get_object_or_404(
        Output.objects.select_related("generation"),
        generation__uuid=uuid,
        generation__deleted_at__isnull=True,
        index=index,
    )
    if output.is_archived:
        return serve(request, output.file.name, download_as=download_name(output))
    if output.url_is_fresh:
        return redirect(output.url)
    tasks.request_url_refresh(output.generation)
    response = HttpResponse(
        "This file's link is being renewed; try again in a few seconds.",
        status=503,
        content_type="text/plain",
    )
    response["Retry-After"] = "5"
    return response


def card_in_place(request: HttpRequest, generation: Generation) -> HttpResponse:
    """The card of `generation` as it is now, for htmx to swap in where its old one was (after a
    Cancel, an Undo), with the menu items of the board's page it is on, if any."""
    shown = get_object_or_404(Generation.objects.cards().for_viewer(request.user), pk=generation.pk)
    return HttpResponse(render_card(request, shown, board=page_board(request)))


def back_to(request: HttpRequest, default: str, target: str | None = None) -> str:
    """Where to go back to: `target` (by default the form's `next`) when it is a path on this
    site. A bare word is none (`redirect` would take it for a URL pattern's name)."""
    target = request.POST.get("next", "") if target is None else target
    safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    return target if safe and target.startswith("/") else default


def download_name(output: Output) -> str:
    generation = output.generation
    words = slugify(generation.prompt)[:48].strip("-") or generation.kind
    layer = f"-layer-{slugify(output.layer.get('label', ''))}" if output.layer else ""
    extension = output.file.name.rsplit(".", 1)[-1] if "." in output.file.name else "bin"
    return f"{words}-{str(generation.uuid)[:8]}{layer}.{extension}"


# --- the detail page: inputs and lineage ---


@dataclass
class InputShown:
    label: str
    generation: Generation | None = None
    upload: Input | None = None
    url: str = ""


def detail_context(generation: Generation) -> dict[str, Any]:
    """What the piece was made from, what was made from it and the other variations of its
    Generate, in at most three queries.

    The piece's own outputs (when its query did not fetch them) come in the same query as the
    first output of each related piece."""
    refs = providers.references(generation.provider, generation.request)
    chained = {ref["generation_id"] for _, ref in refs if ref.get("generation_id")}
    related_query = Q(parent=generation) | Q(upstream_id__in=chained)
    # A piece picked from the gallery that a request keeps as its output's link (Dream
    # Machine's URL fields): found by that link while it is the output's.
    if links := [ref["url"] for _, ref in refs if ref.get("url")]:
        picked = dict(Output.objects.filter(url__in=links).values_list("url", "generation_id"))
        related_query |= Q(pk__in=picked.values())
    else:
        picked = {}
    if generation.parent_id:
        related_query |= Q(pk=generation.parent_id)
    if generation.batch:  # the other variations of its Generate
        related_query |= Q(batch=generation.batch)
    related = list(Generation.objects.alive().filter(related_query).order_by("-created_at"))
    outputs = Output.objects.filter(Q(generation=generation) | Q(index=0))
    prefetch_related_objects([generation, *related], Prefetch("outputs", queryset=outputs))
    by_upstream = {g.upstream_id: g for g in related if g.upstream_id}
    by_pk = {g.pk: g for g in related}
    uploads: dict[str, Input] = {}
    file_ids = [ref["file_id"] for _, ref in refs if ref.get("file_id")]
    if file_ids:
        # A retry or remix refers to the files its original uploaded.
        for item in Input.objects.filter(Q(generation=generation) | Q(file_id__in=file_ids)):
            uploads[item.placeholder] = item
            if item.file_id:
                uploads[item.file_id] = item
    inputs = []
    for label, ref in refs:
        shown = InputShown(label)
        if ref.get("generation_id"):
            shown.generation = by_upstream.get(ref["generation_id"])
        elif ref.get("file_id"):
            shown.upload = uploads.get(ref["file_id"])
        elif ref.get("url"):
            shown.generation = by_pk.get(picked.get(ref["url"]))
            shown.url = "" if shown.generation else ref["url"]
        inputs.append(shown)
    children = [g for g in related if g.parent_id == generation.pk]
    for child in children:
        child.child_label = CHILD_LABELS.get(child.lineage, "Made from it")  # type: ignore[attr-defined]
    parent = next((g for g in related if g.pk == generation.parent_id), None)
    # An edit or a reframe is shown beside what it changed.
    source = next((shown for shown in inputs if shown.label == "Source"), None)
    compared = source if generation.kind in SIDE_BY_SIDE and source else None
    variations = [g for g in related if g.batch and g.batch == generation.batch and g != generation]
    return {
        "inputs": inputs,
        "children": children,
        "parent": parent,
        "source": compared,
        "variations": variations,
    }
