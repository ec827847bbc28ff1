"""Deleting a piece (into the trash), the Trash page, restoring from it, and deleting from it
for good."""

from datetime import UTC, datetime

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from generations import providers, trash
from generations.gallery import back_to, card_in_place
from generations.models import Generation
from generations.providers import errors
from generations.providers.base import Provider

TRASH_PAGE_LIMIT = 200


@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, uuid: str) -> HttpResponse:
    """Move a piece to the trash: its owner or staff (a GET asks first, for a page without
    htmx; a card's menu does not, and its note has an Undo)."""
    generation = get_object_or_404(
        Generation.objects.alive().select_related("created_by"), uuid=uuid
    )
    trash.refuse_unless_deletable(request.user, [generation])
    upstream = _upstream_deleter(generation)
    # Where to go after (`next`: the results or board its page stepped through), and where its
    # Undo goes (`back`: that page); somewhere off this site is neither.
    given = request.POST if request.method == "POST" else request.GET
    leave = back_to(request, reverse("gallery"), given.get("next", ""))
    back = back_to(request, generation.get_absolute_url(), given.get("back", ""))
    context = {"generation": generation, "upstream": upstream, "leave": leave, "back": back}
    if request.method == "GET":
        return render(request, "generations/gallery_delete.html", context)
    if upstream is not None and request.POST.get("upstream"):
        try:
            upstream.delete(generation.upstream_id or "")
        except errors.NotFound:
            pass  # already gone there
        except errors.LumaError as exc:
            context["error"] = (
                f"{upstream.display_name} did not delete it ({exc}); nothing was deleted."
            )
            return render(request, "generations/gallery_delete.html", context, status=502)
    trash.move_to_trash(request.user, [generation])
    if _on_its_card(request):  # the card gives its place to a note with an Undo
        return render(request, "generations/_trashed_card.html", context)
    days = settings.LUMAWEB_TRASH_DAYS
    messages.success(
        request,
        f"Moved to the trash; you can restore it there for {days:g} days.",
        extra_tags=trash.undo_tag(generation, back),
    )
    if request.htmx:
        return HttpResponseClientRedirect(leave)
    return redirect(leave)


def _on_its_card(request: HttpRequest) -> bool:
    """An htmx request from a card's menu (or its Undo), answered with what takes its place."""
    return bool(request.htmx and request.htmx.target and request.htmx.target.startswith("card-"))


def _upstream_deleter(generation: Generation) -> Provider | None:
    """The job's provider, when it can delete the job upstream too (and is on here)."""
    if not generation.upstream_id:
        return None
    try:
        provider = providers.get(generation.provider)
    except providers.ProviderOff:
        return None
    return provider if provider.capabilities.delete else None


@require_GET
def trash_page(request: HttpRequest) -> HttpResponse:
    """What this person can restore (staff: everyone's), most recently deleted first."""
    pieces = list(
        trash.in_trash(request.user)
        .select_related("created_by", "deleted_by")
        .prefetch_related("outputs")
        .order_by("-deleted_at", "-id")[:TRASH_PAGE_LIMIT]
    )
    for piece in pieces:
        piece.purge_after = trash.purge_after(piece)  # type: ignore[attr-defined]
    context = {"pieces": pieces, "days": settings.LUMAWEB_TRASH_DAYS}
    return render(request, "generations/trash.html", context)


@require_http_methods(["GET", "POST"])
def purge(request: HttpRequest, uuid: str) -> HttpResponse:
    """Remove a piece in the Trash for good, now, with its files (a GET asks first): whoever
    may restore it."""
    generation = get_object_or_404(trash.in_trash(request.user), uuid=uuid)
    refusal = trash.not_yet_purgeable(generation)
    if request.method == "GET" or refusal:
        context = {
            "generation": generation,
            "refusal": refusal,
            "purge_after": trash.purge_after(generation),
        }
        page = "generations/trash_purge.html"
        return render(
            request, page, context, status=409 if refusal and request.method == "POST" else 200
        )
    trash.purge(generation)
    messages.success(request, "Deleted forever: it and its files are gone.")
    return redirect("trash")


@require_http_methods(["GET", "POST"])
def empty(request: HttpRequest) -> HttpResponse:
    """Delete forever everything in this person's Trash (staff: everyone's) that may go now (a
    GET asks first); what must stay stays, and the page says why. Only what the question
    counted goes: the form carries when it was asked (`before`), and a piece trashed since, by
    a teammate whose Undo is still on their screen, stays."""
    before = _asked_at(request)
    if before is None:
        asked = timezone.now()
        going, staying = trash.sort_for_emptying(request.user, asked)
        context = {
            "going": len(going),
            "staying": dict(staying),
            "stay": staying.total(),
            "before": asked.isoformat(),
        }
        status = 400 if request.method == "POST" else 200  # a POST that says no time asks again
        return render(request, "generations/trash_empty.html", context, status=status)
    going, staying = trash.sort_for_emptying(request.user, before)
    gone = sum(trash.purge(generation, trashed_by=before) for generation in going)
    said = (
        f"Deleted forever {gone} piece{pluralize(gone)} and their files"
        if gone
        else "Nothing was deleted"
    )
    if stay := staying.total():
        said += f"; {stay} {pluralize(stay, 'stays,stay')} in the Trash"
    messages.success(request, f"{said}.")
    return redirect("trash")


def _asked_at(request: HttpRequest) -> datetime | None:
    """When the emptying's question was asked, as its form says; None for a GET or a form
    that says no time (with its zone)."""
    try:
        asked = parse_datetime(request.POST.get("before", ""))
        if request.method != "POST" or asked is None or timezone.is_naive(asked):
            return None
        # A time past now (a hand-made form) would take what was trashed after the question.
        return min(asked.astimezone(UTC), timezone.now())
    except (ValueError, OverflowError):  # a date no calendar has, or none UTC reaches
        return None


@require_POST
def restore(request: HttpRequest, uuid: str) -> HttpResponse:
    generation = get_object_or_404(trash.in_trash(request.user), uuid=uuid)
    trash.restore(request.user, generation)
    if _on_its_card(request):  # the Undo of a card just moved to the Trash
        return card_in_place(request, generation)
    messages.success(request, "Restored: it is back in the gallery.")
    return redirect(back_to(request, reverse("trash")))  # an Undo's goes back to the piece
