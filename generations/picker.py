"""The studio's gallery picker: a slot's pickable pieces as thumbnails, searched across the whole
gallery (search.matching) a page at a time, for the dialog create.js opens from each slot.

What a slot may pick is what its form accepts (forms.base.pickable): the same media kind, and
only the upstream whose ids its requests carry.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from generations import providers
from generations.forms import MODE_FORMS, Slot
from generations.forms.base import pick_label, pickable
from generations.modes import available_modes
from generations.search import matching

PAGE_SIZE = 24
# Past any team's gallery, and an offset every database takes (a bigger one was a 500).
LAST_PAGE = 1_000_000


def _slot(mode: str, name: str) -> tuple[Slot, tuple[str, ...] | None]:
    """The slot `name` of the form of `mode` (a keyframe row's is `keyframes`), and whose pieces
    it takes; 404 for anything else."""
    form_class = MODE_FORMS.get(mode) if mode in available_modes() else None
    slots = {slot.name: slot for slot in getattr(form_class, "SLOTS", ())}
    keyframes = getattr(form_class, "KEYFRAMES", None)
    if isinstance(keyframes, Slot):
        slots[keyframes.name] = keyframes
    if form_class is None or name not in slots:
        raise Http404("No such slot.")
    return slots[name], form_class.PICKS_FROM


@require_GET
def picker(request: HttpRequest) -> HttpResponse:
    """One page of the pieces a slot may pick, newest first, matching `q` when given."""
    mode, name = request.GET.get("mode", ""), request.GET.get("slot", "")
    text = request.GET.get("q", "")
    slot, makers = _slot(mode, name)
    try:
        page = min(max(1, int(request.GET.get("page", "1"))), LAST_PAGE)
    except ValueError:
        page = 1
    found = matching(pickable(slot.media, makers), text).prefetch_related("outputs")
    if only := request.GET.getlist("only"):  # the pieces a slot already holds, for its preview
        found = found.named(only)
    start = (page - 1) * PAGE_SIZE
    pieces = list(found[start : start + PAGE_SIZE + 1])
    more = ""
    if len(pieces) > PAGE_SIZE:
        query = urlencode({"mode": mode, "slot": name, "q": text, "page": page + 1})
        more = f"{reverse('create-picker')}?{query}"
    context = {
        "pieces": [
            (piece, pick_label(piece.prompt, piece.kind, piece.model))
            for piece in pieces[:PAGE_SIZE]
        ],
        "more": more,
        "first": page == 1,
        "text": text,
        # A slot of one upstream's form takes that upstream's pieces only: the page says so.
        "only_from": providers.labels(makers or ()),
    }
    return render(request, "generations/picker.html", context)
