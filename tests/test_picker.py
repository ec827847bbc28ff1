"""The studio's gallery picker (/create/picker) and the picks it makes possible."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from generations.models import Generation, State

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def piece(owner: User, prompt: str, kind: str = "image", **fields: object) -> Generation:
    fields.setdefault("state", State.COMPLETED)
    fields.setdefault("upstream_id", str(uuid.uuid4()))
    made = timezone.now() - timedelta(days=1) + timedelta(seconds=Generation.objects.count())
    return Generation.objects.create(
        created_at=made, created_by=owner, kind=kind, model="uni-1", prompt=prompt,
        request={"prompt": prompt}, provider="agents", **fields,
    )  # fmt: skip


def picked(response) -> list[str]:  # type: ignore[no-untyped-def]
    buttons = response.content.decode().split("<button")
    return [b.split('data-pick="')[1].split('"')[0] for b in buttons if 'data-pick="' in b]


def test_the_picker_searches_every_pickable_piece_a_page_at_a_time(
    owner_client: Client, owner: User
) -> None:
    old = piece(owner, "an old lighthouse")
    for number in range(30):
        piece(owner, f"filler {number}")
    piece(owner, "a lighthouse still running", state=State.PROCESSING, upstream_id=None)
    piece(owner, "a lighthouse video", kind="video")
    first = owner_client.get("/create/picker", {"mode": "image_edit", "slot": "source"})
    assert first.status_code == 200
    # Found from outside: "The newest pieces Only pieces made with …" (a sentence ran on).
    assert "The newest pieces. Only pieces made with" in first.content.decode()
    assert len(picked(first)) == 24
    assert "page=2" in first.content.decode()
    second = owner_client.get("/create/picker", {"mode": "image_edit", "slot": "source", "page": 2})
    assert len(picked(second)) == 7
    found = owner_client.get(
        "/create/picker", {"mode": "image_edit", "slot": "source", "q": "lighthouse"}
    )
    assert picked(found) == [str(old.uuid)]
    only = owner_client.get(
        "/create/picker", {"mode": "image_edit", "slot": "source", "only": [str(old.uuid), "x"]}
    )
    assert picked(only) == [str(old.uuid)]


@pytest.mark.parametrize(
    "query",
    [{"mode": "image", "slot": "nothing"}, {"mode": "nope", "slot": "source"}, {}],
)
def test_the_picker_answers_404_for_a_slot_that_is_not_there(
    owner_client: Client, query: dict[str, str]
) -> None:
    assert owner_client.get("/create/picker", query).status_code == 404


def test_a_keyframe_row_may_pick_any_piece_and_an_unfinished_one_is_refused_in_words(
    owner_client: Client, owner: User
) -> None:
    running = piece(owner, "still running", state=State.PROCESSING, upstream_id=None)
    data = {
        "mode": "video", "prompt": "a slow pan", "idempotency_key": "abc",
        "kf-TOTAL_FORMS": "1", "kf-INITIAL_FORMS": "0", "kf-0-pick": str(running.uuid),
        "kf-0-frame": "0",
    }  # fmt: skip
    response = owner_client.post("/", data)
    assert response.status_code == 400
    assert "not finished" in response.content.decode()


def test_use_as_reference_picks_without_making_a_parent(owner_client: Client, owner: User) -> None:
    reference = piece(owner, "a moth on bark")
    page = owner_client.get(f"/g/{reference.uuid}/").content.decode()
    assert f"mode=image&amp;from={reference.uuid}&amp;as=image_ref" in page
    studio = owner_client.get("/", {"mode": "image", "from": reference.uuid, "as": "image_ref"})
    form = studio.context["form"]
    assert form["image_ref_pick"].value() in (str(reference.uuid), [str(reference.uuid)])
    assert not form["parent"].value()


def test_a_pick_names_its_kind_in_words(owner_client: Client, owner) -> None:
    """One vocabulary: the kind as cards name it, "(Image edit)", never the code "(image_edit)"."""
    made = piece(owner, "a fern under glass", kind="image_edit")
    html = owner_client.get("/", {"mode": "image_edit"}).content.decode()
    assert f'<option value="{made.uuid}">a fern under glass (Image edit)</option>' in html
    assert "(image_edit)" not in html


def test_the_picker_says_which_upstreams_pieces_fit_the_slot(
    owner_client: Client, owner: User
) -> None:
    """Found from outside: a Dream Machine image never showed in an Agents slot's picker, and
    nothing said why."""
    dreamt = piece(owner, "a dreamt lighthouse")
    Generation.objects.filter(pk=dreamt.pk).update(provider="dream_machine")
    agents = owner_client.get("/create/picker", {"mode": "image_edit", "slot": "source"})
    assert "Only pieces made with the Luma Agents API" in agents.content.decode()
    dream = owner_client.get("/create/picker", {"mode": "dm_image", "slot": "image_ref"})
    assert "Only pieces made with the Luma Dream Machine API" in dream.content.decode()
    assert "a dreamt lighthouse" in dream.content.decode()
    proxy = owner_client.get("/create/picker", {"mode": "proxy", "slot": "image_url"})
    assert proxy.status_code == 200
    assert "Only pieces made with" not in proxy.content.decode()  # the gateway takes any piece


def test_a_search_of_a_character_no_prompt_can_hold_finds_nothing_plainly(
    owner_client: Client, owner: User
) -> None:
    """Found in review: a NUL in the picker's search reached PostgreSQL, which refuses it."""
    piece(owner, "a lighthouse")
    for text in ("\x00", "a\x00", "___"):
        found = owner_client.get(
            "/create/picker", {"mode": "image_edit", "slot": "source", "q": text}
        )
        assert found.status_code == 200, text


@pytest.mark.django_db
def test_a_page_number_past_any_gallery_is_an_empty_page_not_an_error(
    owner: User, owner_client: Client
) -> None:
    # Found from outside: page=99999999999999999999 was a 500 (an offset the database refused).
    lighthouse = piece(owner, "a lighthouse")
    for page in ("99999999999999999999", "9" * 400, "-5"):
        response = owner_client.get(
            "/create/picker", {"mode": "image_edit", "slot": "source", "page": page}
        )
        assert response.status_code == 200, page
    assert picked(response) == [str(lighthouse.uuid)], "a page below the first is the first"
