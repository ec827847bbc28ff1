"""Boards, the multi-selection's actions and bulk downloads, through the views."""

import html
import io
import json
import re
import subprocess
import sys
import zipfile
from uuid import uuid4

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.test import Client

from generations import boards, selection, trash
from generations.gallery import PAGE_SIZE
from generations.models import Board, BoardPiece, Generation, Star, fold_name
from tests.conftest import ROOT
from tests.factories import archived_file, piece

pytestmark = pytest.mark.integration


@pytest.fixture
def teammate_client(teammate: User) -> Client:
    client = Client()
    client.force_login(teammate)
    return client


@pytest.fixture
def board(owner: User) -> Board:
    return Board.objects.create(name="Spring campaign", created_by=owner)


def test_a_board_is_created_and_lists_with_its_count_and_cover(
    owner_client: Client, owner: User, django_assert_max_num_queries
) -> None:
    response = owner_client.post("/boards/", {"name": "Client: Northwind"})
    made = Board.objects.get(name="Client: Northwind")
    assert response.status_code == 302
    assert response["Location"] == made.get_absolute_url()
    hare = piece(owner, "a hare")
    fox = piece(owner, "a fox")
    archived_file(fox, b"fox-bytes")
    made.add([fox, hare], owner)
    for n in range(5):
        Board.objects.create(name=f"Board {n}", created_by=owner)
    with django_assert_max_num_queries(8):
        page = owner_client.get("/boards/")
    text = page.content.decode()
    assert "Client: Northwind" in text
    assert "2 pieces" in text
    assert f"/media/outputs/{fox.uuid}/0" in text  # the newest completed piece with a file


def test_a_board_needs_a_name(owner_client: Client) -> None:
    response = owner_client.post("/boards/", {"name": ""})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not Board.objects.exists()


def test_the_board_page_filters_and_searches_only_its_pieces(
    owner_client: Client, owner: User, board: Board
) -> None:
    on = piece(owner, "a lighthouse at dusk")
    piece(owner, "a lighthouse at dawn")  # in the gallery, not on the board
    video = piece(owner, "waves on a beach", kind="video", model="ray-3.2")
    board.add([on, video], owner)
    text = owner_client.get(board.get_absolute_url()).content.decode()
    assert "a lighthouse at dusk" in text
    assert "waves on a beach" in text
    assert "at dawn" not in text
    searched = owner_client.get(board.get_absolute_url(), {"q": "lighthouse"}).content.decode()
    assert "at dusk" in searched
    assert "waves" not in searched
    assert "at dawn" not in searched
    kind = owner_client.get(board.get_absolute_url(), {"kind": "video"}).content.decode()
    assert "waves on a beach" in kind
    assert "lighthouse" not in kind
    # The filters' own links stay on the board.
    assert f'action="{board.get_absolute_url()}"' in text


def test_the_board_page_scrolls_by_keyset_pages_on_the_board(
    owner_client: Client, owner: User, board: Board, django_assert_max_num_queries
) -> None:
    board.add([piece(owner, f"piece {n}") for n in range(30)], owner)
    with django_assert_max_num_queries(7):
        first = owner_client.get(board.get_absolute_url()).content.decode()
    assert first.count('id="card-') == PAGE_SIZE
    marker = f'hx-get="{board.get_absolute_url()}?cursor='
    assert marker in first
    cursor = first.split(marker, 1)[1].split('"', 1)[0]
    rest = owner_client.get(
        board.get_absolute_url(), {"cursor": cursor}, headers={"HX-Request": "true"}
    ).content.decode()
    assert rest.count('id="card-') == 30 - PAGE_SIZE
    assert "That\N{RIGHT SINGLE QUOTATION MARK}s everything" in rest


def test_a_card_answered_to_a_board_page_keeps_the_boards_menu_items(
    owner_client: Client, owner: User, board: Board
) -> None:
    """Found in review: a card's Undo (after Move to Trash), its Cancel and the poll's swap
    answered a board's page with the gallery's card, without Remove from this board."""
    fox = piece(owner, "a fox")
    running = piece(owner, "a running hare", state="processing")
    board.add([fox, running], owner)
    on_board = {
        "HX-Request": "true",
        "HX-Target": f"card-{fox.uuid}",
        "HX-Current-URL": f"http://testserver{board.get_absolute_url()}",
    }
    owner_client.post(f"/g/{fox.uuid}/delete", headers=on_board)
    undo = owner_client.post(f"/g/{fox.uuid}/restore", headers=on_board).content.decode()
    assert "Remove from this board" in undo
    cancel = {**on_board, "HX-Target": f"card-{running.uuid}"}
    cancelled = owner_client.post(f"/g/{running.uuid}/cancel", headers=cancel).content.decode()
    assert "Remove from this board" in cancelled
    poll = owner_client.get("/poll", {"seen": f"{fox.uuid}:processing"}, headers=on_board)
    assert "Remove from this board" in poll.content.decode()
    elsewhere = {**on_board, "HX-Current-URL": "http://testserver/gallery/"}
    gallery = owner_client.get("/poll", {"seen": f"{fox.uuid}:processing"}, headers=elsewhere)
    assert "Remove from this board" not in gallery.content.decode()


def test_a_board_pages_cards_offer_to_take_a_piece_off_and_make_it_the_cover(
    owner_client: Client, owner: User, board: Board
) -> None:
    """The items a card's menu gets on a board's page only (the shared card leaves them out)."""
    fox, hare = piece(owner, "a fox"), piece(owner, "a hare")
    board.add([fox, hare], owner)
    html = owner_client.get(board.get_absolute_url()).content.decode()
    assert html.count("Remove from this board") == 2
    assert html.count("Make it the cover") == 2
    assert "Remove from this board" not in owner_client.get("/gallery/").content.decode()
    edit = f'action="/boards/{board.uuid}/edit"'
    assert html.count(edit) >= 4
    owner_client.post(f"/boards/{board.uuid}/edit", {"action": "cover", "piece": str(hare.uuid)})
    owner_client.post(f"/boards/{board.uuid}/edit", {"action": "remove", "piece": str(fox.uuid)})
    board.refresh_from_db()
    assert board.cover == hare
    assert list(board.pieces.all()) == [hare]


def test_anyone_adds_and_removes_a_piece_from_its_boards(
    teammate_client: Client, owner: User, teammate: User, board: Board
) -> None:
    fox = piece(owner, "a fox")
    other = Board.objects.create(name="Moodboard", created_by=owner)
    response = teammate_client.post(
        f"/g/{fox.uuid}/boards", {"boards": [str(board.uuid)], "new_board": "Foxes"}
    )
    assert response.status_code == 302
    assert set(fox.boards.values_list("name", flat=True)) == {"Spring campaign", "Foxes"}
    entry = BoardPiece.objects.get(board=board, generation=fox)
    assert entry.added_by == teammate
    teammate_client.post(f"/g/{fox.uuid}/boards", {"boards": [str(other.uuid)]})
    assert set(fox.boards.values_list("name", flat=True)) == {"Moodboard"}
    # From the board's card menu.
    teammate_client.post(f"/boards/{other.uuid}/edit", {"action": "remove", "piece": str(fox.uuid)})
    assert not fox.boards.exists()
    assert Generation.objects.filter(pk=fox.pk).exists()


def test_saving_a_pieces_boards_leaves_a_board_a_teammate_put_it_on_meanwhile(
    owner_client: Client, teammate_client: Client, owner: User, board: Board
) -> None:
    # Found from outside (an attacker, two tabs): Save in a piece's Boards took it off every
    # board not ticked, also the one a teammate had put it on after the form was shown.
    fox = piece(owner, "a fox")
    shown = owner_client.get(f"/g/{fox.uuid}/boards").content.decode()
    other = Board.objects.create(name="Moodboard", created_by=owner)
    teammate_client.post(f"/g/{fox.uuid}/boards", {"boards": [str(other.uuid)]})
    posted = {"boards": [str(board.uuid)], "shown_on": shown_on(shown)}
    assert owner_client.post(f"/g/{fox.uuid}/boards", posted).status_code == 302
    assert set(fox.boards.values_list("name", flat=True)) == {"Spring campaign", "Moodboard"}
    # Unticking a board it was shown on still takes it off.
    shown = owner_client.get(f"/g/{fox.uuid}/boards").content.decode()
    posted = {"boards": [str(other.uuid)], "shown_on": shown_on(shown)}
    owner_client.post(f"/g/{fox.uuid}/boards", posted)
    assert set(fox.boards.values_list("name", flat=True)) == {"Moodboard"}
    # Nor is it put back on a board a teammate took it off meanwhile (the review).
    shown = owner_client.get(f"/g/{fox.uuid}/boards").content.decode()
    teammate_client.post(f"/g/{fox.uuid}/boards", {"shown_on": str(other.uuid)})  # unticked
    posted = {"boards": [str(other.uuid)], "shown_on": shown_on(shown)}
    owner_client.post(f"/g/{fox.uuid}/boards", posted)
    assert not fox.boards.exists()


def shown_on(page: str) -> str:
    """What a piece's Boards form says it was shown (nothing, when it was on no board)."""
    field = re.search(r'<input type="hidden" name="shown_on"(?: value="([^"]*)")?', page)
    assert field is not None
    return field[1] or ""


def test_the_detail_page_shows_the_boards_a_piece_is_on(
    owner_client: Client, owner: User, board: Board
) -> None:
    fox = piece(owner, "a fox")
    board.add([fox], owner)
    text = owner_client.get(fox.get_absolute_url()).content.decode()
    assert f'href="{board.get_absolute_url()}"' in text
    assert "Spring campaign" in text


def test_only_the_maker_or_staff_renames_or_archives(
    teammate_client: Client, owner_client: Client, board: Board, staff: User
) -> None:
    refused = teammate_client.post(
        f"/boards/{board.uuid}/edit", {"action": "rename", "name": "Mine now"}
    )
    assert refused.status_code == 403
    owner_client.post(f"/boards/{board.uuid}/edit", {"action": "rename", "name": "Summer"})
    board.refresh_from_db()
    assert board.name == "Summer"
    admin = Client()
    admin.force_login(staff)
    admin.post(f"/boards/{board.uuid}/edit", {"action": "archive"})
    board.refresh_from_db()
    assert board.archived
    listed = owner_client.get("/boards/").content.decode()
    assert "Archived (1)" in listed


def test_the_cover_is_chosen_and_falls_back_when_its_piece_leaves(
    owner_client: Client, owner: User, board: Board
) -> None:
    old = piece(owner, "an old piece")
    archived_file(old, b"old")
    new = piece(owner, "a new piece")
    archived_file(new, b"new")
    board.add([old, new], owner)
    owner_client.post(f"/boards/{board.uuid}/edit", {"action": "cover", "piece": str(old.uuid)})
    board.refresh_from_db()
    assert board.cover == old
    assert f"/media/outputs/{old.uuid}/" in owner_client.get("/boards/").content.decode()
    board.remove([old])
    board.refresh_from_db()
    assert board.cover is None
    assert f"/media/outputs/{new.uuid}/" in owner_client.get("/boards/").content.decode()


def test_an_empty_board_offers_no_zip_and_says_why_when_asked(
    owner_client: Client, owner: User, board: Board
) -> None:
    # Found from outside: "Download all (ZIP)" on an empty board downloaded an empty ZIP.
    page = owner_client.get(board.get_absolute_url()).content.decode()
    assert f"/boards/{board.uuid}/download" not in page
    asked = owner_client.get(f"/boards/{board.uuid}/download", follow=True)
    assert asked.redirect_chain[-1][0] == board.get_absolute_url()
    assert "Nothing on this board to download yet." in asked.content.decode()
    board.add([piece(owner, "a hare")], owner)
    page = owner_client.get(board.get_absolute_url()).content.decode()
    assert f"/boards/{board.uuid}/download" in page


def test_a_trashed_piece_leaves_its_boards_zip_count_and_cover(
    owner_client: Client, owner: User, board: Board
) -> None:
    """Found from outside: a board's ZIP still held the pieces moved to the Trash, its tile
    counted them, and a trashed piece stayed its cover (chosen, or as its newest piece)."""
    kept, chosen, newest = (piece(owner, p) for p in ("kept", "chosen cover", "newest"))
    for each in (kept, chosen, newest):
        archived_file(each, each.prompt.encode())
    board.add([kept, chosen, newest], owner)
    Board.objects.filter(pk=board.pk).update(cover=chosen)
    other = Board.objects.create(name="Other", created_by=owner)
    other.add([kept, newest], owner)
    trash.move_to_trash(owner, [chosen, newest])
    archive = _zip(owner_client.get(f"/boards/{board.uuid}/download"))
    manifest = json.loads(archive.read("manifest.json"))
    assert [p["prompt"] for p in manifest["pieces"]] == ["kept"]
    assert len(archive.namelist()) == 2
    listed = owner_client.get("/boards/").content.decode()
    assert "1 piece ·" in listed
    assert "pieces ·" not in listed
    assert f"/media/outputs/{kept.uuid}/" in listed
    assert str(chosen.uuid) not in listed
    assert str(newest.uuid) not in listed


def test_boards_are_listed_by_name(owner_client: Client, owner: User) -> None:
    """Found from outside: the list was in the order the boards were made."""
    for name in ("Winter", "autumn", "Spring"):
        Board.objects.create(name=name, created_by=owner)
    listed = owner_client.get("/boards/").content.decode()
    assert [listed.index(n) for n in ("autumn", "Spring", "Winter")] == sorted(
        listed.index(n) for n in ("autumn", "Spring", "Winter")
    )


def test_a_second_board_of_the_same_name_is_refused_everywhere_one_is_made(
    owner_client: Client, owner: User, board: Board
) -> None:
    """Found from outside: three boards called "Client A" that nothing tells apart."""
    said = "There is already a board named “Spring campaign”"
    made = owner_client.post("/boards/", {"name": "  spring CAMPAIGN "})
    assert made.status_code == 400
    assert said in made.content.decode()
    work = piece(owner, "a piece")
    on_piece = owner_client.post(f"/g/{work.uuid}/boards", {"new_board": "Spring Campaign"})
    assert on_piece.status_code == 400
    assert said in on_piece.content.decode()
    chosen = _select(owner_client, "board", [work], confirmed="1", new_board="spring campaign")
    assert said in chosen.content.decode()
    other = Board.objects.create(name="Other", created_by=owner)
    renamed = owner_client.post(
        f"/boards/{other.uuid}/edit", {"action": "rename", "name": "Spring campaign"}
    )
    # Found from outside too: a refused rename lost what was typed (a redirect, and a message).
    assert renamed.status_code == 400
    page = renamed.content.decode()
    assert said in page
    assert 'value="Spring campaign"' in page  # in the open Edit menu, to change
    assert '<h1 class="gallery-head__title">Other' in page  # the name it still has
    assert Board.objects.count() == 2
    assert not work.boards.exists()
    # Found from outside (an attacker): "Éclair" and "éclair" both went in (SQLite folds ASCII
    # only), as did a fullwidth twin of "Spring campaign".
    Board.objects.create(name="Éclair", created_by=owner)
    for twin in ("éclair", "ÉCLAIR", "\uff33pring campaign"):
        assert owner_client.post("/boards/", {"name": twin}).status_code == 400, twin
    # Found from outside again: an invisible character made a twin that looks the same.
    for twin in ("Éclair\u200b", "Écl\u200dair", "Éclair\u202e", "\ufeffÉclair"):
        refused = owner_client.post("/boards/", {"name": twin})
        assert refused.status_code == 400, repr(twin)
        assert "cannot hold invisible characters" in refused.content.decode()
    assert Board.objects.filter(name__startswith="Éclair").count() == 1
    # Its own name, in other letters, is a rename.
    owner_client.post(f"/boards/{board.uuid}/edit", {"action": "rename", "name": "SPRING campaign"})
    board.refresh_from_db()
    assert board.name == "SPRING campaign"


def test_a_name_an_archived_board_has_says_where_that_board_is(
    owner_client: Client, owner: User
) -> None:
    # Found from outside (a team's admin): "choose it" named a board no list offers.
    Board.objects.create(name="Client A", created_by=owner, archived=True)
    refused = owner_client.post("/boards/", {"name": "CLIENT A"})
    assert refused.status_code == 400
    assert (
        "There is already a board named “Client A”, archived: olivia or staff can restore it "
        "from Boards, under Archived. Or choose another name."
        in html.unescape(refused.content.decode())
    )


def test_the_database_refuses_two_boards_whose_names_fold_alike(owner: User) -> None:
    Board.objects.create(name="Éclair", created_by=owner)
    with pytest.raises(IntegrityError), transaction.atomic():
        Board.objects.create(name="ÉCLAIR", created_by=owner)
    renamed = Board.objects.create(name="Other", created_by=owner)
    renamed.name = "éCLAIR"
    with pytest.raises(IntegrityError), transaction.atomic():
        renamed.save(update_fields=["name"])


@pytest.fixture
def a_teammate_first(monkeypatch: pytest.MonkeyPatch, teammate: User) -> None:
    """A teammate makes a board named "Client A" just after a form found no such board, before
    it saves one of that name: the race the forms' own check cannot see."""
    check = boards.unique_name

    def checked_then_made_by_a_teammate(name: str, board: Board | None = None) -> str:
        check(name, board)
        if not Board.objects.filter(folded_name=fold_name("Client A")).exists():
            Board.objects.create(name="Client A", created_by=teammate)
        return name

    monkeypatch.setattr(boards, "unique_name", checked_then_made_by_a_teammate)


@pytest.mark.usefixtures("a_teammate_first")
def test_two_boards_of_one_name_made_at_the_same_instant_are_one_board_and_words(
    owner_client: Client, owner: User
) -> None:
    """Found from outside (left open last stop): the name was checked in Python only, so two
    boards of one name made at the same instant both went in."""
    said = "There is already a board named “Client A”"
    made = owner_client.post("/boards/", {"name": "client a"})
    assert (made.status_code, said in made.content.decode()) == (400, True)
    work = piece(owner, "a piece")
    Board.objects.all().delete()
    on_piece = owner_client.post(f"/g/{work.uuid}/boards", {"new_board": "CLIENT A"})
    assert (on_piece.status_code, said in on_piece.content.decode()) == (400, True)
    assert not work.boards.exists()
    Board.objects.all().delete()
    chosen = _select(owner_client, "board", [work], confirmed="1", new_board="Client A")
    assert said in chosen.content.decode()
    assert not work.boards.exists()
    Board.objects.all().delete()
    other = Board.objects.create(name="Other", created_by=owner)
    renamed = owner_client.post(
        f"/boards/{other.uuid}/edit", {"action": "rename", "name": "Client a"}
    )
    assert (renamed.status_code, said in renamed.content.decode()) == (400, True)
    other.refresh_from_db()
    assert other.name == "Other"
    assert Board.objects.filter(folded_name=fold_name("Client A")).count() == 1


def test_a_board_name_too_long_or_given_with_a_chosen_board_says_so(
    owner_client: Client, owner: User, board: Board
) -> None:
    """Found from outside: past 80 characters the piece's Boards page came back without a
    word and the selection's dialog asked to choose a board; a chosen board with a new name
    typed as well took the board and dropped the name silently."""
    work = piece(owner, "a piece")
    too_long = "x" * 81
    on_piece = owner_client.post(f"/g/{work.uuid}/boards", {"new_board": too_long})
    assert on_piece.status_code == 400
    assert "at most 80 characters" in on_piece.content.decode()
    chosen = _select(owner_client, "board", [work], confirmed="1", new_board=too_long)
    text = chosen.content.decode()
    assert "at most 80 characters" in text
    assert "Choose a board, or name a new one." not in text
    both = _select(
        owner_client, "board", [work], confirmed="1", board=str(board.uuid), new_board="Picks"
    )
    assert "Choose a board or name a new one, not both." in both.content.decode()
    assert not work.boards.exists()
    assert Board.objects.count() == 1


# --- the multi-selection ---


def _select(client: Client, action: str, pieces: list[Generation], **extra: str):  # type: ignore[no-untyped-def]
    data = {"action": action, "pieces": [str(p.uuid) for p in pieces], "next": "/gallery/", **extra}
    return client.post("/selection/", data)


def test_a_selection_returns_to_the_results_it_was_made_in(
    owner_client: Client, owner: User
) -> None:
    # Found from outside: after a search typed on the page (no reload), the selection's way
    # back was the page as it was before the search, so a Star or Delete lost the search.
    pieces = [piece(owner, f"fox {n}") for n in range(2)]
    data = {"action": "star", "pieces": [str(p.uuid) for p in pieces], "next": "/gallery/"}
    page = {"HX-Request": "true", "HX-Current-URL": "http://testserver/gallery/?q=fox"}
    asked = owner_client.post("/selection/", data, headers=page).content.decode()
    assert 'name="next" value="/gallery/?q=fox"' in asked
    away = {"HX-Request": "true", "HX-Current-URL": "https://evil.example/x"}
    asked = owner_client.post("/selection/", data, headers=away).content.decode()
    assert 'name="next" value="/gallery/"' in asked


def test_a_selection_asks_once_then_adds_to_a_new_board(owner_client: Client, owner: User) -> None:
    pieces = [piece(owner, f"piece {n}") for n in range(3)]
    asked = _select(owner_client, "board", pieces)
    assert asked.status_code == 200
    assert "Add 3 pieces to a board" in asked.content.decode()
    assert not Board.objects.exists()
    refused = _select(owner_client, "board", pieces, confirmed="1")
    assert "Choose a board, or name a new one." in refused.content.decode()
    done = _select(owner_client, "board", pieces, confirmed="1", new_board="Picks")
    assert done.status_code == 302
    assert done["Location"] == "/gallery/"
    assert Board.objects.get(name="Picks").pieces.count() == 3
    again = _select(
        owner_client, "board", pieces[:1], confirmed="1", board=str(Board.objects.get().uuid)
    )
    assert again.status_code == 302
    assert Board.objects.get().pieces.count() == 3


def test_adding_pieces_already_on_a_board_says_so(
    owner_client: Client, owner: User, board: Board
) -> None:
    pieces = [piece(owner, f"piece {n}") for n in range(3)]
    board.add(pieces[:2], owner)

    def said(chosen: list[Generation]) -> str:
        done = _select(owner_client, "board", chosen, confirmed="1", board=str(board.uuid))
        return [str(message) for message in get_messages(done.wsgi_request)][-1]

    assert said(pieces[:1]) == "That piece was already on “Spring campaign”."
    assert said(pieces[:2]) == "Those 2 pieces were already on “Spring campaign”."
    assert said(pieces) == "Added 1 piece to “Spring campaign”; 2 were already on it."
    assert board.pieces.count() == 3


def test_a_selection_stars_every_piece(owner_client: Client, owner: User) -> None:
    pieces = [piece(owner, f"piece {n}") for n in range(3)]
    Star.objects.create(user=owner, generation=pieces[0])
    _select(owner_client, "star", pieces, confirmed="1")
    assert Star.objects.filter(user=owner).count() == 3


def test_a_selection_deletes_only_what_the_person_may(
    teammate_client: Client, owner: User, teammate: User, django_capture_on_commit_callbacks
) -> None:
    own = piece(teammate, "mine")
    output = archived_file(own, b"bytes")
    theirs = piece(owner, "theirs")
    asked = _select(teammate_client, "delete", [own, theirs]).content.decode()
    assert "Delete 1 piece?" in asked
    assert "1 of the selected is someone else\N{RIGHT SINGLE QUOTATION MARK}s" in asked
    # Found from outside: it said the files go and it cannot be undone, and listed theirs too.
    assert "cannot be undone" not in asked
    assert "restore it there for 30 days" in asked
    listed = asked.split('class="selection-confirm__list"')[1].split("</ul>")[0]
    assert "mine" in listed
    assert "theirs" not in listed
    with django_capture_on_commit_callbacks(execute=True):
        _select(teammate_client, "delete", [own, theirs], confirmed="1")
    # Theirs goes to the trash (restorable, its files kept until the purge); the other stays.
    assert not Generation.objects.alive().filter(pk=own.pk).exists()
    assert Generation.objects.get(pk=own.pk).deleted_by == teammate
    assert Generation.objects.alive().filter(pk=theirs.pk).exists()
    assert default_storage.exists(output.file.name)


def test_a_selection_over_the_limit_says_only_the_first_are_included(
    owner_client: Client, owner: User, monkeypatch
) -> None:
    first = piece(owner, "the first")
    many = {"action": "star", "next": "/gallery/"}
    many["pieces"] = [str(first.uuid)] + [str(uuid4()) for _ in range(2000)]  # type: ignore[assignment]
    asked = owner_client.post("/selection/", many).content.decode()
    assert "Only the first 2,000 of the 2,001 selected pieces are included" in asked

    monkeypatch.setattr(selection, "MAX_SELECTED", 2)
    pieces = [piece(owner, f"piece {n}") for n in range(3)]
    asked = _select(owner_client, "star", pieces).content.decode()
    assert "Star 2 pieces?" in asked
    assert "Only the first 2 of the 3 selected pieces are included" in asked
    data = {"action": "star", "pieces": [str(p.uuid) for p in pieces], "confirmed": "1"}
    done = owner_client.post("/selection/", {**data, "next": "/gallery/"}, follow=True)
    assert "Only the first 2 of the 3 selected pieces" in done.content.decode()
    assert Star.objects.filter(user=owner).count() == 2
    assert "Only the first" not in _select(owner_client, "star", pieces[:2]).content.decode()


def test_an_empty_or_forged_selection_does_nothing(owner_client: Client, owner: User) -> None:
    response = owner_client.post(
        "/selection/", {"action": "delete", "pieces": ["not-a-uuid"], "confirmed": "1"}
    )
    assert response.status_code == 302
    assert _select(owner_client, "explode", [piece(owner)], confirmed="1").status_code == 302
    assert Generation.objects.count() == 1


def test_an_empty_selection_in_the_dialog_says_what_to_do(owner_client: Client) -> None:
    response = owner_client.post(
        "/selection/", {"action": "star", "next": "/gallery/"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "Nothing selected" in response.content.decode()


def _zip(response) -> zipfile.ZipFile:  # type: ignore[no-untyped-def]
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    return zipfile.ZipFile(io.BytesIO(body))


def test_a_selection_downloads_as_one_zip_with_readable_names_and_a_manifest(
    owner_client: Client, owner: User
) -> None:
    lighthouse = piece(owner, "A lighthouse at dusk")
    archived_file(lighthouse, b"lighthouse-png")
    layers = piece(owner, "Layers of a street", kind="layering")
    for label in ("background", "background"):
        output = archived_file(layers, label.encode())
        output.layer = {"label": label, "index": output.index}
        output.save()
    pending = piece(owner, "Still archiving")
    pending.outputs.create(
        index=0, kind="image", url="https://cdn.test/x.png", url_expires_at=pending.created_at
    )
    response = _select(owner_client, "download", [lighthouse, layers, pending], confirmed="1")
    assert response["Content-Type"] == "application/zip"
    assert 'filename="selection-' in response["Content-Disposition"]
    archive = _zip(response)
    names = archive.namelist()
    short = str(lighthouse.uuid)[:8]
    assert f"a-lighthouse-at-dusk-{short}.png" in names
    assert archive.read(f"a-lighthouse-at-dusk-{short}.png") == b"lighthouse-png"
    layer_names = [n for n in names if n.startswith("layers-of-a-street")]
    assert len(layer_names) == 2
    assert len(set(layer_names)) == 2
    manifest = json.loads(archive.read("manifest.json"))
    by_prompt = {p["prompt"]: p for p in manifest["pieces"]}
    assert by_prompt["A lighthouse at dusk"]["settings"]["aspect_ratio"] == "1:1"
    assert by_prompt["A lighthouse at dusk"]["files"] == [f"a-lighthouse-at-dusk-{short}.png"]
    assert by_prompt["Still archiving"]["outputs_not_archived"] == [0]


def test_a_board_downloads_whole(owner_client: Client, owner: User, board: Board) -> None:
    pieces = [piece(owner, f"piece {n}") for n in range(3)]
    for each in pieces:
        archived_file(each, each.prompt.encode())
    board.add(pieces, owner)
    response = owner_client.get(f"/boards/{board.uuid}/download")
    assert 'filename="spring-campaign-' in response["Content-Disposition"]
    archive = _zip(response)
    assert len(archive.namelist()) == 4
    assert json.loads(archive.read("manifest.json"))["title"] == "Spring campaign"


def test_a_2_gb_board_downloads_with_flat_memory() -> None:
    """bench/zip_download.py in its own process: its peak RSS (/proc) hardly moves."""
    finished = subprocess.run(
        [sys.executable, "bench/zip_download.py", "--gb", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    measured = json.loads(finished.stdout.strip().splitlines()[-1])
    assert measured["complete"]
    assert measured["gigabytes"] >= 2
    # Flat: 2 GB went through while the web workers grew by a few buffers at most.
    assert measured["rss_growth_mb"] < 64, measured


def test_the_address_a_refused_rename_leaves_in_the_bar_opens_the_board(
    owner_client: Client, owner: User
) -> None:
    # Found from outside: after a refused rename the address bar held /boards/<id>/edit, and
    # opening it again was the 405 page "This address is for a form's button, not a visit".
    board = Board.objects.create(name="Kites", created_by=owner)
    opened = owner_client.get(f"/boards/{board.uuid}/edit")
    assert opened.status_code == 302
    assert opened["Location"] == board.get_absolute_url()
