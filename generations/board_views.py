"""The boards' views: the list, a board's page (the gallery's, on its pieces), its edits and
ZIP download, and the boards of one piece. Forms and queries: boards.py."""

from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from generations.boards import BY_NAME, BoardForm, PieceBoardsForm, saved
from generations.bundle import downloadable, zip_response
from generations.gallery import back_to, browse
from generations.models import Board, BoardPiece, Generation, Output, State


@require_http_methods(["GET", "POST"])
def boards(request: HttpRequest) -> HttpResponse:
    """The team's boards with their covers, and a form to start one."""
    form = BoardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        board = form.save(commit=False)
        board.created_by = request.user
        try:
            return redirect(saved(board))
        except ValidationError as refusal:  # a teammate made it meanwhile
            form.add_error("name", refusal)
    # What a board holds is what is not in the Trash: its count, its cover, its ZIP.
    alive = Q(entries__generation__deleted_at__isnull=True)
    newest = BoardPiece.objects.filter(
        board=OuterRef("pk"),
        generation__state=State.COMPLETED,
        generation__deleted_at__isnull=True,
    ).order_by("-generation__created_at", "-generation_id")
    listed = list(
        Board.objects.annotate(
            count=Count("entries", filter=alive),
            newest=Subquery(newest.values("generation_id")[:1]),
        )
        .select_related("created_by")
        .order_by(*BY_NAME)  # a counting query leaves the model's ordering out
    )
    first = Prefetch("outputs", queryset=Output.objects.filter(index=0))
    covers = (
        Generation.objects.alive()
        .prefetch_related(first)
        .in_bulk(({b.cover_id for b in listed} | {b.newest for b in listed}) - {None})  # type: ignore[attr-defined]
    )
    for board in listed:
        board.shown_cover = covers.get(board.cover_id) or covers.get(board.newest)  # type: ignore[attr-defined]
    context = {
        "form": form,
        "active": [b for b in listed if not b.archived],
        "archived": [b for b in listed if b.archived],
    }
    return render(request, "generations/boards.html", context, status=400 if form.errors else 200)


@require_GET
@vary_on_headers("HX-Request")
def board(request: HttpRequest, uuid: UUID) -> HttpResponse:
    """A board's pieces, as the gallery shows everything."""
    shown = get_object_or_404(Board.objects.select_related("created_by"), uuid=uuid)
    return _board_page(request, shown, BoardForm(instance=shown))


def _board_page(request: HttpRequest, shown: Board, form: BoardForm) -> HttpResponse:
    """A board's page, its Edit menu holding `form` (open, with what was typed, when refused)."""
    context = {"board": shown, "form": form}
    page = browse(request, shown, "generations/board.html", context)
    page.status_code = 400 if form.errors else 200
    return page


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, uuid: UUID) -> HttpResponse:
    """Rename, archive or restore a board; make a piece its cover or take it off (the button
    says which). Opened as a page (the address a refused rename leaves in the bar): the board."""
    shown = get_object_or_404(Board, uuid=uuid)
    if request.method == "GET":
        return redirect(shown)
    action = request.POST.get("action", "")
    if action in ("cover", "remove"):
        piece = get_object_or_404(shown.pieces.alive().named([request.POST.get("piece", "")]))
        if action == "cover":
            Board.objects.filter(pk=shown.pk).update(cover=piece)
            messages.success(request, "Cover changed.")
        else:
            shown.remove([piece])
            messages.success(request, "Removed from the board (it stays in the gallery).")
        return redirect(back_to(request, shown.get_absolute_url()))
    if not shown.can_edit(request.user):
        raise PermissionDenied("Only the board's maker or staff can rename or archive it.")
    if action == "rename":
        form = BoardForm(request.POST, instance=shown)
        try:
            if form.is_valid():
                saved(form.save(commit=False))
        except ValidationError as refusal:  # a teammate took the name meanwhile
            form.add_error("name", refusal)
        if form.errors:
            shown.refresh_from_db()  # the page shows the name it still has
            return _board_page(request, shown, form)
        messages.success(request, "Renamed.")
    elif action in ("archive", "restore"):
        shown.archived = action == "archive"
        shown.save(update_fields=["archived"])
        messages.success(request, "Archived." if shown.archived else "Restored.")
    else:
        messages.error(request, "Nothing was changed: unknown action.")
    return redirect(shown)


@require_GET
def download(request: HttpRequest, uuid: UUID) -> HttpResponseBase:
    """Every archived piece of the board as one ZIP with a manifest (an empty board's page
    offers none; asked anyway, it says why rather than send an empty archive)."""
    shown = get_object_or_404(Board, uuid=uuid)
    pieces = Generation.objects.alive().filter(boards=shown)
    if not pieces.exists():
        messages.info(request, "Nothing on this board to download yet.")
        return redirect(shown)
    return zip_response(downloadable(pieces), shown.name)


@require_http_methods(["GET", "POST"])
def piece_boards(request: HttpRequest, uuid: UUID) -> HttpResponse:
    """Put one piece on boards or take it off them (from its card's menu or its page)."""
    piece = get_object_or_404(Generation.objects.alive(), uuid=uuid)
    on = list(piece.boards.filter(archived=False))
    form = PieceBoardsForm(request.POST or None, on=on)
    if request.method == "POST" and form.is_valid():
        joined, left = form.changes()
        if name := form.cleaned_data["new_board"]:
            try:
                joined.add(saved(Board(name=name, created_by=request.user)))
            except ValidationError as refusal:  # a teammate made it meanwhile
                form.add_error("new_board", refusal)
    if request.method == "POST" and form.is_valid():
        for target in joined:
            target.add([piece], request.user)
        for target in left:
            target.remove([piece])
        messages.success(request, "Boards saved.")
        return redirect(back_to(request, piece.get_absolute_url()))
    back = back_to(request, piece.get_absolute_url(), request.GET.get("next", ""))
    context = {"generation": piece, "form": form, "on": on, "back": back}
    status = 400 if form.errors else 200
    return render(request, "generations/piece_boards.html", context, status=status)
