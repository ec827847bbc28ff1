"""Boards: named sets of pieces the team shares (a project, a client, a campaign): their forms
and queries (board_views.py has the views).

Anyone on the team creates boards and puts pieces on them or takes them off; renaming and
archiving are for the board's maker and staff. A board's page is the gallery's page (filters,
search, keyboard, infinite scroll) on the board's pieces.
"""

import unicodedata
from typing import Any

from django import forms
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from generations.models import Board, Generation, fold_name

# The order boards are listed and offered in: by name, whatever its letters' case.
BY_NAME = (Lower("name"), "id")
# Unicode's format (Cf) and control (Cc) characters: nothing a name shows.
INVISIBLE = frozenset(("Cf", "Cc"))


def unique_name(name: str, board: Board | None = None) -> str:
    """`name` when no other board has it (in any letters' case or width: `fold_name`), or a
    refusal that says which: boards of the same name could not be told apart where pieces are
    put on them. A name holding an invisible character (a zero-width space, a direction
    override: Unicode's format and control characters) is refused: it would look like another's.
    """
    if hidden := sorted({c for c in name if unicodedata.category(c) in INVISIBLE}):
        shown = ", ".join(f"U+{ord(c):04X}" for c in hidden)
        raise forms.ValidationError(
            f"A board's name cannot hold invisible characters ({shown} here): it would look "
            "like another name. Type it again without them."
        )
    others = Board.objects.exclude(pk=board.pk if board else None)
    if (found := others.filter(folded_name=fold_name(name)).first()) is not None:
        if found.archived:  # no list of boards to choose from offers it
            maker = found.created_by.get_username() if found.created_by else "its maker"
            raise forms.ValidationError(
                f"There is already a board named “{found.name}”, archived: {maker} or staff "
                "can restore it from Boards, under Archived. Or choose another name."
            )
        raise forms.ValidationError(
            f"There is already a board named “{found.name}”: choose it, or another name."
        )
    return name


def saved(board: Board) -> Board:
    """`board` saved, or the refusal `unique_name` gives when another board took its name after
    the form was checked (two made at the same instant: the database's unique folded name)."""
    try:
        with transaction.atomic():
            board.save()
    except IntegrityError:
        unique_name(board.name, board if board.pk else None)
        raise
    return board


class BoardForm(forms.ModelForm):
    class Meta:
        model = Board
        fields = ["name"]
        widgets = {
            "name": forms.TextInput(attrs={"placeholder": "A project, a client, a campaign"})
        }

    def clean_name(self) -> str:
        return unique_name(self.cleaned_data["name"], self.instance if self.instance.pk else None)


def active_boards() -> Any:
    return Board.objects.filter(archived=False).order_by(*BY_NAME)


def _new_board(form: forms.Form) -> str:
    """A form's `new_board`, if given, as a board's name no other board has."""
    name: str = form.cleaned_data["new_board"]
    return unique_name(name) if name else name


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

    clean_new_board = _new_board

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:  # a field's own error says what is wrong
            return cleaned
        if cleaned.get("board") and cleaned.get("new_board"):
            raise forms.ValidationError("Choose a board or name a new one, not both.")
        if not cleaned.get("board") and not cleaned.get("new_board"):
            raise forms.ValidationError("Choose a board, or name a new one.")
        return cleaned

    def board_for(self, user: Any) -> Board:
        board: Board | None = self.cleaned_data.get("board")
        return board or saved(Board(name=self.cleaned_data["new_board"], created_by=user))


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

    # The boards the piece was on when the form was shown (their ids): unticking takes it off
    # those only, not off a board a teammate put it on since.
    shown_on = forms.CharField(required=False, widget=forms.HiddenInput)

    clean_new_board = _new_board

    def __init__(self, *args: Any, on: list[Board], **kwargs: Any) -> None:
        shown = " ".join(str(board.uuid) for board in on)
        super().__init__(*args, initial={"boards": on, "shown_on": shown}, **kwargs)
        self.fields["boards"].queryset = active_boards()  # type: ignore[attr-defined]
        self.on = on

    def changes(self) -> tuple[set[Board], set[Board]]:
        """The boards to put the piece on (ticked, and shown unticked) and to take it off (shown
        ticked, and unticked): a board a teammate put it on or took it off since the form was
        shown stays as they left it. A post that does not say what it was shown (a script's) was
        shown the boards the piece is on now."""
        wanted = set(self.cleaned_data["boards"])
        if "shown_on" not in self.data:
            return wanted - set(self.on), set(self.on) - wanted
        ids = set(self.cleaned_data["shown_on"].split())
        shown = {board for board in active_boards() if str(board.uuid) in ids}
        return wanted - shown, (shown & set(self.on)) - wanted


def boards_of(generation: Generation) -> list[Board]:
    """The boards a piece is on, for its page (archived ones too: it is still on them)."""
    return list(generation.boards.order_by("archived", *BY_NAME))
