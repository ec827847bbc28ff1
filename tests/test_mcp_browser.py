"""The Agent tokens page in Chromium: make a token, see it once, revoke it, at phone and desk
widths; the gallery shows which jobs an agent started."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, expect

from generations.mcp.tokens import check_token, issue_token
from generations.models import AccessToken, Via
from generations.providers.agents import schema
from generations.tasks import start_generation
from tests.conftest import checked_page, log_in

pytestmark = [pytest.mark.system, pytest.mark.browser]


# Whether `text` is on the clipboard within 30 s (a copy is asynchronous).
ON_THE_CLIPBOARD = """async (text) => {
  for (let tries = 0; tries < 300; tries++) {
    if (await navigator.clipboard.readText() === text) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}"""


@pytest.mark.parametrize(("width", "name"), [(1280, "desktop"), (390, "phone")])
def test_a_token_is_made_shown_once_and_revoked_on_the_page(
    browser: Browser, live_app: str, staff: User, owner: User, tmp_path: Path, width: int, name: str
) -> None:
    """Screenshots for people to look at (SCREENSHOT_DIR); the test checks nothing spills over."""
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    issue_token(owner, "Olivia's Claude Desktop")
    long_name = "buildbox" * 10  # found from outside: one long word widened a phone's page
    issue_token(owner, long_name)
    start_generation(
        owner, schema.GenerationRequest(prompt="a harbour at night, made by an agent"), via=Via.MCP
    )
    with checked_page(browser, live_app) as page:
        page.set_viewport_size({"width": width, "height": 900 if width > 800 else 844})
        log_in(page, staff)
        page.get_by_role("link", name="Agent tokens").click()
        page.get_by_label("Name").fill("Claude Code on the build box")
        page.get_by_role("button", name="Make token").click()
        shown = page.locator("#new-token")
        expect(shown).to_be_visible()
        token = shown.inner_text()
        # Found from outside: there was no Copy. It puts the token on the clipboard.
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.get_by_role("button", name="Copy", exact=True).click()
        assert page.evaluate(ON_THE_CLIPBOARD, token)
        record = check_token(token)
        assert record is not None
        assert record.user == staff
        page.screenshot(path=str(shots / f"tokens-new-{name}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the Agent tokens page is {overflow}px wider than a {width}px screen"
        page.goto("/tokens/")
        expect(page.locator("#new-token")).to_have_count(0)
        # Found from outside: one click revoked a token, with nothing asked. It asks once.
        page.get_by_role("group").filter(has_text=long_name).get_by_text("Revoke…").click()
        expect(page.get_by_text(f"Whatever uses “{long_name}” stops")).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"revoking a long name is {overflow}px wider than a {width}px screen"
        page.get_by_label("Revoke Olivia's Claude Desktop…").click()
        expect(
            page.get_by_text("Whatever uses “Olivia's Claude Desktop” stops at once")
        ).to_be_visible()
        assert AccessToken.objects.get(name="Olivia's Claude Desktop").revoked_at is None
        page.screenshot(path=str(shots / f"tokens-revoking-{name}.png"), full_page=True)
        # Review: the name said aloud holds the words shown ("Revoke it"), for voice control.
        page.get_by_role("button", name="Revoke it: Olivia's Claude Desktop").click()
        expect(page.get_by_text("Revoked “Olivia's Claude Desktop”")).to_be_visible()
        page.screenshot(path=str(shots / f"tokens-revoked-{name}.png"), full_page=True)
        page.goto("/gallery/")
        expect(page.locator(".card__via")).to_have_text("via MCP")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the gallery is {overflow}px wider than a {width}px screen"
        page.screenshot(path=str(shots / f"gallery-via-mcp-{name}.png"))
    assert AccessToken.objects.get(name="Olivia's Claude Desktop").revoked_by == staff
    assert check_token(token) is not None
