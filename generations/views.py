"""The studio's pages: create, watch, browse."""

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.cache import caches
from django.db.models import OuterRef, Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh, reswap, retarget

from generations import rules, spend, trash
from generations.boards import boards_of
from generations.cards import CACHE as CARDS_CACHE
from generations.cards import (
    CSRF_MARK,
    detail_key,
    digest_key,
    page_board,
    render_card,
    unchanging,
    viewer,
)
from generations.chaining import chain_actions, inherited
from generations.forms import MODE_FORMS, CreateForm, option_rows
from generations.gallery import detail_context, first_page, walk_from
from generations.models import Generation, GenerationQuerySet
from generations.modes import available_modes, mode_groups
from generations.submission import SubmissionRefused
from generations.tasks import refresh_if_stale
from generations.uploads import upload_refusals

# The mode a person's studio opens at (the session's): the one they last opened.
LAST_MODE = "studio-mode"


def home(request: HttpRequest) -> HttpResponse:
    """The creation form (one mode at a time: the one asked for, or the last one this session
    opened) and, below it, the team's gallery."""
    modes = available_modes()
    first = next(iter(modes), "image")
    last = request.session.get(LAST_MODE)
    opens = last if last in modes else first  # what the Studio link opens
    default = opens if request.method == "GET" else first  # a script's POST means the first
    mode = request.POST.get("mode") or request.GET.get("mode") or _remix_mode(request) or default
    form_class = MODE_FORMS.get(mode) if mode in modes else None
    if form_class is None:
        raise Http404("No such mode.")
    if mode != opens:  # it opens this one next time
        request.session[LAST_MODE] = mode
    if request.method == "POST":
        form = form_class(
            request.POST, request.FILES, refused=upload_refusals(request), user=request.user
        )
        if form.is_valid():
            try:
                generation, _ = form.save(request.user)
            except SubmissionRefused as exc:
                form.add_error(None, str(exc))  # a rate or budget limit: nothing went upstream
            else:
                # The form keeps what was sent, under a new key: ready to Generate again.
                again = form.again(generation)
                if request.htmx:
                    context = {
                        **_create_context(
                            form_class(initial=again, user=request.user), mode, request.user
                        ),
                        "made": form.made,  # empty when a double submit found its first job
                        "sent": True,
                    }
                    return render(request, "generations/create_panel.html#created", context)
                request.session[AGAIN] = {"mode": mode, "initial": again}
                messages.success(request, _sent_words(len(form.made)))
                return redirect(f"{reverse('home')}?mode={mode}")
        form.keep_uploads()  # refused: its uploads come back attached
        if request.htmx:
            context = _create_context(form, mode, request.user)
            response = render(request, "generations/create_panel.html#create-form", context)
            return reswap(retarget(response, "#create-form"), "outerHTML")
    else:
        initial = _initial(request, form_class)
        form = form_class(initial=initial, user=request.user)
        if not initial:  # a new, empty form: the same for everyone (see _empty_panel)
            panel = _empty_panel(request, form, mode)
            return render(request, "generations/home.html", {"panel": panel, **_home(request)})
    context = {**_create_context(form, mode, request.user), **_home(request)}
    status = 400 if form.errors else 200
    return render(request, "generations/home.html", context, status=status)


def _sent_words(jobs: int) -> str:
    """What the studio says after Generate without htmx: how many jobs went, and where they show."""
    if jobs > 1:
        return f"Sent {jobs} jobs: they appear in the gallery when they are ready."
    return "Sent. It will appear in the gallery when it is ready."


def _home(request: HttpRequest) -> dict[str, Any]:
    """What the studio's page shows below its form."""
    return {"page": first_page(request.user)}


# Every template whose output is part of the creation panel.
PANEL_TEMPLATES = tuple(
    f"generations/{name}.html"
    for name in ("create_panel", "_slot", "_kept", "_timeline", "_reframe", "_concepts")
)
# Where a shared panel's form key goes: letters only, so the widget leaves it as it is.
FORM_KEY_MARK = "viewerFormKeyMark"


def _empty_panel(request: HttpRequest, form: CreateForm, mode: str) -> SafeString:
    """The creation panel with a new, empty form of `mode`, rendered once and shared.

    Such a form is the same for everyone but for its CSRF token and its key (one per form, for
    a double submit to find its first job), which are put in per page; what else it shows is in
    the cache key: the modes on here, this person's budget warnings. The gallery's pick lists,
    which change whenever a piece finishes, are put in per page too."""
    warnings = [budget.text for budget in spend.budgets(request.user) if budget.warn]
    modes = available_modes()
    key = digest_key("panel", (unchanging(*PANEL_TEMPLATES), mode, modes, warnings))
    cache = caches[CARDS_CACHE]
    html: str | None = cache.get(key)
    if html is None:  # the options and their rules are worked out only here
        marked = type(form)(
            initial={"idempotency_key": FORM_KEY_MARK}, user=request.user, pick_marks=True
        )
        context = {**_create_context(marked, mode, request.user), "csrf_token": CSRF_MARK}
        html = render_to_string(PANEL_TEMPLATES[0], context)
        cache.set(key, html)
    form_key = form.initial["idempotency_key"]
    filled = (
        viewer(request).fill(html).replace(f'value="{FORM_KEY_MARK}"', f'value="{form_key}"', 1)
    )
    # Last: a prompt in a pick list is never taken for a mark.
    return mark_safe(form.fill_pick_lists(filled))  # noqa: S308 - rendered by the template engine, escaped there


def remix_mode(generation: Generation) -> str:
    """The creation mode that made this job: the form that makes jobs like it."""
    return next((mode for mode, form in MODE_FORMS.items() if form.made(generation)), "image")


def _remix_mode(request: HttpRequest) -> str:
    """An "Edit and resubmit" link names only the job: its own mode."""
    remix = _linked(request.GET.get("remix")) if request.method == "GET" else None
    return remix_mode(remix) if remix else ""


# The session key of what a plain (non-htmx) Generate just sent, for the page it redirects to.
AGAIN = "lumaweb.create.again"


def _initial(request: HttpRequest, form_class: type[CreateForm]) -> dict[str, Any]:
    """Prefill from a chain link (`from`, `as`, `lineage`), a Remix (`remix`), or what was just
    sent from this mode (a plain Generate's redirect)."""
    again = request.session.pop(AGAIN, None) if hasattr(request, "session") else None
    if "remix" in request.GET:
        remix = _linked(request.GET.get("remix"))
        return form_class.initial_from(remix, request.user) if remix else _gone(request)
    role = request.GET.get("as")
    slots = {slot.name for slot in form_class.SLOTS}
    if "from" in request.GET and role in slots:
        parent = _linked(request.GET.get("from"))
        if parent is None:
            return _gone(request)
        initial: dict[str, Any] = {f"{role}_pick": str(parent.uuid)}
        if lineage := request.GET.get("lineage"):  # a reference is used, not descended from
            # A chain link starts from its source's prompt and aspect ratio.
            initial |= inherited(parent, form_class.base_fields, form_class.INHERITS)
            initial |= {"parent": parent.uuid, "lineage": lineage}
        return initial
    if again and again.get("mode") == form_class.MODE:
        return dict(again["initial"])
    return {}


def _create_context(form: CreateForm, mode: str, user: Any = None) -> dict[str, Any]:
    disabled = form.disabled_options() if form.PROBED else {}
    modes = available_modes()
    return {
        "form": form,
        "mode": mode,
        "modes": modes,
        "mode_groups": mode_groups(modes),
        "options": option_rows(form, disabled),
        # Past 80 % of a monthly budget the form says so (spend.py).
        "budgets": spend.budgets(user) if user is not None else [],
    }


@require_POST
def create_options(request: HttpRequest) -> HttpResponse:
    """The options of the form as it stands, with what its combination rules out greyed."""
    mode = request.POST.get("mode", "")
    form_class = MODE_FORMS.get(mode) if mode in available_modes() else None
    if form_class is None:
        raise Http404("No such mode.")
    form = form_class(request.POST)
    context = _create_context(form, mode)
    context["notices"] = rules.notices(form, context["options"])
    return render(request, "generations/create_panel.html#options", context)


def _linked(value: str | None) -> Generation | None:
    """The piece a link names (its `remix`, `from`), if it is in the gallery; a malformed id is
    as missing as an unknown one."""
    try:
        wanted = UUID(value or "")
    except ValueError:
        return None
    return Generation.objects.gallery().filter(uuid=wanted).first()


def _gone(request: HttpRequest) -> dict[str, Any]:
    """A link from a piece no longer in the gallery (a bookmark, a reload after its Trash): the
    studio opens empty, and says why."""
    messages.warning(
        request, "The piece this link starts from is in the Trash or gone: the form starts empty."
    )
    return {}


@require_GET
def card(request: HttpRequest, uuid: UUID) -> HttpResponse:
    """One gallery card, fetched when a card whose output link died scrolls into view: it starts
    the link's renewal, and the page's poll (`poll`) watches the card until it is done."""
    pieces = Generation.objects.alive().cards().for_viewer(request.user)
    generation = get_object_or_404(pieces, uuid=uuid)
    refreshing = refresh_if_stale(generation)
    return HttpResponse(render_card(request, generation, refreshing=refreshing))


# A page watches at most this many cards in one poll (a gallery page shows 24).
POLL_MAX = 200
REFRESH = "refresh"  # what a card watched until its output links are renewed says it shows


@login_not_required  # signed-in sessions only, checked below: the person is read when needed
@require_GET
def poll(request: HttpRequest) -> HttpResponse:
    """One request per interval for everything a page watches, whatever their number.

    `seen` lists the page's watched cards as `uuid:state` (the state each one shows, or
    `refresh`); `page` names the job a detail page shows, the same way. The answer is 204 when
    nothing changed, the changed cards as out-of-band swaps, or a reload of the detail page
    when its job changed.

    Nothing changed costs the session and one indexed read: a signed-in session is told only
    that the states it names are still those states, and the person behind it (a query of its
    own) is looked up, as on every page, before anything else is shown.
    """
    seen = _watched(request.GET.get("seen", ""))
    page = _watched(request.GET.get("page", ""))
    watched = {**seen, **page}
    states = dict(
        Generation.objects.alive().filter(uuid__in=watched).values_list("uuid", "state").order_by()
    )
    moved = {u for u, shown in watched.items() if shown == REFRESH or states.get(u) != shown}
    if not moved and SESSION_KEY in request.session:
        return HttpResponse(status=204)
    if not request.user.is_authenticated:  # signed out, or no longer allowed in
        return redirect_to_login(request.get_full_path())
    cards = Generation.objects.alive().cards().for_viewer(request.user)
    found = list(cards.filter(uuid__in=moved))
    board = page_board(request) if not page else None  # a detail page reloads instead
    retries = _automatic_retries(cards, found) if board is None else {}
    swaps = []
    for generation in found:
        refreshing = refresh_if_stale(generation)
        if refreshing and watched[generation.uuid] == REFRESH:
            continue  # its links are still being renewed: nothing new to show yet
        if generation.uuid in page:
            return HttpResponseClientRefresh()
        if retry := retries.get(generation.pk):
            # The gallery stacks a job under its automatic retry: its card becomes the retry's,
            # which is watched in turn (a board holds the job, not its retry).
            swaps.append(render_card(request, retry, oob=True, replacing=generation.uuid))
            continue
        swaps.append(render_card(request, generation, refreshing=refreshing, oob=True, board=board))
    # A card whose job was deleted meanwhile leaves the page.
    swaps += [
        format_html('<article id="card-{}" hx-swap-oob="delete"></article>', uuid)
        for uuid in seen.keys() - states.keys()
    ]
    if not swaps:
        return HttpResponse(status=204)
    return HttpResponse("".join(swaps))


def _automatic_retries(cards: GenerationQuerySet, found: list[Generation]) -> dict[int, Generation]:
    """The automatic retries that replaced jobs among `found`, by the replaced job's id, read in
    one query (none when no job was replaced)."""
    replaced = {g.retried_as_id: g.pk for g in found if g.retried_as_id and g.retried_as.auto_retry}
    if not replaced:
        return {}
    return {replaced[retry.pk]: retry for retry in cards.filter(pk__in=replaced)}


def _watched(value: str) -> dict[UUID, str]:
    """`uuid:state,uuid:state` as a mapping; malformed entries are left out."""
    watched = {}
    for entry in value.split(",")[:POLL_MAX]:
        uuid, _, shown = entry.partition(":")
        try:
            watched[UUID(uuid)] = shown
        except ValueError:
            continue
    return watched


@require_GET
@cache_control(no_store=True)  # Back after its delete asks again, not the browser's old copy
def detail(request: HttpRequest, uuid: str) -> HttpResponse:
    """Everything about one piece: the media, the prompt, how it was made."""
    # Its outputs come with its relatives' (detail_context), not in a query of their own, and
    # its parent among them: the page shows no retry and reads its author only.
    pieces = Generation.objects.alive().select_related("created_by").for_viewer(request.user)
    walk = walk_from(request)
    generation = _with_neighbours(pieces, walk.pieces).filter(uuid=uuid).first()
    if generation is None:
        return _not_here(request, uuid)
    lineage = detail_context(generation)
    refreshing = refresh_if_stale(generation)
    context = {
        "generation": generation,
        "actions": chain_actions(generation, remix_mode(generation)),
        "refreshing": refreshing,
        "boards": boards_of(generation),
        "walk": walk,
        # The page's parts every viewer shares are cached under it (generations/cards.py).
        "shared_key": detail_key(generation, lineage, refreshing),
        **lineage,
    }
    return render(request, "generations/detail.html", context)


def _not_here(request: HttpRequest, uuid: str) -> HttpResponse:
    """A piece that is not in the gallery: the site's 404, saying it is in the Trash to whoever
    may restore it from there."""
    trashed = trash.in_trash(request.user).filter(uuid=uuid).first()
    if trashed is None:
        raise Http404("No such piece.")
    context = {"trashed": trashed, "purge_after": trash.purge_after(trashed)}
    return render(request, "404.html", context, status=404)


def _with_neighbours(
    queryset: GenerationQuerySet, through: GenerationQuerySet
) -> GenerationQuerySet:
    """Each piece knows the next newer and older one of `through` (`newer`, `older`: their
    uuids), for ← / → on its page, in the same query: the gallery's order, an index range each."""
    made, pk = OuterRef("created_at"), OuterRef("pk")
    newer = (
        through.filter(created_at__gte=made)
        .filter(Q(created_at__gt=made) | Q(id__gt=pk))
        .order_by("created_at", "id")
        .values("uuid")[:1]
    )
    older = (
        through.filter(created_at__lte=made)
        .filter(Q(created_at__lt=made) | Q(id__lt=pk))
        .order_by("-created_at", "-id")
        .values("uuid")[:1]
    )
    return queryset.annotate(newer=Subquery(newer), older=Subquery(older))
