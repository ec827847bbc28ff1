"""A person in a real browser: log in, submit a prompt, watch the card finish without reloading."""

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from generations.models import Generation
from tests.conftest import log_in

pytestmark = [pytest.mark.system, pytest.mark.browser, pytest.mark.usefixtures("worker_process")]


def test_a_prompt_becomes_a_finished_image_without_a_reload(page: Page, owner: User) -> None:
    log_in(page, owner)
    page.evaluate("window.notReloaded = true")
    page.fill("textarea[name=prompt]", "A lighthouse on a cliff at dusk")
    # Found from outside (a creative): an emoji counted as two, as the studio does not count it.
    page.fill("textarea[name=prompt]", "\N{FOX FACE}" * 3100)
    expect(page.locator("[data-counter-for]")).to_have_text("3100 / 6000")
    expect(page.locator("[data-counter-for]")).not_to_have_class("counter--over")
    page.fill("textarea[name=prompt]", "A lighthouse on a cliff at dusk")
    expect(page.locator("[data-counter-for]")).to_have_text("31 / 6000")
    page.click("button:has-text('Generate')")
    card = page.locator(".card").first
    expect(card).to_contain_text("A lighthouse on a cliff at dusk")
    # The form keeps what was sent, ready for another take.
    expect(page.locator("textarea[name=prompt]")).to_have_value("A lighthouse on a cliff at dusk")
    image = card.locator("img.media")
    expect(image).to_be_visible(timeout=30_000)
    expect(card).to_have_attribute("data-state", "completed")  # finished cards carry no badge
    # The card's frame gives the picture its box before it arrives: wait until it has loaded.
    expect(image).to_have_js_property("complete", True)
    expect(image).not_to_have_js_property("naturalWidth", 0)  # loaded, not broken
    assert page.evaluate("window.notReloaded") is True


def test_a_failed_job_explains_itself_on_the_card(page: Page, owner: User) -> None:
    log_in(page, owner)
    page.fill("textarea[name=prompt]", "something forbidden [fail:content_moderated]")
    page.click("button:has-text('Generate')")
    card = page.locator(".card").first
    expect(card).to_contain_text("Blocked by content moderation", timeout=30_000)
    expect(card.locator(".badge")).to_have_text("Failed")


def test_an_empty_prompt_is_refused_in_place(page: Page, owner: User) -> None:
    log_in(page, owner)
    page.click("button:has-text('Generate')")
    expect(page.locator("#id_prompt_error")).to_have_text("Write a prompt.")
    expect(page.locator(".card")).to_have_count(0)


def test_a_failed_job_becomes_its_automatic_retry_without_a_reload(page: Page, owner: User) -> None:
    """Found from outside (a team's admin): a failed card never showed its automatic retry; a
    page loaded later did (the gallery stacks a job under its retry)."""
    log_in(page, owner)
    page.evaluate("window.notReloaded = true")
    page.fill("textarea[name=prompt]", "a moth near a lamp [fail:generation_failed]")
    page.click("button:has-text('Generate')")
    expect(page.locator(".card").first).to_contain_text("Automatic retry 1", timeout=30_000)
    first, retry = Generation.objects.order_by("id")[:2]
    assert first.retried_as_id == retry.pk
    expect(page.locator(f"#card-{first.uuid}")).to_have_count(0)
    expect(page.locator(f"#card-{retry.uuid}")).to_have_attribute("data-poll", re.compile(".+"))
    assert page.evaluate("window.notReloaded") is True
