"""The studio's pages: create, watch, browse."""

from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling, reswap, retarget

from generations.archive import refresh_if_stale
from generations.chaining import chain_actions
from generations.forms import MODE_FORMS, MODES, CreateForm, option_rows
from generations.gallery import detail_context, first_page
from generations.models import ACTIVE_STATES, Generation, State
from generations.submission import SubmissionRefused


def home(request: HttpRequest) -> HttpResponse:
    """The creation form (one mode at a time) and, below it, the team's gallery."""
    mode = request.POST.get("mode") or request.GET.get("mode") or "image"
    form_class = MODE_FORMS.get(mode)
    if form_class is None or form_class.PROVIDER not in settings.LUMA_PROVIDERS:
        raise Http404("No such mode.")
    if request.method == "POST":
        form = form_class(request.POST, request.FILES)
        if form.is_valid():
            try:
                generation, created = form.save(request.user)
            except SubmissionRefused as exc:
                form.add_error(None, str(exc))  # a rate or budget limit: nothing went upstream
            else:
                if request.htmx:
                    context = {
                        **_create_context(form_class(), mode),
                        "generation": generation,
                        "created": created,
                    }
                    return render(request, "generations/create_panel.html#created", context)
                messages.success(request, "Sent. It will appear in the gallery when it is ready.")
                return redirect(f"{reverse('home')}?mode={mode}")
        if request.htmx:
            response = render(
                request, "generations/create_panel.html#create-form", _create_context(form, mode)
            )
            return reswap(retarget(response, "#create-form"), "outerHTML")
    else:
        form = form_class(initial=_initial(request, form_class))
    context = {**_create_context(form, mode), "page": first_page(request.user)}
    status = 400 if form.errors else 200
    return render(request, "generations/home.html", context, status=status)


def _initial(request: HttpRequest, form_class: type[CreateForm]) -> dict[str, Any]:
    """Prefill from a chain link (`from`, `as`, `lineage`) or a Remix (`remix`)."""
    if remix := request.GET.get("remix"):
        return form_class.initial_from(_get_generation(remix))
    source = request.GET.get("from")
    role = request.GET.get("as")
    slots = {slot.name for slot in form_class.SLOTS}
    if source and role in slots:
        parent = _get_generation(source)
        return {f"{role}_pick": str(parent.uuid), "parent": parent.uuid,
                "lineage": request.GET.get("lineage", "")}  # fmt: skip
    return {}


def _create_context(form: CreateForm, mode: str) -> dict[str, Any]:
    disabled = form.disabled_options() if form.PROBED else {}
    on = settings.LUMA_PROVIDERS
    return {
        "form": form,
        "mode": mode,
        "modes": {key: label for key, label in MODES.items() if MODE_FORMS[key].PROVIDER in on},
        "options": option_rows(form, disabled),
    }


@require_POST
def create_options(request: HttpRequest) -> HttpResponse:
    """The options of the form as it stands, with what its combination rules out greyed."""
    form_class = MODE_FORMS.get(request.POST.get("mode", ""))
    if form_class is None:
        raise Http404("No such mode.")
    form = form_class(request.POST)
    context = _create_context(form, request.POST["mode"])
    return render(request, "generations/create_panel.html#options", context)


def _get_generation(uuid: str) -> Generation:
    return get_object_or_404(Generation.objects.gallery(), uuid=uuid)


@require_GET
def card(request: HttpRequest, uuid: UUID) -> HttpResponse:
    """One gallery card, polled by the page while its job runs; reads our database only.

    A running card polls with the state it shows (`?seen=`). While the job is still in that
    state the answer is 204, which htmx leaves alone: one indexed read, no render. The elapsed
    time on the card is ticked by the browser (static/js/app.js), not by these answers.
    """
    seen = request.GET.get("seen")
    if seen in ACTIVE_STATES and _state_of(uuid) == seen:
        return HttpResponse(status=204)
    # Outputs are loaded only once the job completed: a poll of a running job is one query.
    generation = get_object_or_404(
        Generation.objects.select_related("created_by").for_viewer(request.user), uuid=uuid
    )
    if generation.state == State.COMPLETED:
        prefetch_related_objects([generation], "outputs")
    # An output whose link is about to die is refreshed first; the card polls until then.
    refreshing = refresh_if_stale(generation)
    context = {"generation": generation, "refreshing": refreshing}
    response = render(request, "generations/card.html", context)
    if generation.is_terminal and not refreshing and request.htmx:
        return HttpResponseStopPolling(response.content)
    return response


def _state_of(uuid: UUID) -> str | None:
    """A job's state by its public id, in one indexed read."""
    return Generation.objects.filter(uuid=uuid).values_list("state", flat=True).first()


@require_GET
def detail(request: HttpRequest, uuid: str) -> HttpResponse:
    """Everything about one piece: the media, the prompt, how it was made."""
    generation = get_object_or_404(Generation.objects.gallery().for_viewer(request.user), uuid=uuid)
    context = {
        "generation": generation,
        "actions": chain_actions(generation),
        "refreshing": refresh_if_stale(generation),
        **detail_context(generation),
    }
    return render(request, "generations/detail.html", context)
