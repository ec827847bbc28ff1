"""Acting on many pieces at once: put them on a board, star, download or delete them.

The gallery's (or a board's) selection form posts the chosen pieces and an action here; the
answer is one confirmation (a page, or a dialog over the gallery with JavaScript) that posts
them back with `confirmed`, and then the action runs on all of them.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_POST

from generations.boards import BoardChoiceForm
from generations.bundle import downloadable, zip_response
from generations.gallery import back_to
from generations.models import Generation, Star
from generations.trash import can_delete, move_to_trash

# The most pieces one selection acts on (a request this long is still small); past it the
# person is told which part was taken (`_cut`).
MAX_SELECTED = 2000
ACTIONS = {
    "board": "Add to board",
    "star": "Star",
    "download": "Download",
    "delete": "Delete",
}


def _selected(request: HttpRequest) -> list[Generation]:
    named = Generation.objects.alive().named(request.POST.getlist("pieces")[:MAX_SELECTED])
    return list(named.select_related("created_by"))


def _cut(request: HttpRequest) -> str:
    """What the person is told when their selection was longer than one action takes."""
    chosen = len(request.POST.getlist("pieces"))
    if chosen <= MAX_SELECTED:
        return ""
    return (
        f"Only the first {MAX_SELECTED:,} of the {chosen:,} selected pieces are included: one "
        f"action takes at most {MAX_SELECTED:,}. Select the rest again afterwards."
    )


@require_POST
def selection(request: HttpRequest) -> HttpResponseBase:
    """Confirm, then act on the selected pieces; then back to the page they were selected on
    (for htmx, the page as it is now: its filters may have moved it since it was loaded)."""
    page = request.htmx.current_url_abs_path if request.htmx else None
    back = back_to(request, reverse("gallery"), page)
    action = request.POST.get("action", "")
    pieces = _selected(request)
    if action not in ACTIONS or not pieces:
        if request.htmx:
            return render(request, "generations/selection_confirm.html#confirm", {"next": back})
        messages.error(request, "Nothing was done: select some pieces, then an action.")
        return redirect(back)
    form = BoardChoiceForm(request.POST if request.POST.get("confirmed") else None)
    confirmed = request.POST.get("confirmed") == "1" and (action != "board" or form.is_valid())
    if not confirmed:
        return _confirm(request, action, pieces, form, back)
    if cut := _cut(request):
        messages.warning(request, cut)
    if action == "download":
        chosen = Generation.objects.filter(pk__in=[piece.pk for piece in pieces])
        return zip_response(downloadable(chosen), "selection")
    if action == "board":
        try:
            board = form.board_for(request.user)
        except ValidationError as refusal:  # a teammate made it meanwhile
            form.add_error("new_board", refusal)
            return _confirm(request, action, pieces, form, back)
        added = board.add(pieces, request.user)
        messages.success(request, _added(added, len(pieces) - added, board.name))
    elif action == "star":
        Star.objects.bulk_create(
            [Star(user=request.user, generation=piece) for piece in pieces], ignore_conflicts=True
        )
        messages.success(request, f"Starred {len(pieces)} piece{pluralize(len(pieces))}.")
    else:
        mine = [piece for piece in pieces if can_delete(request.user, piece)]
        moved = move_to_trash(request.user, mine)
        messages.success(request, f"Moved {moved} piece{pluralize(moved)} to the trash.")
    return redirect(back)


def _added(added: int, already: int, board: str) -> str:
    """What adding to a board did, the pieces that were on it already told apart."""
    if not added:
        if already == 1:
            return f"That piece was already on “{board}”."
        return f"Those {already} pieces were already on “{board}”."
    said = f"Added {added} piece{pluralize(added)} to “{board}”"
    if already:
        said += f"; {already} {pluralize(already, 'was,were')} already on it"
    return said + "."


def _confirm(
    request: HttpRequest, action: str, pieces: list[Generation], form: Any, back: str
) -> HttpResponse:
    deletable = [piece for piece in pieces if can_delete(request.user, piece)]
    context = {
        "action": action,
        "label": ACTIONS[action],
        "pieces": pieces,
        "deletable": deletable,
        "kept": len(pieces) - len(deletable),
        "cut": _cut(request),
        "form": form,
        "next": back,
    }
    template = "generations/selection_confirm.html"
    if request.htmx:
        template += "#confirm"
    return render(request, template, context)
