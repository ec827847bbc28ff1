"""Cached pages are never older than the data they show (generations/pagecache.py).

These run against SQLite here and against PostgreSQL in the scale-out pass, where the counter is
bumped by a deferred trigger at commit.
"""

import re

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from generations.models import Generation, State
from generations.pagecache import change_count
from tests.test_gallery import make

# Transactional: on PostgreSQL the counter moves when a transaction commits, as every request does.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def counter_row() -> None:
    """The flush between transactional tests empties the counter's table; put its row back
    before counting anyone's queries (the app would, on the first read)."""
    change_count()


def browser(user: User) -> Client:
    """A logged-in client holding a CSRF cookie, as any browser does after its first page."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("gallery"))
    return client


def htmx_token(page: str) -> str:
    """The CSRF token a page hands htmx (`<body hx-headers>`)."""
    return re.findall(r'"X-CSRFToken": "([^"]+)"', page)[0]


def queries(client: Client, url: str, **headers: str) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return response.content.decode(), len(captured)


def test_a_page_seen_again_is_served_from_memory_until_the_data_changes(owner: User) -> None:
    job = make(owner, "a lighthouse at dusk", state=State.PROCESSING)
    viewer = browser(owner)
    first, rendering = queries(viewer, reverse("gallery"))
    again, serving = queries(viewer, reverse("gallery"))
    assert again == first
    assert serving == 2 < rendering, "a hit reads the person and the change counter, no more"

    # A conditional update, as the worker's transitions do (no save(), no signal).
    Generation.objects.filter(pk=job.pk).update(state=State.COMPLETED, finished_at=timezone.now())
    after, _ = queries(viewer, reverse("gallery"))
    assert 'data-state="completed"' in after
    assert 'data-state="processing"' not in after


def test_every_write_a_page_shows_moves_the_counter_and_bookkeeping_does_not(
    owner: User, teammate: User
) -> None:
    job = make(owner, state=State.PROCESSING)
    seen = change_count()
    # The worker's poll bookkeeping, every two seconds per running job: no page shows it.
    Generation.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    assert job.claim_poll(2.0)
    assert change_count() == seen

    writes = [
        lambda: Generation.objects.filter(pk=job.pk).update(prompt="renamed"),
        lambda: job.stars.create(user=teammate),
        lambda: job.log("refreshed"),
        lambda: make(teammate),
        lambda: User.objects.filter(pk=teammate.pk).update(username="renamed-person"),
        lambda: Generation.objects.filter(pk=job.pk).delete(),
    ]
    for write in writes:
        write()
        assert change_count() > seen, write
        seen = change_count()


def test_stars_are_per_person_even_from_the_cache(owner: User, teammate: User) -> None:
    job = make(owner, "starred by one")
    mine, theirs = browser(owner), browser(teammate)
    for client in (mine, theirs):  # both cached
        queries(client, reverse("gallery"))
        queries(client, reverse("gallery"))
    page = mine.get(reverse("gallery")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    star = mine.post(
        reverse("generation-star", args=[job.uuid]), {"starred": "1", "csrfmiddlewaretoken": token}
    )
    assert star.status_code == 302
    assert "star--on" in mine.get(reverse("gallery")).content.decode()
    assert "star--on" not in theirs.get(reverse("gallery")).content.decode()


def test_a_cached_page_carries_a_csrf_token_for_its_own_browser(owner: User) -> None:
    make(owner)
    laptop, phone = browser(owner), browser(owner)  # one person, two browsers, two CSRF cookies
    for client in (laptop, phone, laptop, phone):
        page = client.get(reverse("gallery")).content.decode()
        answer = client.post(reverse("logout"), headers={"X-CSRFToken": htmx_token(page)})
        assert answer.status_code == 302, "the page's token must match this browser's cookie"
        client.force_login(owner)


def test_a_flash_message_is_shown_not_hidden_behind_a_cached_page(owner: User) -> None:
    job = make(owner, "to be deleted")
    viewer = browser(owner)
    queries(viewer, reverse("gallery"))
    queries(viewer, reverse("gallery"))
    page = viewer.get(reverse("gallery")).content.decode()
    viewer.post(
        reverse("generation-delete", args=[job.uuid]), headers={"X-CSRFToken": htmx_token(page)}
    )
    after = viewer.get(reverse("gallery")).content.decode()
    assert "Deleted." in after
    assert f"card-{job.uuid}" not in after
    assert "Deleted." not in viewer.get(reverse("gallery")).content.decode(), "shown once"


def test_the_studio_caches_its_gallery_but_never_its_form(owner: User) -> None:
    make(owner, "on the studio page")
    viewer = browser(owner)
    viewer.get(reverse("home"))
    pages = [viewer.get(reverse("home")).content.decode() for _ in range(2)]
    keys = {re.findall(r'name="idempotency_key" value="([^"]+)"', page)[0] for page in pages}
    assert len(keys) == 2, "one token per form"
    assert "on the studio page" in pages[1]


def test_the_page_cache_can_be_switched_off(owner: User, settings) -> None:
    settings.LUMAWEB_PAGE_CACHE_SECONDS = 0
    make(owner)
    viewer = browser(owner)
    _, first = queries(viewer, reverse("gallery"))
    _, second = queries(viewer, reverse("gallery"))
    assert second == first > 2


def test_a_detail_page_follows_its_job(owner: User) -> None:
    job = make(owner, "detailed", state=State.PROCESSING)
    viewer = browser(owner)
    queries(viewer, job.get_absolute_url())
    _, hit = queries(viewer, job.get_absolute_url())
    assert hit == 2
    with transaction.atomic():
        Generation.objects.filter(pk=job.pk).update(state=State.FAILED, failure_code="moderation")
    page, _ = queries(viewer, job.get_absolute_url())
    assert "placeholder--failed" in page


# --- the running card's poll ---


def card_url(job: Generation) -> str:
    return reverse("generation-card", args=[job.uuid])


def test_a_running_card_polls_with_its_state_and_an_unchanged_job_answers_204(
    owner_client: Client, owner: User
) -> None:
    job = make(owner, state=State.PROCESSING, submitted_at=timezone.now())
    html = owner_client.get(card_url(job), headers={"HX-Request": "true"}).content.decode()
    poll = re.search(r'hx-get="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert poll == f"{card_url(job)}?seen=processing"
    assert 'class="elapsed" data-since="' in html, "the browser ticks the clock"

    with CaptureQueriesContext(connection) as captured:
        unchanged = owner_client.get(poll, headers={"HX-Request": "true"})
    assert unchanged.status_code == 204
    assert unchanged.content == b""
    assert len(captured) == 2, "the person and the job's state"

    Generation.objects.filter(pk=job.pk).update(state=State.COMPLETED, finished_at=timezone.now())
    changed = owner_client.get(poll, headers={"HX-Request": "true"})
    assert changed.status_code == 286, "the finished card, and polling stops"
    assert 'data-state="completed"' in changed.content.decode()


@pytest.mark.parametrize("seen", ["completed", "nonsense", ""])
def test_a_poll_claiming_anything_but_the_current_running_state_gets_the_card(
    owner_client: Client, owner: User, seen: str
) -> None:
    job = make(owner, state=State.COMPLETED)
    answer = owner_client.get(f"{card_url(job)}?seen={seen}", headers={"HX-Request": "true"})
    assert answer.status_code == 286
    assert f'id="card-{job.uuid}"' in answer.content.decode()


def test_a_poll_for_an_unknown_job_is_a_404(owner_client: Client) -> None:
    url = reverse("generation-card", args=["0" * 8 + "-0000-0000-0000-" + "0" * 12])
    assert owner_client.get(f"{url}?seen=processing").status_code == 404
