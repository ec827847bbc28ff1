"""The studio form's UI as a person meets it: keyframe rows, the upload bar, rules checked while
editing, accessibility of errors, the gallery picker, the reframe editor and the mode tabs."""

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from generations.models import Generation, State
from tests.conftest import log_in

pytestmark = [pytest.mark.system, pytest.mark.browser]


def finished(owner: User, prompt: str, kind: str = "image", **fields: object) -> Generation:
    """A finished piece of the Agents API, pickable in a slot."""
    return Generation.objects.create(
        created_by=owner, kind=kind, model="uni-1", prompt=prompt, request={"prompt": prompt},
        state=State.COMPLETED, upstream_id=f"up-{prompt[:20]}-{Generation.objects.count()}",
        provider="agents", **fields,
    )  # fmt: skip


def test_an_added_keyframe_row_offers_the_gallery(page: Page, owner: User) -> None:
    piece = finished(owner, "a lighthouse at dusk")
    log_in(page, owner)
    page.goto("/?mode=video")
    page.click("button:has-text('Add keyframe')")
    added = page.locator("[data-row]").nth(2)
    pick = added.locator("select[name='kf-2-pick']")
    expect(pick.locator("option")).to_have_count(2)
    expect(pick.locator(f"option[value='{piece.uuid}']")).to_have_count(1)


def test_the_upload_bar_stays_hidden_when_only_an_option_changes(page: Page, owner: User) -> None:
    log_in(page, owner)
    with page.expect_response("**/create/options"):
        page.select_option("select[name=aspect_ratio]", "1:1")
    expect(page.locator("select[name=aspect_ratio]")).to_have_value("1:1")
    bar = page.locator(".upload-progress")
    expect(bar).to_be_hidden()
    assert bar.evaluate("bar => bar.value") == 0
