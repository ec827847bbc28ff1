"""A staff member clears a failure in a real browser; someone else cannot get near the tools."""

import re
import time
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from generations.models import Generation
from generations.providers.agents import schema
from generations.tasks import start_generation
from tests.conftest import log_in, terminal
from tests.factories import sim_fault

pytestmark = [pytest.mark.system, pytest.mark.browser]


def wait_for(condition: Callable[[], bool], timeout: float = 300.0) -> None:
    """Wait for the worker process to get somewhere (a deadline, not a measurement)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.1)


def start(user: User, prompt: str) -> Generation:
    generation, _ = start_generation(user, schema.GenerationRequest(prompt=prompt))
    return generation


@pytest.mark.usefixtures("worker_process")
def test_staff_find_a_failed_job_read_why_retry_it_and_see_the_retry_finish(
    page: Page, staff: User, owner: User, teammate: User
) -> None:
    # The account is out of credit for one request: Luma refuses it with a 402.
    sim_fault("402", method="POST", path="/generations")
    broke = start(owner, "a lighthouse on a cliff at dusk")
    wait_for(terminal(broke))
    flagged = start(teammate, "something forbidden [fail:content_moderated]")
    wait_for(terminal(flagged))
    assert (broke.failure_code, flagged.failure_code) == ("budget_exhausted", "content_moderated")

    log_in(page, staff)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Review").click()
    group = page.locator("#code-budget_exhausted")
    expect(group).to_contain_text("Out of credit")
    expect(group).to_contain_text("Top up the Luma Agents API account")
    expect(page.locator("#code-content_moderated")).to_contain_text("never retried automatically")

    # In the admin, the filters narrow the list down to the one job.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    page.locator("tr.model-generation").get_by_role("link", name="Generations").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    filters = page.locator("#changelist-filter")
    filters.get_by_role("link", name="Out of credit (budget_exhausted)").click()
    filters.get_by_role("link", name="Needs review").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("olivia")
    rows.get_by_role("link", name="a lighthouse on a cliff at dusk").click()

    explanation = page.locator(".field-explanation")
    expect(explanation).to_contain_text("Out of credit")
    expect(explanation).to_contain_text("Suggested fix: Top up the Luma Agents API account")
    expect(page.locator(".field-review")).to_contain_text("Not reviewed.")
    page.get_by_role("button", name="Retry", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("Retry sent.")
    expect(page.locator(".field-review")).to_contain_text("Reviewed by sam")
    expect(page.get_by_role("button", name="Retry", exact=True)).to_have_count(0)

    # The retry runs in the studio, live, and finishes with a picture.
    page.get_by_role("link", name="Watch the retry").click()
    expect(page.locator(".detail")).to_contain_text("Retry of")
    expect(page.locator("#detail-media img")).to_be_visible(timeout=30_000)

    page.goto("/review/")
    expect(page.locator("#code-budget_exhausted")).to_have_count(0)
    reviewed = page.locator(f"#reviewed-{broke.uuid}")
    expect(reviewed).to_contain_text("Retried by an admin: Completed")
    expect(reviewed).to_contain_text("Reviewed by sam")


def test_a_staff_member_marks_a_failure_reviewed_in_place(page: Page, staff: User) -> None:
    job = Generation.objects.create(
        created_by=staff,
        kind="image",
        model="uni-1",
        prompt="a harbour [fail:invalid_request]",
        request={"prompt": "a harbour [fail:invalid_request]"},
        state="failed",
        failure_code="invalid_request",
    )
    log_in(page, staff)
    page.goto("/review/")
    page.evaluate("window.notReloaded = true")
    summary = page.locator(".triage-head__summary")
    expect(summary).to_contain_text("1 failure to review")
    count = page.locator("#code-invalid_request .triage-count")
    expect(count).to_have_text("1")
    row = page.locator(f"#job-{job.uuid}")
    row.get_by_label("Review note").fill("Told Olivia about the aspect ratio.")
    row.get_by_role("button", name="Mark reviewed").click()
    expect(row).to_contain_text("Marked reviewed.")
    expect(row).to_contain_text("Told Olivia about the aspect ratio.")
    # Found from outside: the counts stayed as they were until a reload.
    expect(summary).to_contain_text("0 failures to review")
    expect(count).to_have_text("0")
    row.get_by_role("button", name="Reopen").click()
    expect(row).to_contain_text("Reopened.")
    expect(summary).to_contain_text("1 failure to review")
    expect(count).to_have_text("1")
    assert page.evaluate("window.notReloaded") is True


def test_someone_who_is_not_staff_cannot_reach_the_admin_or_the_triage_page(
    page: Page, owner: User
) -> None:
    log_in(page, owner)
    expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("Review")
    # Through the page's own cookies, without a navigation that would log the 403 as an error.
    assert page.request.get("/review/").status == 403
    page.goto("/admin/generations/generation/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    expect(page.locator(".errornote")).to_contain_text("not authorized to access this page")
