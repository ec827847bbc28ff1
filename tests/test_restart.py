"""The web server dies and comes back while a page polls: the page recovers without a reload.

The server is gunicorn in its own process, as in production, on the test database; the page
keeps polling through the outage, says the connection is lost, and carries on once it is back.
"""

import re
import signal
import subprocess
import sys
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Request, Response, Route, expect

from generations.models import Generation
from generations.providers.agents import schema
from generations.tasks import start_generation
from tests.conftest import ROOT, Processes, app_env, checked_page, free_port, log_in

pytestmark = [pytest.mark.system, pytest.mark.browser]


class Outage:
    """While the server cannot be reached, each failed request is a console error (Chromium's,
    and htmx's own): expected then, and only then; anything else still fails the test."""

    EXPECTED = re.compile(
        r"net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE)"  # the server is gone
        r"|status of 502 \(Bad Gateway\)|Response Status Error Code 502"  # a proxy says so
        r"|^htmx:(sendError|afterRequest)"
    )

    def __init__(self) -> None:
        self.on = False
        self.seen: list[str] = []

    def tolerated(self, text: str) -> bool:
        if self.on and self.EXPECTED.search(text):
            self.seen.append(text)
            return True
        return False


@pytest.fixture
def start_web(
    live_app: str, settings, processes: Processes, tmp_path
) -> Callable[[int], subprocess.Popen[bytes]]:
    """Start gunicorn on a port, serving the test database, its static files collected as on a
    deploy; the worker's upstream (the simulator) stays on `live_app` throughout."""
    env = {**app_env(settings), "STATIC_ROOT": str(tmp_path / "static")}
    collect = [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"]
    subprocess.run(collect, cwd=ROOT, env=env, check=True)  # noqa: S603

    def start(port: int) -> subprocess.Popen[bytes]:
        web = [
            sys.executable, "-m", "gunicorn", "lumaweb.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
        ]  # fmt: skip
        server = processes.start("gunicorn", web, env)
        processes.wait_until_serving(server, f"http://127.0.0.1:{port}/healthz")
        return server

    return start


# The page polls `/poll?seen=<uuid>:<state>,…` for its running cards: 204 while they stay in
# those states, 200 with the cards that moved.
ANSWERED = (200, 204)


def card_poll(generation: Generation, url: str) -> bool:
    parts = urlsplit(url)
    return parts.path == "/poll" and str(generation.uuid) in parts.query


def polled(generation: Generation, statuses: tuple[int, ...]) -> Callable[[Response], bool]:
    """A poll of the job's card, answered with one of `statuses`."""
    return lambda response: card_poll(generation, response.url) and response.status in statuses


def unanswered(generation: Generation) -> Callable[[Request], bool]:
    """A poll of the job's card that got no answer at all."""
    return lambda request: card_poll(generation, request.url)


def unfinished_job(owner: User) -> Generation:
    """A job waiting for a worker: its card polls every second until one finishes it."""
    request = schema.GenerationRequest(prompt="A lighthouse through the storm")
    return start_generation(owner, request)[0]


def test_a_page_polling_through_a_web_server_restart_recovers_without_a_reload(
    browser: Browser,
    start_web,
    processes: Processes,
    owner: User,
    request: pytest.FixtureRequest,
) -> None:
    port = free_port()
    server = start_web(port)
    generation = unfinished_job(owner)
    outage = Outage()
    with checked_page(browser, f"http://127.0.0.1:{port}", outage.tolerated) as page:
        log_in(page, owner)
        page.evaluate("window.notReloaded = true")
        card = page.locator(f"#card-{generation.uuid}")
        note = page.locator("#connection-status")
        expect(card).to_have_attribute("data-state", "draft")
        with page.expect_response(polled(generation, ANSWERED)):
            pass
        expect(note).to_be_hidden()

        outage.on = True
        processes.stop(server, signal.SIGKILL)
        for _ in range(3):  # htmx goes on polling every second through the errors
            page.wait_for_event("requestfailed", unanswered(generation))
        expect(note).to_be_visible()
        expect(note).to_have_text("Connection lost. Reconnecting…")
        expect(card).to_have_attribute("data-state", "draft")  # as it was, not an error

        start_web(port)  # the same port, as a restarted service
        with page.expect_response(polled(generation, ANSWERED)):
            pass
        expect(note).to_be_hidden()
        outage.on = False

        request.getfixturevalue("worker_process")  # now a worker finishes the job
        expect(card).to_have_attribute("data-state", "completed", timeout=30_000)
        image = card.locator("img.media")
        expect(image).to_be_visible()
        # The card's frame gives the picture its box before it arrives: wait until it has loaded.
        expect(image).to_have_js_property("complete", True)
        expect(image).not_to_have_js_property("naturalWidth", 0)  # loaded, not broken
        assert page.evaluate("window.notReloaded") is True
    assert any("ERR_CONNECTION_REFUSED" in text for text in outage.seen), outage.seen


def test_a_proxy_answering_502_while_the_app_restarts_shows_the_note_not_its_error_page(
    browser: Browser, live_app: str, owner: User
) -> None:
    generation = unfinished_job(owner)
    outage = Outage()
    with checked_page(browser, live_app, outage.tolerated) as page:
        log_in(page, owner)
        card = page.locator(f"#card-{generation.uuid}")
        note = page.locator("#connection-status")
        expect(card).to_have_attribute("data-state", "draft")

        outage.on = True
        page.route("**/poll?*", bad_gateway)
        for _ in range(3):  # and polling goes on
            with page.expect_response(polled(generation, (502,))):
                pass
        expect(note).to_be_visible()
        expect(page.get_by_text("Bad Gateway")).to_have_count(0)
        expect(card).to_have_attribute("data-state", "draft")

        page.unroute("**/poll?*")
        with page.expect_response(polled(generation, ANSWERED)):
            pass
        expect(note).to_be_hidden()
        outage.on = False


def bad_gateway(route: Route) -> None:
    """What nginx answers while gunicorn is down behind it."""
    route.fulfill(status=502, content_type="text/html", body="<h1>502 Bad Gateway</h1>")
