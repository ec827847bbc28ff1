"""The gallery's views: the team gallery, a piece's star, cancel and download, and toasts when
your own jobs finish (delete: trash_views.py). What they share with other pages is gallery.py."""

from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from generations.cards import star_form
from generations.gallery import back_to, browse, card_in_place, download_output
from generations.models import Generation, Star
from generations.trash import can_delete, out_of_reach


@require_GET
@vary_on_headers("HX-Request")
def gallery(request: HttpRequest) -> HttpResponse:
    """Everything the team made, newest first, filtered and searched through the URL."""
    return browse(request)


@require_POST
def star(request: HttpRequest, uuid: str) -> HttpResponse:
    """Star or unstar (the form says which, so a double click cannot undo itself)."""
    generation = get_object_or_404(Generation.objects.alive(), uuid=uuid)
    starred = request.POST.get("starred") == "1"
    if starred:
        Star.objects.get_or_create(user=request.user, generation=generation)
    else:
        Star.objects.filter(user=request.user, generation=generation).delete()
    generation.is_starred = starred  # type: ignore[attr-defined]
    if request.htmx:
        return HttpResponse(star_form(request, generation))
    return redirect(back_to(request, generation.get_absolute_url()))


@require_POST
def cancel(request: HttpRequest, uuid: str) -> HttpResponse:
    """Stop following a job that takes too long: marked failed ("cancelled") here, its polling
    stopped; the owner or staff only. Nothing is sent upstream (Luma cannot cancel a job)."""
    generation = get_object_or_404(Generation.objects.select_related("created_by"), uuid=uuid)
    if generation.deleted_at and out_of_reach(request.user).filter(pk=generation.pk).exists():
        raise Http404("No such piece.")  # someone's trashed piece: as if gone, as everywhere
    if not can_delete(request.user, generation):
        raise PermissionDenied("Only its owner or staff can cancel this.")
    by = request.user.get_username()
    generation.mark_failed(
        "cancelled", f"Cancelled by {by}: stopped waiting for {generation.provider_label}."
    )
    if request.htmx:
        return card_in_place(request, generation)
    return redirect(back_to(request, generation.get_absolute_url()))


@require_safe
def download(request: HttpRequest, uuid: str, index: int) -> HttpResponseBase:
    """The original file under a name a person can recognise."""
    return download_output(request, uuid, index)


# --- toasts: your own jobs finishing while you are elsewhere ---


@require_GET
def toasts(request: HttpRequest) -> HttpResponse:
    """Your jobs that finished since `since` (unix time); 204 when there are none."""
    try:
        since = datetime.fromtimestamp(float(request.GET.get("since", "")), tz=UTC)
    except (ValueError, OverflowError, OSError):
        since = timezone.now()
    finished = list(
        Generation.objects.filter(created_by=request.user, finished_at__gt=since)
        .only("uuid", "kind", "model", "prompt", "state", "finished_at")
        .order_by("finished_at")[:5]
    )
    if not finished:
        return HttpResponse(status=204)
    context = {"finished": finished, "since": f"{finished[-1].finished_at.timestamp():.6f}"}
    return render(request, "generations/gallery_toasts.html", context)
