"""Boards: named sets of pieces the team shares (a project, a client, a campaign).

Anyone on the team creates boards and puts pieces on them or takes them off; renaming and
archiving are for the board's maker and staff. A board's page is the gallery's page (filters,
search, keyboard, infinite scroll) on the board's pieces.
"""

from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from generations.bundle import downloadable, zip_response
from generations.gallery import back_to, browse
from generations.models import Board, BoardPiece, Generation, Output, State


class BoardForm(forms.ModelForm):
    class Meta:
        model = Board
        fields = ["name"]
        widgets = {
            "name": forms.TextInput(attrs={"placeholder": "A project, a client, a campaign"})
        }


def active_boards() -> Any:
    return Board.objects.filter(archived=False).order_by("name", "id")


class BoardChoiceForm(forms.Form):
    """Which board to put pieces on: one of the team's, or a new one named here."""

    board = forms.ModelChoiceField(
        queryset=Board.objects.none(),
        to_field_name="uuid",
        required=False,
        empty_label="Choose a board",
    )
    new_board = forms.CharField(
        max_length=80, required=False, label="or a new board named",
        widget=forms.TextInput(attrs={"placeholder": "New board"}),
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["board"].queryset = active_boards()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("board") and not cleaned.get("new_board", "").strip():
            raise forms.ValidationError("Choose a board, or name a new one.")
        return cleaned

    def board_for(self, user: Any) -> Board:
        board: Board | None = self.cleaned_data.get("board")
        return board or Board.objects.create(
            name=self.cleaned_data["new_board"].strip(), created_by=user
        )


@require_http_methods(["GET", "POST"])
def boards(request: HttpRequest) -> HttpResponse:
    """The team's boards with their covers, and a form to start one."""
    form = BoardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        board = form.save(commit=False)
        board.created_by = request.user
        board.save()
        return redirect(board)
    newest = BoardPiece.objects.filter(
        board=OuterRef("pk"), generation__state=State.COMPLETED
    ).order_by("-generation__created_at", "-generation_id")
    listed = list(
        Board.objects.annotate(
            count=Count("entries"), newest=Subquery(newest.values("generation_id")[:1])
        ).select_related("created_by")
    )
    first = Prefetch("outputs", queryset=Output.objects.filter(index=0))
    covers = Generation.objects.prefetch_related(first).in_bulk(
        {b.cover_id or b.newest for b in listed} - {None}  # type: ignore[attr-defined]
    )
    for board in listed:
        board.shown_cover = covers.get(board.cover_id or board.newest)  # type: ignore[attr-defined]
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
    context = {"board": shown, "form": BoardForm(instance=shown)}
    pieces = Generation.objects.filter(boards=shown)
    return browse(request, pieces, shown.get_absolute_url(), "generations/board.html", context)


@require_POST
def edit(request: HttpRequest, uuid: UUID) -> HttpResponse:
    """Rename, archive or restore a board; make a piece its cover or take it off (the button
    says which)."""
    shown = get_object_or_404(Board, uuid=uuid)
    action = request.POST.get("action", "")
    if action in ("cover", "remove"):
        piece = get_object_or_404(shown.pieces, uuid=_uuid(request.POST.get("piece", "")))
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
        if not form.is_valid():
            messages.error(request, " ".join(form.errors.get("name", ["Give it a name."])))
            return redirect(shown)
        form.save()
        messages.success(request, "Renamed.")
    elif action in ("archive", "restore"):
        shown.archived = action == "archive"
        shown.save(update_fields=["archived"])
        messages.success(request, "Archived." if shown.archived else "Restored.")
    else:
        messages.error(request, "Nothing was changed: unknown action.")
    return redirect(shown)


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


@require_GET
def download(request: HttpRequest, uuid: UUID) -> StreamingHttpResponse:
    """Every archived piece of the board as one ZIP with a manifest."""
    shown = get_object_or_404(Board, uuid=uuid)
    return zip_response(downloadable(Generation.objects.filter(boards=shown)), shown.name)


class PieceBoardsForm(forms.Form):
    """The boards one piece is on, as checkboxes, and a new board to start with it."""

    boards = forms.ModelMultipleChoiceField(
        queryset=Board.objects.none(),
        to_field_name="uuid",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    new_board = forms.CharField(
        max_length=80, required=False, label="New board",
        widget=forms.TextInput(attrs={"placeholder": "New board"}),
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["boards"].queryset = active_boards()  # type: ignore[attr-defined]


@require_http_methods(["GET", "POST"])
def piece_boards(request: HttpRequest, uuid: UUID) -> HttpResponse:
    """Put one piece on boards or take it off them (from its card's menu or its page)."""
    piece = get_object_or_404(Generation, uuid=uuid)
    on = list(piece.boards.filter(archived=False))
    form = PieceBoardsForm(request.POST or None, initial={"boards": on})
    if request.method == "POST" and form.is_valid():
        wanted = set(form.cleaned_data["boards"])
        if name := form.cleaned_data["new_board"].strip():
            wanted.add(Board.objects.create(name=name, created_by=request.user))
        for target in wanted - set(on):
            target.add([piece], request.user)
        for target in set(on) - wanted:
            target.remove([piece])
        messages.success(request, "Boards saved.")
        return redirect(back_to(request, piece.get_absolute_url()))
    context = {"generation": piece, "form": form, "on": on}
    return render(request, "generations/piece_boards.html", context)


def boards_of(generation: Generation) -> list[Board]:
    """The boards a piece is on, for its page (archived ones too: it is still on them)."""
    return list(generation.boards.order_by("archived", "name"))
