"""The page's single poll in Chromium: one request per interval whatever the running cards."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, Request, expect

from generations.models import Generation, State
from tests.conftest import log_in

pytestmark = [pytest.mark.system, pytest.mark.browser]


def running(user: User, prompt: str) -> Generation:
    return Generation.objects.create(
        created_by=user, kind="image", model="uni-1", prompt=prompt,
        request={"prompt": prompt}, state=State.PROCESSING,
    )  # fmt: skip


def test_a_page_with_many_running_cards_polls_once_a_second_for_all_of_them(
    page: Page, live_app: str, owner: User
) -> None:
    jobs = [running(owner, f"A kettle, number {n}") for n in range(8)]
    polls: list[Request] = []
    card_requests: list[str] = []

    def record(request: Request) -> None:
        path = urlsplit(request.url).path
        if path == "/poll":
            polls.append(request)
        elif path.startswith("/g/"):
            card_requests.append(request.url)

    page.on("request", record)
    log_in(page, owner)
    page.goto("/gallery/")
    expect(page.locator("[data-card][data-poll]")).to_have_count(8)
    polls.clear()
    started = time.monotonic()
    deadline = started + 30
    while len(polls) < 4 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    window = time.monotonic() - started
    assert len(polls) >= 4, "the page polls every second"
    # htmx's `every 1s`: one request per second for the page (the window is at least 3 s).
    assert len(polls) <= int(window) + 1, (len(polls), window)
    assert card_requests == [], "no card polls on its own"
    watched = parse_qs(urlsplit(polls[-1].url).query)["seen"][0].split(",")
    assert sorted(watched) == sorted(f"{job.uuid}:processing" for job in jobs)

    Generation.objects.filter(pk=jobs[3].pk).update(
        state=State.FAILED, failure_code="content_moderated"
    )
    card = page.locator(f"#card-{jobs[3].uuid}")
    expect(card).to_have_attribute("data-state", "failed", timeout=10_000)
    expect(card).to_contain_text("Blocked by content moderation")
    expect(page.locator("[data-card][data-poll]")).to_have_count(7)

    Generation.objects.filter(state=State.PROCESSING).update(state=State.FAILED)
    expect(page.locator("[data-card][data-poll]")).to_have_count(0, timeout=10_000)
    quiet = len(polls)
    page.wait_for_timeout(2_500)  # a window in which a poller would have fired twice
    assert len(polls) == quiet, "nothing left to watch: no request"


def test_a_running_jobs_detail_page_reloads_once_when_it_finishes(
    page: Page, live_app: str, owner: User
) -> None:
    job = running(owner, "A lighthouse through the storm")
    log_in(page, owner)
    page.goto(job.get_absolute_url())
    expect(page.locator(".detail__info .badge")).to_have_text("Generating")
    with page.expect_request(lambda r: urlsplit(r.url).path == "/poll"):
        pass
    Generation.objects.filter(pk=job.pk).update(
        state=State.FAILED, failure_code="content_moderated"
    )
    expect(page.locator(".detail__info .badge")).to_have_text("Failed", timeout=10_000)
    expect(page.locator("[data-poll-page]")).to_have_count(0)


def test_a_page_watching_more_cards_than_an_address_holds_takes_them_in_turns(
    page: Page, live_app: str, owner: User
) -> None:
    """Found from outside (an attacker's read of the poll): a page watching about 80 running
    cards or more sent a poll address past gunicorn's 4 KB request line, which answered every
    poll with its raw 414, and nothing on the page moved again. A poll names at most 60; a page
    watching more takes them in turns, still one poll a second."""
    jobs = [running(owner, f"A teapot, number {n}") for n in range(100)]
    polls: list[Request] = []
    page.on("request", lambda r: polls.append(r) if urlsplit(r.url).path == "/poll" else None)
    log_in(page, owner)
    page.goto("/gallery/")
    cards = page.locator("[data-card][data-poll]")
    deadline = time.monotonic() + 60
    while cards.count() < 100 and time.monotonic() < deadline:  # the next pages, as scrolled
        page.mouse.wheel(0, 20_000)
        page.wait_for_timeout(200)
    expect(cards).to_have_count(100)
    polls.clear()
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while len(seen) < 100 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        for poll in list(polls):
            assert len(f"GET {urlsplit(poll.url).path}?{urlsplit(poll.url).query} HTTP/1.1") < 4094
            watched = parse_qs(urlsplit(poll.url).query)["seen"][0].split(",")
            assert len(watched) <= 60
            seen.update(entry.partition(":")[0] for entry in watched)
    assert seen == {str(job.uuid) for job in jobs}
