"""Boards: named sets of pieces the team shares (a project, a client, a campaign): their forms
and queries (board_views.py has the views).

Anyone on the team creates boards and puts pieces on them or takes them off; renaming and
archiving are for the board's maker and staff. A board's page is the gallery's page (filters,
search, keyboard, infinite scroll) on the board's pieces.
"""

from typing import Any

from django import forms

from generations.models import Board, Generation


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


def boards_of(generation: Generation) -> list[Board]:
    """The boards a piece is on, for its page (archived ones too: it is still on them)."""
    return list(generation.boards.order_by("archived", "name"))
