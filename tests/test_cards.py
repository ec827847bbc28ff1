"""Cards rendered once per version and shared by every viewer, and the page's single poll.

A cached card must never be older than its job, must never carry one viewer's star or actions
to another, and a change to one job must re-render that card only (generations/cards.py).
"""

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles.storage import staticfiles_storage
from django.db import connection
from django.test import Client
from django.test.signals import template_rendered
from django.urls import reverse
from django.utils import timezone

from generations.cards import TEMPLATE
from generations.gallery import PAGE_SIZE
from generations.models import ArchiveState, Board, Generation, Output, Star, State

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def job(user: User, prompt: str = "a lighthouse at dusk", **fields: Any) -> Generation:
    fields.setdefault("state", State.COMPLETED)
    fields.setdefault("request", {"prompt": prompt})
    fields.setdefault("kind", "image")
    generation = Generation.objects.create(created_by=user, model="uni-1", prompt=prompt, **fields)
    if generation.state == State.COMPLETED:
        generation.outputs.create(
            index=0, kind="image", url=f"https://cdn.test/{generation.uuid}.png?sig=1",
            url_expires_at=timezone.now() + timedelta(hours=1),
        )  # fmt: skip
    return generation


@pytest.fixture
def card_renders() -> Iterator[list[Generation]]:
    """The jobs whose card template was rendered (not served from the cache), in order."""
    rendered: list[Generation] = []

    def record(sender: Any, template: Any, context: Any, **kwargs: Any) -> None:
        if template.name == TEMPLATE:
            rendered.append(context["generation"])

    template_rendered.connect(record)
    yield rendered
    template_rendered.disconnect(record)


def card_html(html: str, generation: Generation) -> str:
    start = html.index(f'id="card-{generation.uuid}"')
    return html[start : html.index("</article>", start)]


def gallery(client: Client) -> str:
    response = client.get(reverse("gallery"))
    assert response.status_code == 200
    return response.content.decode()


# --- a cached card is never older than its job ---

CHANGES: dict[str, tuple[Callable[[Generation], None], str]] = {
    "its state": (
        lambda g: Generation.objects.filter(pk=g.pk).update(
            state=State.FAILED, failure_code="content_moderated"
        ),
        "Blocked by content moderation",
    ),
    "its prompt": (
        lambda g: Generation.objects.filter(pk=g.pk).update(prompt="a lighthouse in fog"),
        "a lighthouse in fog",
    ),
    "its output, archived": (
        lambda g: Output.objects.filter(generation=g).update(
            archive_state=ArchiveState.ARCHIVED, file="outputs/x/0.png", thumb="outputs/x/t.webp"
        ),
        "/media/outputs/x/t.webp",
    ),
    "its output, not archivable": (
        lambda g: Output.objects.filter(generation=g).update(
            archive_state=ArchiveState.FAILED, archive_error="The link answered 403."
        ),
        "The link answered 403.",
    ),
    "its author's name": (
        lambda g: User.objects.filter(pk=g.created_by_id).update(username="olivia2"),
        "olivia2",
    ),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_change_to_a_job_shows_on_the_next_view(
    owner: User, owner_client: Client, change: str
) -> None:
    generation = job(owner)
    before = card_html(gallery(owner_client), generation)
    write, shown = CHANGES[change]
    assert shown not in before
    write(generation)
    assert shown in card_html(gallery(owner_client), generation)


def test_a_retry_finishing_shows_on_the_card_it_replaced(owner: User, owner_client: Client) -> None:
    retry = job(owner, state=State.PROCESSING, auto_retry=1)
    original = job(owner, state=State.FAILED, failure_code="generation_failed", retried_as=retry)
    card = reverse("generation-card", args=[original.uuid])  # stacked: not in the gallery
    assert "Retrying automatically" in owner_client.get(card).content.decode()
    Generation.objects.filter(pk=retry.pk).update(state=State.COMPLETED)
    assert "Retried automatically" in owner_client.get(card).content.decode()


def test_the_poll_swaps_a_job_replaced_by_its_automatic_retry_for_the_retry(
    owner: User, owner_client: Client
) -> None:
    running = job(owner, "a moth near a lamp", state=State.PROCESSING)
    retry = job(owner, "a moth near a lamp", state=State.DRAFT, auto_retry=1, parent=running)
    Generation.objects.filter(pk=running.pk).update(
        state=State.FAILED, failure_code="generation_failed", retried_as=retry
    )
    seen = {"seen": f"{running.uuid}:processing"}
    polled = owner_client.get(reverse("poll"), seen).content.decode()
    assert f'<article hx-swap-oob="outerHTML:#card-{running.uuid}"' in polled
    assert card_html(polled, retry).count('data-poll="draft"') == 1
    assert f'id="card-{running.uuid}"' not in polled
    # A board's page holds the job, not its retry: the job's own card is swapped there.
    board = Board.objects.create(name="Moths", created_by=owner)
    on_board = {
        "HX-Request": "true",
        "HX-Current-URL": f"http://testserver{board.get_absolute_url()}",
    }
    there = owner_client.get(reverse("poll"), seen, headers=on_board).content.decode()
    assert f'id="card-{running.uuid}"' in there
    assert f'id="card-{retry.uuid}"' not in there


def test_the_clock_words_on_a_card_move_with_the_clock(
    owner: User, owner_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    generation = job(owner, created_at=timezone.now())
    assert "just now" in card_html(gallery(owner_client), generation)
    later = timezone.now() + timedelta(minutes=3)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert "3 min ago" in card_html(gallery(owner_client), generation)


def test_a_link_about_to_die_is_never_served_from_an_older_card(
    owner: User, owner_client: Client
) -> None:
    generation = job(owner)
    url = generation.outputs.get().url
    assert url in card_html(gallery(owner_client), generation)
    Output.objects.filter(generation=generation).update(
        url_expires_at=timezone.now() + timedelta(seconds=30)
    )
    assert url not in card_html(gallery(owner_client), generation)


# --- the detail page: its shared parts are cached the same way ---

DETAIL_CHANGES: dict[str, tuple[Callable[[Generation], None], str]] = {
    **{name: CHANGES[name] for name in ("its state", "its prompt", "its author's name")},
    "its output, archived": (
        lambda g: Output.objects.filter(generation=g).update(
            archive_state=ArchiveState.ARCHIVED,
            file="outputs/x/0.png",
            thumb_large="outputs/x/l.webp",
        ),
        "/media/outputs/x/l.webp",
    ),
    "its output, not archivable": CHANGES["its output, not archivable"],
    "a piece made from it": (
        lambda g: job(g.created_by, "the same, in snow", parent=g, lineage="remix"),
        "the same, in snow",
    ),
    "what it was made from": (
        lambda g: Generation.objects.filter(pk=g.parent_id).update(prompt="a red door, at noon"),
        "a red door, at noon",
    ),
}


def detail(client: Client, generation: Generation) -> str:
    response = client.get(generation.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("change", DETAIL_CHANGES, ids=list(DETAIL_CHANGES))
def test_a_change_shows_on_the_detail_page_at_the_next_view(
    owner: User, owner_client: Client, change: str
) -> None:
    source = job(owner, "a red door")
    generation = job(owner, parent=source, lineage="remix")
    write, shown = DETAIL_CHANGES[change]
    assert shown not in detail(owner_client, generation)
    write(generation)
    assert shown in detail(owner_client, generation)


def test_the_clock_on_an_unfinished_jobs_detail_page_moves_with_the_clock(
    owner: User, owner_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = timezone.now()
    generation = job(owner, state=State.PROCESSING, created_at=start, submitted_at=start)
    assert "3 min" not in detail(owner_client, generation)
    later = start + timedelta(minutes=3, seconds=5)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert "3 min" in detail(owner_client, generation)


def test_a_link_about_to_die_is_never_served_from_an_older_detail_page(
    owner: User, owner_client: Client
) -> None:
    generation = job(owner)
    url = generation.outputs.get().url
    assert url in detail(owner_client, generation)
    Output.objects.filter(generation=generation).update(
        url_expires_at=timezone.now() + timedelta(seconds=30)
    )
    assert url not in detail(owner_client, generation)


def test_a_detail_page_seen_again_renders_only_each_viewers_bits(
    owner: User, teammate: User, owner_client: Client
) -> None:
    generation = job(owner, "a lighthouse at dusk")
    shown: list[str] = []

    def record(sender: Any, template: Any, context: Any, **kwargs: Any) -> None:
        shown.append(template.name)

    first = detail(owner_client, generation)
    template_rendered.connect(record)
    try:
        again = detail(owner_client, generation)
    finally:
        template_rendered.disconnect(record)
    assert "generations/media.html" not in shown, "the media came from the cache"
    assert again.count("a lighthouse at dusk") == first.count("a lighthouse at dusk")
    delete = reverse("generation-delete", args=[generation.uuid])
    assert delete in again
    other = Client()
    other.force_login(teammate)
    theirs = detail(other, generation)
    assert delete not in theirs, "the owner's actions never reach a teammate"
    assert "a lighthouse at dusk" in theirs


# --- one change, one card ---


def test_a_change_to_one_job_re_renders_that_card_only(
    owner: User, owner_client: Client, card_renders: list[Generation]
) -> None:
    jobs = [job(owner, f"piece {n}") for n in range(6)]
    gallery(owner_client)
    assert len(card_renders) == 6
    card_renders.clear()
    gallery(owner_client)
    assert card_renders == [], "nothing changed: every card from the cache"
    Generation.objects.filter(pk=jobs[2].pk).update(prompt="piece two, again")
    gallery(owner_client)
    assert [g.pk for g in card_renders] == [jobs[2].pk]


# --- each viewer's bits ---


def test_each_viewer_sees_their_own_star_and_actions_on_a_shared_card(
    owner: User,
    teammate: User,
    staff: User,
    owner_client: Client,
    card_renders: list[Generation],
) -> None:
    generation = job(owner)
    Star.objects.create(user=teammate, generation=generation)
    teammate_client, staff_client = Client(), Client()
    teammate_client.force_login(teammate)
    staff_client.force_login(staff)
    delete = reverse("generation-delete", args=[generation.uuid])
    seen = {
        "teammate": card_html(gallery(teammate_client), generation),
        "owner": card_html(gallery(owner_client), generation),
        "staff": card_html(gallery(staff_client), generation),
    }
    assert len(card_renders) == 1, "one render, shared by the three"
    assert 'aria-pressed="true"' in seen["teammate"]
    assert 'aria-pressed="false"' in seen["owner"]
    assert 'aria-pressed="false"' in seen["staff"]
    assert delete not in seen["teammate"]
    assert delete in seen["owner"]
    assert delete in seen["staff"]
    for html in seen.values():
        assert "<!--viewer:" not in html


def test_a_star_shows_at_once_although_the_card_is_cached(
    owner: User, owner_client: Client
) -> None:
    generation = job(owner)
    assert 'aria-pressed="false"' in card_html(gallery(owner_client), generation)
    owner_client.post(reverse("generation-star", args=[generation.uuid]), {"starred": "1"})
    assert 'aria-pressed="true"' in card_html(gallery(owner_client), generation)


# --- htmx and full-page variants ---


def test_htmx_and_full_page_answers_are_never_mixed(owner: User, owner_client: Client) -> None:
    generation = job(owner)
    url = reverse("gallery") + "?kind=image"
    partial = owner_client.get(url, headers={"HX-Request": "true"})
    full = owner_client.get(url)
    again = owner_client.get(url, headers={"HX-Request": "true"})
    assert full.content.decode().startswith("<!doctype html>")
    for answer in (partial, again):
        assert answer.content.decode().lstrip().startswith('<div id="gallery-results"')
        assert f'id="card-{generation.uuid}"' in answer.content.decode()
    assert "HX-Request" in full["Vary"]
    # A card swapped in out of band by the poll never carries that mark into a page.
    running = job(owner, "a kettle", state=State.PROCESSING)
    Generation.objects.filter(pk=running.pk).update(state=State.COMPLETED)
    polled = owner_client.get(reverse("poll"), {"seen": f"{running.uuid}:processing"})
    assert 'hx-swap-oob="true"' in polled.content.decode()
    page = gallery(owner_client)
    assert "hx-swap-oob" not in page
    assert f'id="card-{generation.uuid}"' in page


# --- one poll per page ---


def test_the_poll_answers_204_while_nothing_watched_changed(
    owner: User, owner_client: Client, django_assert_max_num_queries: Any
) -> None:
    running = [job(owner, f"running {n}", state=State.PROCESSING) for n in range(12)]
    seen = ",".join(f"{g.uuid}:processing" for g in running)
    owner_client.get(reverse("poll"), {"seen": seen})  # the session, as a page has it
    with django_assert_max_num_queries(2):  # the session and the states: not the person
        response = owner_client.get(reverse("poll"), {"seen": seen})
    assert response.status_code == 204


def test_the_poll_is_for_signed_in_people_only(owner: User, owner_client: Client) -> None:
    running = job(owner, "running", state=State.PROCESSING)
    unchanged = {"seen": f"{running.uuid}:processing"}
    anonymous = Client().get(reverse("poll"), unchanged)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert owner_client.get(reverse("poll"), unchanged).status_code == 204
    owner.is_active = False  # let go: the session stays, the person is no longer let in
    owner.save()
    Generation.objects.filter(pk=running.pk).update(state=State.COMPLETED)
    refused = owner_client.get(reverse("poll"), unchanged)
    assert refused.status_code == 302
    assert f"card-{running.uuid}" not in refused.content.decode()


def test_the_poll_swaps_in_the_cards_that_changed_and_only_those(
    owner: User, owner_client: Client, django_assert_max_num_queries: Any
) -> None:
    running = [job(owner, f"running {n}", state=State.PROCESSING) for n in range(5)]
    for generation in running[:2]:
        Generation.objects.filter(pk=generation.pk).update(state=State.COMPLETED)
        job_output = Output(generation=generation, index=0, kind="image")
        job_output.url = "https://cdn.test/done.png"
        job_output.url_expires_at = timezone.now() + timedelta(hours=1)
        job_output.save()
    seen = ",".join(f"{g.uuid}:processing" for g in running)
    with django_assert_max_num_queries(7):
        response = owner_client.get(reverse("poll"), {"seen": seen})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('hx-swap-oob="true"') == 2
    for generation in running[:2]:
        assert f'id="card-{generation.uuid}"' in html
    assert "https://cdn.test/done.png" in html
    assert f"card-{running[3].uuid}" not in html


def test_a_deleted_job_leaves_the_page_at_the_next_poll(owner: User, owner_client: Client) -> None:
    generation = job(owner, state=State.QUEUED)
    uuid = generation.uuid
    generation.delete()
    response = owner_client.get(reverse("poll"), {"seen": f"{uuid}:queued"})
    assert response.content.decode() == f'<article id="card-{uuid}" hx-swap-oob="delete"></article>'


def test_a_detail_page_reloads_once_its_job_changed(owner: User, owner_client: Client) -> None:
    generation = job(owner, state=State.QUEUED)
    page = owner_client.get(generation.get_absolute_url()).content.decode()
    assert f'data-poll-page="{generation.uuid}:queued"' in page
    assert "every 1s" not in page.replace('id="poller" hx-get="/poll" hx-trigger="every 1s"', "")
    unchanged = owner_client.get(reverse("poll"), {"page": f"{generation.uuid}:queued"})
    assert unchanged.status_code == 204
    Generation.objects.filter(pk=generation.pk).update(state=State.PROCESSING)
    changed = owner_client.get(reverse("poll"), {"page": f"{generation.uuid}:queued"})
    assert changed["HX-Refresh"] == "true"


@pytest.mark.parametrize("seen", ["", "nonsense", "a:b,c", ":queued", "x" * 5000, ",,,"])
def test_a_malformed_poll_is_answered_with_nothing_to_do(owner_client: Client, seen: str) -> None:
    assert owner_client.get(reverse("poll"), {"seen": seen, "page": seen}).status_code == 204


def test_the_poll_is_for_people_who_are_logged_in(client: Client, owner: User) -> None:
    generation = job(owner, state=State.QUEUED)
    response = client.get(reverse("poll"), {"seen": f"{generation.uuid}:draft"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- viewing: the detail page, long-running jobs ---


def test_the_detail_page_says_the_settings_in_plain_words(
    owner: User, owner_client: Client
) -> None:
    request = {
        "prompt": "a harbour", "type": "video", "model": "ray-3", "aspect_ratio": "16:9",
        "video": {"duration": "5s", "resolution": "720p", "loop": True,
                  "source_position": {"x_norm": 0.0, "y_norm": 0.0, "w_norm": 1, "h_norm": 1}},
    }  # fmt: skip
    generation = job(owner, "a harbour", request=request)
    html = owner_client.get(generation.get_absolute_url()).content.decode()
    assert "5 seconds, 720p, 16:9, loops, the source placed by hand" in html
    assert "x norm" not in html.replace('"x_norm"', "")


def test_the_detail_page_links_the_next_newer_and_older_pieces(
    owner: User, owner_client: Client, django_assert_max_num_queries: Any
) -> None:
    start = timezone.now() - timedelta(hours=1)
    older, middle, newer = (
        job(owner, f"piece {n}", created_at=start + timedelta(minutes=n)) for n in range(3)
    )
    with django_assert_max_num_queries(6):
        html = owner_client.get(middle.get_absolute_url()).content.decode()
    assert f'href="{newer.get_absolute_url()}" rel="prev" data-step="prev"' in html
    assert f'href="{older.get_absolute_url()}" rel="next" data-step="next"' in html
    first = owner_client.get(newer.get_absolute_url()).content.decode()
    assert 'data-step="prev"' not in first
    # Equal creation times are told apart as the gallery does (by id).
    twin = job(owner, "a twin", created_at=middle.created_at)
    html = owner_client.get(middle.get_absolute_url()).content.decode()
    assert f'href="{twin.get_absolute_url()}" rel="prev"' in html


def steps(html: str) -> dict[str, str]:
    """The ← / → links of a piece's page: {"prev": href, "next": href}."""
    found = re.finditer(r'href="([^"]*)" rel="\w+" data-step="(\w+)"', html)
    return {step: href for href, step in (m.groups() for m in found)}


def test_stepping_skips_what_the_gallery_does_not_show(owner: User, owner_client: Client) -> None:
    # Found in a reread: → led into the Trash (a 404 page) and to a try an automatic retry
    # replaced, which the gallery stacks under its retry.
    start = timezone.now() - timedelta(hours=1)
    oldest, replaced, trashed, newest = (
        job(owner, f"piece {n}", created_at=start + timedelta(minutes=n)) for n in range(4)
    )
    Generation.objects.filter(pk=trashed.pk).update(deleted_at=timezone.now())
    retry = job(owner, "piece 1 again", auto_retry=1, created_at=start - timedelta(minutes=1))
    Generation.objects.filter(pk=replaced.pk).update(retried_as=retry)
    html = owner_client.get(newest.get_absolute_url()).content.decode()
    assert steps(html) == {"next": oldest.get_absolute_url()}
    html = owner_client.get(oldest.get_absolute_url()).content.decode()
    assert steps(html) == {"prev": newest.get_absolute_url(), "next": retry.get_absolute_url()}


def test_stepping_goes_through_the_search_filters_or_board_a_piece_was_opened_from(
    owner: User, teammate: User, owner_client: Client, django_assert_max_num_queries: Any
) -> None:
    from generations.models import Board

    start = timezone.now() - timedelta(hours=1)
    made = [
        job(who, prompt, created_at=start + timedelta(minutes=n))
        for n, (who, prompt) in enumerate(
            [(owner, "a cat asleep"), (teammate, "a dog"), (teammate, "a cat on a roof"),
             (owner, "a cat at sea"), (owner, "a dog at sea")]
        )
    ]  # fmt: skip
    asleep, _, roof, sea, dog_at_sea = made
    with django_assert_max_num_queries(8):
        html = owner_client.get(roof.get_absolute_url() + "?q=cat").content.decode()
    assert steps(html) == {
        "prev": sea.get_absolute_url() + "?q=cat",
        "next": asleep.get_absolute_url() + "?q=cat",
    }
    # The way back to the results, at the piece (found from outside: at the top of the grid).
    assert f'href="/gallery/?q=cat#card-{roof.uuid}" data-walk-back' in html
    html = owner_client.get(sea.get_absolute_url() + "?person=tariq").content.decode()
    assert steps(html) == {"next": roof.get_absolute_url() + "?person=tariq"}
    Star.objects.create(user=owner, generation=asleep)
    html = owner_client.get(dog_at_sea.get_absolute_url() + "?starred=on").content.decode()
    assert steps(html) == {"next": asleep.get_absolute_url() + "?starred=on"}
    board = Board.objects.create(name="Cats", created_by=owner)
    board.add([asleep, sea], owner)
    walk = f"?board={board.uuid}"
    html = owner_client.get(sea.get_absolute_url() + walk).content.decode()
    assert steps(html) == {"next": asleep.get_absolute_url() + walk}
    assert (
        f'href="{board.get_absolute_url()}#card-{sea.uuid}" data-walk-back>Back to “Cats”' in html
    )
    # A filter a hand changed into nonsense is left out, as the gallery leaves it out.
    for nonsense in ("?board=nope", "?since=someday", "?person=nobody", "?q=" + "x" * 500):
        answer = owner_client.get(roof.get_absolute_url() + nonsense)
        assert answer.status_code == 200, nonsense
        assert set(steps(answer.content.decode())) == {"prev", "next"}, nonsense
    # Nothing that narrows it: no way back to name (a review: "Back to the results" led to
    # the whole gallery).
    assert (
        "data-walk-back" not in owner_client.get(roof.get_absolute_url() + "?q=").content.decode()
    )


def test_a_long_running_job_shows_a_hint_and_its_owner_can_cancel_it(
    owner: User, teammate: User, owner_client: Client, settings: Any
) -> None:
    settings.LUMAWEB_STUCK_AFTER = 60
    slow = job(owner, "a slow one", state=State.PROCESSING,
               created_at=timezone.now() - timedelta(minutes=5))  # fmt: skip
    cancel = reverse("generation-cancel", args=[slow.uuid])
    card = card_html(gallery(owner_client), slow)
    assert "Taking longer than usual" in card
    assert cancel in card
    other = Client()
    other.force_login(teammate)
    assert cancel not in card_html(gallery(other), slow)
    # Found from outside: its own page offered no Cancel.
    assert f'action="{cancel}"' in owner_client.get(slow.get_absolute_url()).content.decode()
    assert cancel not in other.get(slow.get_absolute_url()).content.decode()
    done = owner_client.post(cancel, {"next": slow.get_absolute_url()})
    assert done["Location"] == slow.get_absolute_url()
    Generation.objects.filter(pk=slow.pk).update(state=State.PROCESSING, failure_code="")
    assert other.post(cancel).status_code == 403
    answer = owner_client.post(cancel, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert "Cancelled" in answer.content.decode()
    assert "data-poll" not in answer.content.decode()
    slow.refresh_from_db()
    assert (slow.state, slow.failure_code) == (State.FAILED, "cancelled")
    assert slow.retried_as is None, "a cancelled job is never retried automatically"
    # Found by a review: the studio's own words were credited to the upstream.
    words = owner_client.get(slow.get_absolute_url()).content.decode()
    assert "Cancelled by olivia: stopped waiting for Luma Agents API" in words
    assert "said: Cancelled" not in words


def test_automatic_retries_are_stacked_into_one_card(owner: User, owner_client: Client) -> None:
    first = job(owner, "a harbour", state=State.FAILED, failure_code="generation_failed")
    second = job(owner, "a harbour", state=State.FAILED, failure_code="generation_failed",
                 parent=first, lineage="retry", auto_retry=1)  # fmt: skip
    third = job(owner, "a harbour", parent=second, lineage="retry", auto_retry=2)
    Generation.objects.filter(pk=first.pk).update(retried_as=second)
    Generation.objects.filter(pk=second.pk).update(retried_as=third)
    admin_retry = job(owner, "a lighthouse", state=State.FAILED, failure_code="generation_failed")
    Generation.objects.filter(pk=admin_retry.pk).update(
        retried_as=job(owner, "a lighthouse", parent=admin_retry, lineage="retry")
    )
    html = gallery(owner_client)
    assert f'id="card-{first.uuid}"' not in html
    assert f'id="card-{second.uuid}"' not in html
    card = card_html(html, third)
    assert "Automatic retry 2" in card
    assert f'href="{second.get_absolute_url()}">the earlier try</a> failed' in card
    assert "failed (the model failed this time)" in card
    Generation.objects.filter(pk=second.pk).update(failure_code="upstream_lost")
    card = card_html(gallery(owner_client), third)
    assert "failed (Luma Agents API forgot this job)" in card, "a name keeps its capitals"
    assert f'id="card-{admin_retry.uuid}"' in html, "a retry by a person is not stacked"


def test_an_edit_is_shown_beside_its_source(owner: User, owner_client: Client) -> None:
    source = job(owner, "a red door", upstream_id="0f8e4c7e-0000-4000-8000-000000000001")
    edit = job(owner, "the door, blue", kind="image_edit", parent=source, lineage="edit",
               request={"prompt": "the door, blue", "type": "image_edit",
                        "source": {"generation_id": source.upstream_id}})  # fmt: skip
    html = owner_client.get(edit.get_absolute_url()).content.decode()
    compared = html[html.index('<div class="compare">') :]
    assert "<figcaption>Source</figcaption>" in compared
    assert source.outputs.get().url in compared
    assert "<figcaption>Result</figcaption>" in compared
    assert edit.outputs.get().url in compared
    plain = owner_client.get(source.get_absolute_url()).content.decode()
    assert '<div class="compare">' not in plain


def test_a_shared_card_drops_the_templates_indentation_not_the_prompts(
    owner: User, owner_client: Client
) -> None:
    prompt = "line one\n    indented line two > < & done"
    generation = job(owner, prompt)
    html = owner_client.get(reverse("gallery")).content.decode()
    card = html[html.index(f'<article class="card card--completed" id="card-{generation.uuid}"') :]
    card = card[: card.index("</article>")]
    assert re.search(r">\n?[ \t]+<|>\n\n", card) is None  # a page a tenth lighter
    assert 'title="line one\n    indented line two &gt; &lt; &amp; done"' in card
    assert "data-copy>Copy prompt" in card  # copies the title's full prompt (gallery.js)


def test_a_page_of_cached_cards_asks_the_static_manifest_for_the_icons_once(
    owner: User, owner_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(5):
        job(owner, f"piece {n}")
    owner_client.get(reverse("gallery"))  # the cards are cached
    asked: list[str] = []

    class Counting:
        def url(self, name: str) -> str:
            asked.append(name)
            return staticfiles_storage.url(name)

    monkeypatch.setattr("generations.cards.staticfiles_storage", Counting())
    owner_client.get(reverse("gallery") + "?again=1")
    assert asked.count("img/icons.svg") <= 1  # the page's star forms, not each card's key


# --- a shared card's links lead back to the page it was shown on ---


def boards_link(html: str, generation: Generation) -> str:
    found = re.search(r'href="(/g/[^"]+/boards\?next=[^"]*)"', card_html(html, generation))
    assert found, "the card has no Boards… link"
    return found.group(1)


def test_a_cards_boards_link_returns_to_the_page_it_was_shown_on(
    owner: User, owner_client: Client
) -> None:
    shown = job(owner)
    html = owner_client.get("/gallery/?kind=image&q=lighthouse").content.decode()
    assert boards_link(html, shown).endswith("?next=/gallery/%3Fkind%3Dimage%26q%3Dlighthouse")
    # The same shared card on another page leads back there.
    assert boards_link(gallery(owner_client), shown).endswith("?next=/gallery/")


def test_cards_of_results_the_filters_swap_in_return_to_those_results(
    owner: User, owner_client: Client
) -> None:
    # Found from outside: after a search typed on the page (no reload), each card's Boards…
    # led back to the page as it was before the search; the swap moves the page to its own
    # address (the filters push it).
    shown = job(owner)
    html = owner_client.get(
        "/gallery/?q=lighthouse",
        headers={
            "HX-Request": "true",
            "HX-Target": "gallery-results",
            "HX-Current-URL": "http://testserver/gallery/",
        },
    ).content.decode()
    assert boards_link(html, shown).endswith("?next=/gallery/%3Fq%3Dlighthouse")


def test_a_card_swapped_in_by_the_poll_returns_to_the_page_not_to_the_poll(
    owner: User, owner_client: Client
) -> None:
    running = job(owner, state=State.PROCESSING)
    Generation.objects.filter(pk=running.pk).update(state=State.FAILED)
    page = "http://testserver/gallery/?state=active"
    response = owner_client.get(
        reverse("poll"),
        {"seen": f"{running.uuid}:processing"},
        headers={"HX-Request": "true", "HX-Current-URL": page},
    )
    html = response.content.decode()
    assert boards_link(html, running).endswith("?next=/gallery/%3Fstate%3Dactive")
    assert 'name="next" value="/gallery/?state=active"' in card_html(html, running)


@pytest.mark.parametrize("away", ["https://evil.example/", "javascript:alert(1)", "//evil.example"])
def test_the_boards_page_never_leads_off_the_site(
    owner: User, owner_client: Client, away: str
) -> None:
    shown = job(owner)
    html = owner_client.get(reverse("generation-boards", args=[shown.uuid]), {"next": away})
    page = html.content.decode()
    assert "evil.example" not in page
    assert "javascript:" not in page
    assert f'href="{shown.get_absolute_url()}">Cancel' in page


# --- a page read while its jobs change (cards.page_cards reads values, then changed jobs) ---


@contextmanager
def after_the_page_query(change: Callable[[], None]) -> Iterator[None]:
    """Run `change` once, right after the gallery's first query of cards (the values one)."""
    done = False

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal done
        result = execute(sql, params, many, context)
        if not done and '"generations_output"' in sql:  # the values query came just before
            done = True
            change()
        return result

    with connection.execute_wrapper(wrapper):
        yield
    assert done


def test_a_job_finishing_while_its_page_is_read_shows_its_outputs(
    owner: User, owner_client: Client
) -> None:
    job(owner, "already done")  # a finished card, so that the outputs query runs
    running = job(owner, "finishing now", state=State.PROCESSING)

    def finish() -> None:
        Generation.objects.filter(pk=running.pk).update(state=State.COMPLETED)
        running.outputs.create(
            index=0, kind="image", url="https://cdn.test/just-done.png?sig=1",
            url_expires_at=timezone.now() + timedelta(hours=1),
        )  # fmt: skip

    with after_the_page_query(finish):
        html = gallery(owner_client)
    assert "https://cdn.test/just-done.png" in card_html(html, running)


def test_a_job_deleted_while_its_page_is_read_leaves_the_way_to_older_pages(
    owner: User, owner_client: Client
) -> None:
    jobs = [job(owner, f"piece {n}") for n in range(PAGE_SIZE + 2)]
    gone = jobs[-1]  # the newest

    with after_the_page_query(lambda: Generation.objects.filter(pk=gone.pk).delete()):
        html = gallery(owner_client)
    assert f"card-{gone.uuid}" not in html
    assert 'hx-trigger="revealed, click"' in html  # older pieces are still there to load
