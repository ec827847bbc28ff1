"""Gallery cards rendered once per version and shared by every viewer.

A card's HTML is cached under a key made from everything it shows: what it shows of the job and
of the job's author, retry and earlier try (CARD_COLUMNS), every column of its outputs, the
words that depend on the clock ("5 min ago", an unfinished job's elapsed time, whether a link is
still fresh) and the card templates' own source. A change to a job gives its card a new key, so
a cached card is never older than its job, and a change to one job re-renders one card, not a
page. A gallery page reads those columns as values and reads whole jobs only for the cards
that changed (`page_cards`).

What differs between viewers (their star, and the delete and cancel actions only the owner or
staff get) is not in the shared HTML: the template leaves a marker there, and `render_card`
puts each viewer's bits in with plain string formatting, which costs microseconds.
"""

import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any
from urllib.parse import quote, urlsplit
from uuid import UUID

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import caches
from django.core.signals import setting_changed
from django.db.models import Model
from django.dispatch import receiver
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import get_template, render_to_string
from django.urls import Resolver404, resolve, reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from generations.models import (
    ACTIVE_STATES,
    CARD_COLUMNS,
    Board,
    Generation,
    GenerationQuerySet,
    Output,
    State,
    is_stuck,
)
from generations.trash import can_delete
from generations.wording import ago, elapsed_since

CACHE = "cards"
TEMPLATE = "generations/card.html"
# Every template whose output is part of a card: their source is part of each card's key.
TEMPLATES = (TEMPLATE, "generations/media.html", "generations/gallery_media_missing.html")
STAR = "<!--viewer:star-->"
OWNER_ACTIONS = "<!--viewer:owner-->"
BOARD_ACTIONS = "<!--viewer:board-->"
ICONS = "img/icons.svg"
# The templates' indentation between tags: a browser shows any run of it as one space, and a
# job's own text never matches (its < and > are escaped), so a card keeps one line break there.
INDENTATION = re.compile(r">\s*\n\s*<")


def render_card(
    request: HttpRequest,
    generation: "Generation | PageCard",
    *,
    refreshing: bool = False,
    oob: bool = False,
    board: Board | None = None,
    replacing: UUID | None = None,
) -> SafeString:
    """One card as this viewer sees it; `oob` marks it for an htmx out-of-band swap, in place
    of its own card or of the card of the job it `replacing`.

    `refreshing`: a renewal of its output links was started, so the card is watched until then.
    `board`: the card is shown on this board's page, whose menu items it gets.
    """
    if isinstance(generation, PageCard):
        shared = generation.shared
    else:
        shared = shared_card(generation, refreshing)
    page = viewer(request)
    star = shared.stars[bool(getattr(generation, "is_starred", False))]
    owner = shared.owner if can_delete(request.user, generation) else ""
    on_board = _board_actions(board, generation) if board else ""
    html = page.fill(
        shared.html.replace(STAR, star, 1)
        .replace(OWNER_ACTIONS, owner, 1)
        .replace(BOARD_ACTIONS, on_board, 1)
    )
    if oob:
        target = "true" if replacing is None else f"outerHTML:#card-{replacing}"
        html = html.replace("<article ", f'<article hx-swap-oob="{target}" ', 1)
    return mark_safe(html)  # noqa: S308 - rendered by the template engine, escaped there


def page_board(request: HttpRequest) -> Board | None:
    """The board whose page an htmx request comes from (its HX-Current-URL), so a card answered
    to it (an Undo, a Cancel, the poll's swap) keeps that page's menu items."""
    address = request.htmx.current_url if getattr(request, "htmx", None) else None
    if not address:
        return None
    try:
        match = resolve(urlsplit(address).path)
    except Resolver404:
        return None
    if match.url_name != "board":
        return None
    return Board.objects.filter(uuid=match.kwargs["uuid"]).first()


@dataclass(frozen=True)
class SharedCard:
    """A card as every viewer shares it: its HTML with markers where each viewer's bits go, and
    those bits ready but for the page's CSRF token and address (CSRF_MARK, NEXT_MARK)."""

    html: str
    stars: tuple[str, str]  # the star form, unstarred and starred
    owner: str  # the menu items only its owner or staff get


def shared_card(generation: Generation, refreshing: bool = False) -> SharedCard:
    """The card without anyone's star or actions, from the cache when its key is there."""
    key = card_key(generation, refreshing)
    cache = caches[CACHE]
    shared: SharedCard | None = cache.get(key)
    if shared is None:
        context = {
            "generation": generation,
            "refreshing": refreshing,
            "next_query": NEXT_QUERY_MARK,
        }
        html = render_to_string(TEMPLATE, context)
        html = INDENTATION.sub(">\n<", html).strip()  # a tenth of a gallery page's weight
        stars = (_star_form(generation, False), _star_form(generation, True))
        shared = SharedCard(html, stars, _owner_actions(generation))
        cache.set(key, shared)
    return shared


def card_key(generation: Generation, refreshing: bool = False) -> str:
    """A digest of everything the card shows (see the module's docstring)."""
    outputs = generation.shown_outputs if generation.state == State.COMPLETED else []
    times = (generation.created_at, generation.submitted_at, generation.submit_after)
    return _key(card_values(generation), outputs, _clock(generation.state, *times), refreshing)


def card_values(generation: Generation) -> tuple[Any, ...]:
    """What a card shows of its job and of the job's author, retry and earlier try
    (CARD_COLUMNS), as a page's query reads them with `values_list` (`page_cards`)."""
    return tuple(_value(generation, lookup) for lookup in CARD_COLUMNS)


def _value(row: Model | None, lookup: str) -> Any:
    *through, name = lookup.split("__")
    for relation in through:
        row = getattr(row, relation)
    return None if row is None else getattr(row, row._meta.get_field(name).attname)


def _clock(
    state: str, created_at: datetime, submitted_at: datetime | None, submit_after: datetime | None
) -> tuple[Any, ...]:
    """The words on a card that move with the clock: its age and, for an unfinished job, the
    time it has been going and whether it is stuck."""
    if state not in ACTIVE_STATES:
        return ago(created_at), "", False
    going = elapsed_since(created_at, submitted_at)
    return ago(created_at), going, is_stuck(state, created_at, submit_after)


def _key(
    values: tuple[Any, ...], outputs: list[Output], clock: tuple[Any, ...], refreshing: bool
) -> str:
    parts = (
        unchanging(*TEMPLATES),
        values,
        _shown_outputs(outputs),
        clock,
        refreshing,
        settings.LUMAWEB_AUTO_RETRY_MAX,
    )
    return digest_key("card", parts)


def _shown_outputs(outputs: Iterable[Output]) -> list[tuple[Any, ...]]:
    """What a page shows of outputs: all their columns, and whether each link is still fresh."""
    return [(*_columns(output), output.url_is_fresh) for output in outputs]


def digest_key(kind: str, parts: tuple[Any, ...]) -> str:
    """A cache key for shared HTML of `kind`, from everything it shows (`parts`)."""
    return f"{kind}:" + hashlib.blake2b(repr(parts).encode(), digest_size=20).hexdigest()


def _columns(row: Model, unshown: frozenset[str] = frozenset()) -> tuple[Any, ...]:
    """All of a row's columns but those `unshown`."""
    loaded = row.__dict__
    fields = row._meta.concrete_fields
    return tuple(loaded.get(f.attname) for f in fields if f.attname not in unshown)


# --- the detail page's shared parts ---

DETAIL_TEMPLATES = (
    "generations/detail.html",
    "generations/media.html",
    "generations/_lineage.html",
    "generations/gallery_media_missing.html",
)
# The worker's bookkeeping, which no page shows: a poll writes it every few seconds.
UNSHOWN = frozenset(
    ("poll_count", "last_polled_at", "next_poll_at", "last_request_id", "url_refresh_claimed_at")
)


def detail_key(generation: Generation, lineage: dict[str, Any], refreshing: bool) -> str:
    """A digest of everything the detail page's shared parts show (`{% cache %}` in
    generations/detail.html: the media, the facts, the prompt, the request, how it was made).

    Every column of the piece and of the relatives shown with it (but the worker's bookkeeping),
    its author's name, their outputs and whether each link is still fresh, the uploads it was
    made from and the words that move with the clock: a change to any of them makes a new key,
    so those parts are never older than the piece. What differs between viewers (the star, the
    owner's actions), the boards and the neighbours are outside them."""
    relatives = [
        lineage["parent"],
        *lineage["children"],
        *lineage["variations"],
        *(shown.generation for shown in lineage["inputs"]),
    ]
    pieces = [generation, *(piece for piece in relatives if piece is not None)]
    times = (generation.created_at, generation.submitted_at, generation.submit_after)
    parts = (
        unchanging(*DETAIL_TEMPLATES),
        generation.created_by.get_username(),
        [(_columns(piece, UNSHOWN), _shown_outputs(piece.outputs.all())) for piece in pieces],
        [_columns(shown.upload) for shown in lineage["inputs"] if shown.upload],
        _clock(generation.state, *times),
        refreshing,
    )
    return digest_key("detail", parts)


# --- a page of cards ---


@dataclass(frozen=True)
class PageCard:
    """A card of a gallery page, as the page's query read it: what each viewer's bits need
    (`render_card` takes it as it takes a job) and the shared card itself."""

    pk: int
    uuid: UUID
    state: str
    created_at: datetime
    created_by_id: int
    is_starred: bool
    shared: SharedCard


def page_cards(rows: GenerationQuerySet, user: Any, size: int) -> tuple[list[PageCard], bool]:
    """The first `size` cards of `rows` (ordered, viewer-annotated jobs) and whether more
    follow, reading whole jobs only for the cards the cache does not hold.

    The page's query reads what the cards show as values (CARD_COLUMNS), and one more query
    reads the finished ones' outputs: from those each card's key, and the shared cards in one
    `get_many`. Only the jobs whose card is missing (after a change) are then read, in one more
    query, and rendered with the outputs already read."""
    found = list(rows.values_list("pk", *CARD_COLUMNS, "is_starred")[: size + 1])
    more, found = len(found) > size, found[:size]
    completed = {row[0] for row in found if row[STATE] == State.COMPLETED}
    outputs: dict[int, list[Output]] = {}
    for output in Output.objects.filter(generation_id__in=completed) if completed else ():
        outputs.setdefault(output.generation_id, []).append(output)
    keys = {
        row[0]: _key(row[1:-1], outputs.get(row[0], []), _clock(*itemgetter(*TIMES)(row)), False)
        for row in found
    }
    cached: dict[str, SharedCard] = caches[CACHE].get_many(keys.values())
    shared = {pk: cached[key] for pk, key in keys.items() if key in cached}
    if missing := [row[0] for row in found if row[0] not in shared]:
        jobs = Generation.objects.cards().prefetch_related(None).for_viewer(user)
        for job in jobs.filter(pk__in=missing):
            if job.pk in completed:  # else it finished since: its outputs are read now
                job.shown_outputs = outputs.get(job.pk, [])
            shared[job.pk] = shared_card(job)
    cards = [
        PageCard(
            row[0], row[UUID_], row[STATE], row[CREATED_AT], row[AUTHOR], row[-1], shared[row[0]]
        )
        for row in found
        if row[0] in shared  # not deleted meanwhile
    ]
    return cards, more


def _at(column: str) -> int:
    """Where a page query's row (`page_cards`) holds a column: after the job's id."""
    return 1 + CARD_COLUMNS.index(column)


UUID_, STATE, CREATED_AT, AUTHOR = (_at(c) for c in ("uuid", "state", "created_at", "created_by"))
TIMES = tuple(_at(c) for c in ("state", "created_at", "submitted_at", "submit_after"))  # _clock's


@functools.cache
def unchanging(*templates: str) -> str:
    """A digest of what shared HTML depends on and a process never sees change: these
    templates' source and the icons' hashed URL (worked out once, not once per card: a manifest
    lookup each)."""
    digest = hashlib.blake2b(staticfiles_storage.url(ICONS).encode(), digest_size=12)
    for name in templates:
        digest.update(get_template(name).template.source.encode())  # type: ignore[attr-defined]
    return digest.hexdigest()


@receiver(setting_changed)
def _forget(**kwargs: Any) -> None:
    """Settings (tests, mostly) can change what a card or a form says: start again."""
    unchanging.cache_clear()
    caches[CACHE].clear()


# --- each viewer's bits ---

# Where the page's CSRF token and address go in a shared card's forms: comments, which no text
# of a job's can become once escaped.
CSRF_MARK = SafeString("<!--viewer:csrf-->")
NEXT_MARK = SafeString("<!--viewer:next-->")
RESULTS = "gallery-results"  # the element the gallery's filters swap (gallery.html)
NEXT_QUERY_MARK = SafeString("<!--viewer:next-query-->")  # the address as a query's value


@dataclass(frozen=True)
class Viewer:
    """What a page's cards need from the request, worked out once per page."""

    token: str  # one masked CSRF token for every form on the page
    path: str  # the page's address, escaped for an attribute
    query: str  # the same, quoted for a query string's value

    def fill(self, bits: str) -> str:
        return (
            bits.replace(CSRF_MARK, self.token)
            .replace(NEXT_MARK, self.path)
            .replace(NEXT_QUERY_MARK, self.query)
        )


def viewer(request: HttpRequest) -> Viewer:
    found: Viewer | None = getattr(request, "_card_viewer", None)
    if found is None:
        address = page_address(request)
        found = Viewer(get_token(request), escape(address), escape(quote(address, safe="/")))
        request._card_viewer = found  # type: ignore[attr-defined]
    return found


def page_address(request: HttpRequest) -> str:
    """The address of the page a card is shown on: for htmx's requests (a poll, a star, the
    next page), the page that asked (on this site only), not the request's own; but the
    filters' swap of the results moves the page to its own address (they push it)."""
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == RESULTS:
        return request.get_full_path()
    return (htmx and htmx.current_url_abs_path) or request.get_full_path()


def star_form(request: HttpRequest, generation: Generation) -> SafeString:
    """The star button as this viewer sees it; it works without JavaScript too."""
    starred = bool(getattr(generation, "is_starred", False))
    return mark_safe(viewer(request).fill(_star_form(generation, starred)))  # noqa: S308 - format_html


def _star_form(generation: Generation, starred: bool) -> str:
    url = reverse("generation-star", args=[generation.uuid])
    return format_html(
        '<form class="star-form" method="post" action="{url}" hx-post="{url}" hx-swap="outerHTML">'
        '<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
        '<input type="hidden" name="next" value="{next}">'
        '<input type="hidden" name="starred" value="{value}">'
        '<button class="icon-button star{on}" type="submit" data-star aria-pressed="{pressed}"'
        ' title="{verb} (s)"><svg aria-hidden="true">'
        '<use href="{icons}#star"/></svg><span class="visually-hidden">{said}</span></button>'
        "</form>",
        url=url,
        token=CSRF_MARK,
        next=NEXT_MARK,
        value="0" if starred else "1",
        on=" star--on" if starred else "",
        pressed="true" if starred else "false",
        verb="Unstar" if starred else "Star",
        icons=staticfiles_storage.url(ICONS),
        said="Starred" if starred else "Star",
    )


def _owner_actions(generation: Generation) -> str:
    """The card menu's items only the owner or staff get: cancel (a running job), delete."""
    cancel = SafeString("")
    if generation.is_active:
        url = reverse("generation-cancel", args=[generation.uuid])
        cancel = format_html(
            '<form method="post" action="{url}" hx-post="{url}" hx-target="#card-{uuid}"'
            ' hx-swap="outerHTML"><input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
            '<input type="hidden" name="next" value="{next}">'
            '<button class="menu__item" type="submit">Cancel (stop waiting)</button></form>',
            url=url,
            uuid=generation.uuid,
            token=CSRF_MARK,
            next=NEXT_MARK,
        )
    # Nothing asked first: it only goes to the Trash, and the note in its place has an Undo
    # (trash_views.delete). Without htmx the link opens the confirmation page.
    url = reverse("generation-delete", args=[generation.uuid])
    delete = format_html(
        '<a class="menu__item menu__item--danger" href="{url}" hx-post="{url}"'
        ' hx-target="#card-{uuid}" hx-swap="outerHTML">Move to Trash</a>',
        url=url,
        uuid=generation.uuid,
    )
    return format_html("{}{}", cancel, delete)


def _board_actions(board: Board, generation: Generation) -> str:
    """A board page's items in its cards' menus: take the piece off, make it the cover."""
    url = reverse("board-edit", args=[board.uuid])
    actions = [("remove", "Remove from this board")]
    if generation.state == State.COMPLETED:
        actions.append(("cover", "Make it the cover"))
    return format_html_join(
        "",
        '<form method="post" action="{}"><input type="hidden" name="csrfmiddlewaretoken"'
        ' value="{}"><input type="hidden" name="piece" value="{}"><button class="menu__item"'
        ' type="submit" name="action" value="{}">{}</button></form>',
        ((url, CSRF_MARK, generation.uuid, action, label) for action, label in actions),
    )
