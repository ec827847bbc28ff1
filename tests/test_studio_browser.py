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


@pytest.fixture
def picture(tmp_path) -> str:
    import io

    from PIL import Image

    path = tmp_path / "sketch.png"
    buffer = io.BytesIO()
    Image.new("RGB", (120, 90), "purple").save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return str(path)


def checked_after(page: Page, action) -> None:  # type: ignore[no-untyped-def]
    """Do something that changes the form and wait for the options check it starts."""
    with page.expect_response("**/create/options"):
        action()


def test_ten_seconds_turns_loop_off_and_says_so(page: Page, owner: User) -> None:
    log_in(page, owner)
    page.goto("/?mode=video")
    checked_after(page, lambda: page.check("input[name=loop]"))
    checked_after(page, lambda: page.select_option("select[name=duration]", "10s"))
    notice = page.locator(".rules-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Seamless loop is off")
    expect(notice).to_contain_text("10-second")
    expect(page.locator("input[name=loop]")).not_to_be_checked()


def test_a_start_frame_with_keyframes_is_flagged_before_generate(
    page: Page, owner: User, picture: str
) -> None:
    log_in(page, owner)
    page.goto("/?mode=video")
    checked_after(page, lambda: page.set_input_files("input[name=start_frame]", picture))
    first_keyframe = page.locator("[data-row]").nth(0).locator("input[type=file]")
    checked_after(page, lambda: first_keyframe.set_input_files(picture))
    notice = page.locator(".rules-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Start frame")
    expect(notice).to_contain_text("keyframe")
    assert not Generation.objects.exists()


def test_a_start_frame_with_hdr_is_flagged_before_generate(
    page: Page, owner: User, picture: str
) -> None:
    log_in(page, owner)
    page.goto("/?mode=video")
    checked_after(page, lambda: page.set_input_files("input[name=start_frame]", picture))
    checked_after(page, lambda: page.check("input[name=hdr]"))
    notice = page.locator(".rules-notice")
    expect(notice).to_contain_text("HDR")
    expect(page.locator("input[name=hdr]")).to_be_checked()


def described_by(page: Page, selector: str) -> str:
    """The text of the elements a control's aria-describedby names (all must exist)."""
    return page.eval_on_selector(
        selector,
        """control => (control.getAttribute('aria-describedby') || '').split(' ').filter(Boolean)
            .map(id => { const found = document.getElementById(id);
                if (!found) throw new Error('no element #' + id); return found.textContent; })
            .join(' ')""",
    )


def test_a_refused_prompt_is_announced_focused_and_outlined(page: Page, owner: User) -> None:
    log_in(page, owner)
    expect(page.locator("h1")).to_have_count(1)
    labelled = page.locator("section.create").get_attribute("aria-labelledby")
    expect(page.locator(f"#{labelled}")).to_have_count(1)
    page.click("button:has-text('Generate')")
    prompt = page.locator("textarea[name=prompt]")
    expect(prompt).to_have_attribute("aria-invalid", "true")
    expect(prompt).to_be_focused()
    assert "prompt" in described_by(page, "textarea[name=prompt]").lower()
    bad = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--bad')")
    red = page.evaluate(
        """colour => { const probe = document.createElement('i'); probe.style.color = colour;
            document.body.append(probe); return getComputedStyle(probe).color; }""",
        bad.strip(),
    )
    assert prompt.evaluate("el => getComputedStyle(el).outlineColor") == red


def test_a_refused_source_names_its_message(page: Page, owner: User, tmp_path) -> None:
    fake = tmp_path / "fake.png"
    fake.write_text("not really a picture")
    log_in(page, owner)
    page.goto("/?mode=layering")
    page.set_input_files("input[name=source]", str(fake))
    page.click("button:has-text('Generate')")
    source = page.locator("input[name=source]")
    expect(source).to_have_attribute("aria-invalid", "true")
    expect(source).to_be_focused()
    assert "not an image" in described_by(page, "input[name=source]")


def test_the_reframe_rectangle_is_four_labelled_numbers(page: Page, owner: User) -> None:
    log_in(page, owner)
    page.goto("/?mode=video_reframe")
    expect(page.get_by_role("slider")).to_have_count(0)
    for name in ("Left edge", "Top edge", "Width", "Height"):
        expect(page.get_by_role("spinbutton", name=name)).to_be_visible()
    page.get_by_role("spinbutton", name="Left edge").fill("0.25")
    rect = page.locator("[data-rect]")
    canvas = page.locator("[data-canvas]").bounding_box()
    box = rect.bounding_box()
    assert canvas is not None
    assert box is not None
    assert box["x"] - canvas["x"] == pytest.approx(canvas["width"] * 0.25, abs=3)
