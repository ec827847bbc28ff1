"""The studio's own error pages: a page that is not here (a piece in the Trash says so), a
refusal, a bad request and a server error, in the site's look and plain words."""

from uuid import uuid4

import pytest
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from generations.models import Board
from generations.trash import move_to_trash
from tests.factories import piece

pytestmark = pytest.mark.integration

NAV = '<nav class="topbar__nav"'
NOT_HERE = "This page isn\N{RIGHT SINGLE QUOTATION MARK}t here"
MISSING = "00000000-0000-4000-8000-000000000000"


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "path",
    [f"/g/{MISSING}/", f"/boards/{MISSING}/", "/boards/not-a-board/", "/nope"],
)
def test_a_missing_page_is_the_sites_own_with_a_way_back(owner: User, path: str) -> None:
    response = as_user(owner).get(path)
    html = response.content.decode()
    assert response.status_code == 404
    assert NOT_HERE in html
    assert NAV in html
    assert f'href="{reverse("gallery")}"' in html
    assert "Not Found" not in html


def test_a_signed_out_visitor_gets_the_same_page_or_the_login(db) -> None:
    missing = Client().get("/nope")
    assert missing.status_code == 404
    assert NOT_HERE in missing.content.decode()
    assert NAV not in missing.content.decode()
    assert 'class="brand"' in missing.content.decode()
    # A piece's address, kept or not, asks for a login first and says nothing about it.
    asked = Client().get(f"/g/{uuid4()}/")
    assert asked.status_code == 302
    assert asked["Location"].startswith(reverse("login"))


def test_a_piece_in_the_trash_says_so_to_whoever_can_restore_it(
    owner: User, teammate: User, staff: User
) -> None:
    deleted = piece(owner, "a lighthouse at dusk")
    move_to_trash(owner, [deleted])
    for person in (owner, staff):
        response = as_user(person).get(deleted.get_absolute_url())
        html = response.content.decode()
        assert response.status_code == 404
        assert "This piece is in the Trash" in html
        assert f'href="{reverse("trash")}#trash-{deleted.uuid}"' in html
        assert NAV in html
    # Someone who cannot restore it learns nothing about it.
    hidden = as_user(teammate).get(deleted.get_absolute_url())
    assert hidden.status_code == 404
    assert NOT_HERE in hidden.content.decode()
    assert "Trash" not in hidden.content.decode().split("<main")[1]


def test_a_refusal_is_the_sites_own_page_with_the_reason(owner: User, teammate: User) -> None:
    board = Board.objects.create(name="Spring campaign", created_by=owner)
    response = as_user(teammate).post(
        reverse("board-edit", args=[board.uuid]), {"action": "rename", "name": "Mine"}
    )
    html = response.content.decode()
    assert response.status_code == 403
    assert NAV in html
    assert "maker or staff can rename or archive it." in html


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_refused_delete_is_the_sites_own_page_with_a_way_back(
    owner: User, teammate: User, method: str
) -> None:
    mine = piece(owner, "a lighthouse at dusk")
    response = getattr(as_user(teammate), method)(reverse("generation-delete", args=[mine.uuid]))
    html = response.content.decode()
    assert response.status_code == 403
    assert NAV in html
    assert "Only its owner or staff can delete this." in html
    assert f'href="{reverse("gallery")}"' in html


def test_a_bad_request_is_the_sites_own_page(db) -> None:
    response = Client().get("/", headers={"host": "evil.test"})
    assert response.status_code == 400
    assert 'class="brand"' in response.content.decode()
    assert "Bad Request" not in response.content.decode()


@pytest.mark.parametrize("signed_in", [True, False])
def test_a_form_sent_with_a_stale_token_says_what_to_do(owner: User, signed_in: bool) -> None:
    """A tab left open across a log-out and log-in sends a token that no longer matches."""
    person = Client(enforce_csrf_checks=True)
    if signed_in:
        person.force_login(owner)
        response = person.post(reverse("boards"), {"name": "Spring campaign"})
    else:
        response = person.post(reverse("login"), {"username": "olivia", "password": "x"})
    html = response.content.decode()
    assert response.status_code == 403
    assert "This form is out of date" in html
    if signed_in:
        assert "Go back: what you typed is still in the form" in html
    else:
        assert f'href="{reverse("login")}"' in html
    assert 'class="brand"' in html
    assert (NAV in html) is signed_in
    assert "CSRF verification failed" not in html
    assert "CSRF cookie not set" not in html  # the reason Django gives, for the log only
    assert not Board.objects.exists()


def test_a_server_error_page_needs_no_request_context(db) -> None:
    """Django renders 500.html with an empty context: no person, no database."""
    response = server_error(RequestFactory().get("/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert 'class="brand"' in html
    assert "Something went wrong" in html
    assert "Server Error" not in html
