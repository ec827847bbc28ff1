"""The studio form's UI as a person meets it: keyframe rows, the upload bar, rules checked while
editing, accessibility of errors, the gallery picker, the reframe editor and the mode tabs."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, Locator, Page, Route, expect

from generations.models import Generation, State
from tests.conftest import checked_page, log_in, log_out_and_in_elsewhere

pytestmark = [pytest.mark.system, pytest.mark.browser]


def finished(owner: User, prompt: str, kind: str = "image", **fields: object) -> Generation:
    """A finished piece of the Agents API, pickable in a slot, made earlier (so not among the
    jobs the submit limit counts)."""
    made = timezone.now() - timedelta(days=1) + timedelta(seconds=Generation.objects.count())
    return Generation.objects.create(
        created_at=made, created_by=owner, kind=kind, model="uni-1", prompt=prompt,
        request={"prompt": prompt},
        state=State.COMPLETED, upstream_id=str(uuid.uuid4()),
        provider="agents", **fields,
    )  # fmt: skip


def generate(page: Page) -> None:
    """Press Generate and wait until the job is made (the answer brings a new form token)."""
    token = page.locator("input[name=idempotency_key]")
    used = token.input_value()
    page.click("button:has-text('Generate')")
    expect(token).not_to_have_value(used)


def add_keyframe_row(page: Page, owner: User) -> Locator:
    """The video form's third keyframe row, added with "Add keyframe" (two are there at first)."""
    log_in(page, owner)
    page.goto("/?mode=video")
    page.click("button:has-text('Add keyframe')")
    return page.locator("[data-row]").nth(2)


def test_an_added_keyframe_row_offers_the_gallery(page: Page, owner: User) -> None:
    piece = finished(owner, "a lighthouse at dusk")
    added = add_keyframe_row(page, owner)
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
    expect(page.locator(".slot .field__error")).to_contain_text("not an image")
    source = page.locator("input[name=source]")
    expect(source).to_have_attribute("aria-invalid", "true")
    expect(source).to_be_focused()
    assert "not an image" in described_by(page, "input[name=source]")
    assert not Generation.objects.exists()


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


def test_the_picker_searches_the_whole_gallery_and_fills_the_slot(page: Page, owner: User) -> None:
    old = finished(owner, "a red lighthouse on a cliff")
    for number in range(65):  # more than the plain list's 60 and the picker's first page
        finished(owner, f"filler piece number {number}")
    log_in(page, owner)
    page.goto("/?mode=image_edit")
    slot = page.locator(".slot[data-slot=source]")
    expect(slot.locator("select[name=source_pick]")).to_be_hidden()
    slot.get_by_role("button", name="Pick from gallery").click()
    dialog = page.get_by_role("dialog", name="Choose from the gallery")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-pick]")).to_have_count(24)
    dialog.get_by_role("button", name="More").click()
    expect(dialog.locator("[data-pick]")).to_have_count(48)
    dialog.get_by_role("searchbox").fill("lighthouse")
    expect(dialog.locator("[data-pick]")).to_have_count(1)
    with page.expect_response("**/create/options"):
        dialog.locator("[data-pick]").click()
    expect(dialog).to_be_hidden()
    expect(slot.locator("select[name=source_pick]")).to_have_value(str(old.uuid))
    expect(slot.locator(".slot__preview")).to_contain_text("a red lighthouse")
    page.fill("textarea[name=prompt]", "make it night")
    generate(page)
    made = Generation.objects.get(prompt="make it night")
    assert made.request["source"]["generation_id"] == old.upstream_id


def test_several_references_are_picked_at_once(page: Page, owner: User) -> None:
    first, second = finished(owner, "a sketch of a fox"), finished(owner, "a sketch of a heron")
    log_in(page, owner)
    slot = page.locator(".slot[data-slot=image_ref]")
    slot.get_by_role("button", name="Choose from gallery").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="a sketch of a fox").click()
    dialog.get_by_role("button", name="a sketch of a heron").click()
    expect(dialog).to_contain_text("2 selected")
    dialog.get_by_role("button", name="Use selected").click()
    expect(slot.locator(".slot__chosen")).to_have_count(2)
    chosen = slot.locator("select[name=image_ref_pick]").evaluate(
        "select => Array.from(select.selectedOptions).map(o => o.value).sort()"
    )
    assert chosen == sorted([str(first.uuid), str(second.uuid)])
    page.fill("textarea[name=prompt]", "two birds")
    generate(page)
    made = Generation.objects.get(prompt="two birds")
    assert {ref["generation_id"] for ref in made.request["image_ref"]} == {
        first.upstream_id,
        second.upstream_id,
    }


DROP = """([slot, bytes, how]) => {
    const file = new File([new Uint8Array(bytes)], 'dropped.png', { type: 'image/png' });
    const data = new DataTransfer();
    data.items.add(file);
    const target = document.querySelector(slot);
    const how_ = { dataTransfer: data, bubbles: true, cancelable: true };
    if (how === 'drop') {
        target.dispatchEvent(new DragEvent('dragover', how_));
        target.dispatchEvent(new DragEvent('drop', how_));
    } else {
        target.querySelector('button').focus();
        document.activeElement.dispatchEvent(
            new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }
}"""


@pytest.mark.parametrize("how", ["drop", "paste"])
def test_a_file_dropped_or_pasted_on_a_slot_is_its_upload(
    page: Page, owner: User, picture: str, how: str
) -> None:
    log_in(page, owner)
    page.goto("/?mode=layering")
    data = list(open(picture, "rb").read())  # noqa: SIM115
    page.evaluate(DROP, [".slot[data-slot=source]", data, how])
    source = page.locator("input[name=source]")
    assert source.evaluate("input => input.files.length") == 1
    expect(page.locator(".slot[data-slot=source] .slot__preview")).to_contain_text("dropped.png")


def test_use_as_reference_opens_the_studio_with_the_piece_picked(page: Page, owner: User) -> None:
    piece = finished(owner, "a moth on bark")
    log_in(page, owner)
    page.goto(piece.get_absolute_url())
    page.get_by_role("link", name="Use as reference").click()
    slot = page.locator(".slot[data-slot=image_ref]")
    expect(slot.locator(".slot__preview")).to_contain_text("a moth on bark")
    expect(page.locator(".modes__tab--active")).to_contain_text("Image")


def test_an_added_keyframe_row_has_the_picker(page: Page, owner: User) -> None:
    piece = finished(owner, "a harbour at noon")
    row = add_keyframe_row(page, owner)
    row.get_by_role("button", name="Pick from gallery").click()
    page.get_by_role("dialog").locator("[data-pick]").click()
    expect(row.locator("select")).to_have_value(str(piece.uuid))
    expect(row.locator("input[name$='-frame']")).to_have_value("0")
    expect(page.locator("[data-marker]")).to_have_count(1)


def test_mode_tabs_are_short_and_a_phone_has_one_list_of_them(
    browser: Browser, live_app: str, owner: User
) -> None:
    """Found from outside: at 390 px the fourteen tabs filled the first screen, the prompt
    below it; a phone gets one list, by upstream, that keeps the words when the mode changes."""
    page = browser.new_page(base_url=live_app, viewport={"width": 1280, "height": 800})
    log_in(page, owner)
    tabs = page.locator("a.modes__tab")
    expect(tabs.first).to_be_visible()
    for text in tabs.all_inner_texts():
        assert "API" not in text
        assert len(text.replace("\n", " ")) <= 28, text
    dream = page.locator("a.modes__tab[href*='mode=dm_video']")
    expect(dream.locator(".modes__tag")).to_have_text("Dream Machine")
    expect(page.locator("[data-modes-pick]")).to_be_hidden()
    page.close()
    context = browser.new_context(base_url=live_app, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        log_in(page, owner)
        page.goto("/?mode=image")
        expect(page.locator("a.modes__tab").first).to_be_hidden()
        pick = page.locator("[data-modes-pick] select")
        expect(pick).to_be_visible()
        go = page.locator("[data-modes-go]")
        expect(go).to_be_visible()  # for a keyboard, whose arrows only move through the list
        groups = pick.locator("optgroup").evaluate_all("all => all.map(g => g.label)")
        assert groups[0] == "Luma Agents API"
        assert any("Dream Machine" in g for g in groups)
        prompt = page.locator("textarea[name=prompt]")
        assert prompt.bounding_box()["y"] < 844  # the prompt is on the first screen
        assert page.evaluate("document.documentElement.scrollWidth - innerWidth") == 0
        prompt.fill("a paper crane on a windowsill")
        pick.select_option("dm_video")
        page.wait_for_url("**mode=dm_video**")
        expect(page.locator("input[name=mode]")).to_have_value("dm_video")
        expect(prompt).to_have_value("a paper crane on a windowsill")
        pick.focus()
        page.keyboard.press("ArrowDown")
        expect(pick).not_to_have_value("dm_video")
        assert "mode=dm_video" in page.url  # an arrow moves through the list, it opens nothing
        chosen = pick.input_value()
        go.click()
        page.wait_for_url(f"**mode={chosen}**")
        expect(prompt).to_have_value("a paper crane on a windowsill")
    finally:
        context.close()


def test_another_mode_takes_the_words_along_and_the_keyboard_lands_in_the_prompt(
    page: Page, owner: User
) -> None:
    """Found from outside: a tab to another mode emptied the prompt, and left the keyboard at
    the top of the page."""
    log_in(page, owner)
    page.goto("/?mode=image")
    page.fill("textarea[name=prompt]", "a red kite over the dunes")
    page.select_option("select[name=aspect_ratio]", "1:1")
    page.click("a.modes__tab[href*='mode=video']")
    page.wait_for_url("**mode=video**")
    prompt = page.locator("textarea[name=prompt]")
    expect(prompt).to_have_value("a red kite over the dunes")
    # The options the video form offers as they were come along too (found from outside).
    expect(page.locator("select[name=aspect_ratio]")).to_have_value("1:1")
    # Found from outside: the new page opened at the form, its tabs scrolled out of sight.
    expect(page.locator("a.modes__tab--active")).to_be_in_viewport()
    page.locator("a.modes__tab[href*='mode=image_edit']").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**mode=image_edit**")
    expect(prompt).to_have_value("a red kite over the dunes")
    expect(prompt).to_be_focused()
    # A visit by a plain link brings them too (it did not: the top bar lost them).
    page.goto("/?mode=image_edit")
    expect(prompt).to_have_value("a red kite over the dunes")


def test_the_keyboard_skips_to_the_form_and_ctrl_enter_generates(page: Page, owner: User) -> None:
    """Found from outside: 24 Tabs (the menu, fourteen tabs) before the first field, and
    Ctrl+Enter in the prompt did nothing."""
    log_in(page, owner)
    page.goto("/?mode=image")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_have_text("Skip to the form")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#create-form') !== null")
    page.fill("textarea[name=prompt]", "a lantern in the rain")
    page.locator("textarea[name=prompt]").press("Control+Enter")
    expect(page.locator(".create__sent")).to_be_visible()
    assert Generation.objects.filter(prompt="a lantern in the rain").count() == 1


def with_thumbnail(piece: Generation, aspect_ratio: str) -> None:
    """A stored thumbnail of the piece's shape, as the archiver leaves it."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from generations.models import ArchiveState
    from generations.simulators import media as sim_media

    still = sim_media.render_image(piece.prompt, aspect_ratio=aspect_ratio, long_side=256)
    thumb = default_storage.save(f"outputs/{piece.uuid}/0-thumb.png", ContentFile(still))
    piece.outputs.create(
        index=0, kind="video", url="https://cdn.test/gone.mp4", archive_state=ArchiveState.ARCHIVED,
        url_expires_at=timezone.now() - timedelta(hours=2),
        file=thumb, thumb=thumb, thumb_large=thumb, poster=thumb, duration=5.0,
    )  # fmt: skip


def drag(page: Page, selector: str, dx: float, dy: float = 0) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2)
    page.mouse.move(x + dx, y + dy)
    page.mouse.up()


def number(page: Page, name: str) -> float:
    return float(page.locator(f"input[name={name}]").input_value())


def test_the_reframe_editor_shows_the_source_keeps_its_shape_and_snaps(
    page: Page, owner: User
) -> None:
    source = finished(owner, "a wide city street", kind="video", aspect_ratio="16:9")
    with_thumbnail(source, "16:9")
    log_in(page, owner)
    page.goto(f"/?mode=video_reframe&from={source.uuid}&as=source&lineage=reframe")
    expect(page.locator("[data-rect] [data-picture]")).to_be_visible()
    # A 16:9 source across a 9:16 frame: the whole width, and the height of its shape.
    expect(page.locator("input[name=h_norm]")).to_have_value(f"{(9 / 16) * (9 / 16):.3f}")

    def shape() -> float:
        box = page.locator("[data-rect]").bounding_box()
        assert box is not None
        return box["width"] / box["height"]

    assert shape() == pytest.approx(16 / 9, rel=0.05)
    page.locator("[data-canvas]").evaluate("canvas => canvas.scrollIntoView({block: 'center'})")
    canvas = page.locator("[data-canvas]").bounding_box()
    assert canvas is not None
    drag(page, "[data-handle]", -canvas["width"] * 0.3, 0)
    assert number(page, "w_norm") == pytest.approx(0.7, abs=0.03)
    assert shape() == pytest.approx(16 / 9, rel=0.05)
    drag(page, "[data-rect]", canvas["width"] * 0.2, canvas["height"] * 0.3)
    assert number(page, "x_norm") == pytest.approx(0.2, abs=0.02)
    # Back to 1 % from the left edge: it meets the edge.
    drag(page, "[data-rect]", -canvas["width"] * 0.19, 0)
    expect(page.locator("input[name=x_norm]")).to_have_value("0.000")
    # Its right edge near the frame's: they meet too.
    drag(page, "[data-rect]", canvas["width"] * 0.29, 0)
    assert number(page, "x_norm") + number(page, "w_norm") == pytest.approx(1, abs=0.002)


def test_a_source_brought_from_its_page_is_whole_and_centred_a_placed_one_stays(
    page: Page, owner: User
) -> None:
    """Found from outside (a creative): Reframe on a 16:9 video's page drew it at the top of the
    9:16 frame (Top 0), and unticking "Let the model place the source" sent it from there."""
    source = finished(owner, "a red ball rolling", kind="video", aspect_ratio="16:9")
    with_thumbnail(source, "16:9")
    log_in(page, owner)
    page.goto(f"/?mode=video_reframe&from={source.uuid}&as=source&lineage=reframe")
    expect(page.locator("[data-rect] [data-picture]")).to_be_visible()
    height = (9 / 16) * (9 / 16)
    expect(page.locator("input[name=h_norm]")).to_have_value(f"{height:.3f}")
    expect(page.locator("input[name=y_norm]")).to_have_value(f"{(1 - height) / 2:.3f}")
    page.uncheck("input[name=model_chooses]")
    expect(page.locator("input[name=y_norm]")).to_have_value(f"{(1 - height) / 2:.3f}")
    # Unticked before the picture arrives (the review): no person placed it either.
    held: list[Route] = []
    page.route("**/*-thumb*", lambda route: held.append(route))
    with page.expect_request("**/*-thumb*"):
        page.reload(wait_until="domcontentloaded")  # the load event waits for the picture
    page.uncheck("input[name=model_chooses]")
    for _ in range(600):  # the route's handler runs on the page's next event
        if held:
            break
        page.wait_for_timeout(50)
    expect(page.locator("input[name=y_norm]")).to_have_value("0.0")  # the form's, no picture yet
    held[0].continue_()
    page.unroute("**/*-thumb*")
    expect(page.locator("[data-rect] [data-picture]")).to_be_visible()
    expect(page.locator("input[name=y_norm]")).to_have_value(f"{(1 - height) / 2:.3f}")
    # A job placed by a person, made again: its place is kept.
    placed = finished(owner, "a red ball, low", kind="video_reframe", aspect_ratio="9:16")
    position = {"x_norm": 0.1, "y_norm": 0.6, "w_norm": 0.5, "h_norm": 0.5 * height}
    placed.request = {
        "prompt": placed.prompt, "type": "video_reframe", "aspect_ratio": "9:16",
        "source": {"type": "generation", "generation_id": source.upstream_id},
        "video": {"source_position": position},
    }  # fmt: skip
    placed.parent = source
    placed.save()
    page.goto(f"/?remix={placed.uuid}")
    expect(page.locator("[data-rect] [data-picture]")).to_be_visible()
    expect(page.locator("input[name=model_chooses]")).not_to_be_checked()
    expect(page.locator("input[name=y_norm]")).to_have_value("0.600")
    expect(page.locator("input[name=x_norm]")).to_have_value("0.100")


def test_a_new_frame_fits_the_source_whole_and_centred(page: Page, owner: User) -> None:
    """Found from outside: a 9:16 source in a 16:9 frame was drawn twice the frame's height,
    pinned to the top left, the resize corner out of reach, and sent so."""
    source = finished(owner, "a tall koi pond", kind="video", aspect_ratio="9:16")
    with_thumbnail(source, "9:16")
    log_in(page, owner)
    page.goto(f"/?mode=video_reframe&from={source.uuid}&as=source&lineage=reframe")
    expect(page.locator("[data-rect] [data-picture]")).to_be_visible()
    page.uncheck("input[name=model_chooses]")
    page.select_option("select[name=aspect_ratio]", "16:9")
    # As tall as the frame, as wide as its shape allows: (9/16)·(9/16) of the width, centred.
    width = (9 / 16) * (9 / 16)
    expect(page.locator("input[name=h_norm]")).to_have_value("1.000")
    expect(page.locator("input[name=w_norm]")).to_have_value(f"{width:.3f}")
    expect(page.locator("input[name=x_norm]")).to_have_value(f"{(1 - width) / 2:.3f}")
    expect(page.locator("input[name=y_norm]")).to_have_value("0.000")
    # A wide frame's other way round: the whole width, centred top to bottom.
    page.select_option("select[name=aspect_ratio]", "9:16")
    expect(page.locator("input[name=w_norm]")).to_have_value("1.000")
    expect(page.locator("input[name=h_norm]")).to_have_value("1.000")
    # A width typed is taken as typed (the height follows the shape), where the source is.
    page.fill("input[name=x_norm]", "0.1")
    page.fill("input[name=w_norm]", "0.5")
    expect(page.locator("input[name=w_norm]")).to_have_value("0.500")
    expect(page.locator("input[name=h_norm]")).to_have_value("0.500")
    expect(page.locator("input[name=x_norm]")).to_have_value("0.100")


COVERED = """el => {
    const box = el.getBoundingClientRect();
    const top = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
    return el.contains(top); }"""


@pytest.mark.parametrize("width", [1280, 390])
def test_the_reframe_rectangle_never_covers_other_fields(  # type: ignore[no-untyped-def]
    browser, live_app: str, owner: User, width: int
) -> None:
    context = browser.new_context(base_url=live_app, viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        log_in(page, owner)
        page.goto("/?mode=video_reframe")
        # As far out as it may go: twice the frame, overhanging on every side.
        far = {"x_norm": "-0.5", "y_norm": "-0.5", "w_norm": "2", "h_norm": "2"}
        for name, value in far.items():
            page.fill(f"input[name={name}]", value)
        for selector in ("label:has(input[name=model_chooses])", "#reframe-help",
                         "input[name=x_norm]", "input[name=w_norm]", "input[name=h_norm]",
                         "textarea[name=prompt]", "#options select"):  # fmt: skip
            field = page.locator(selector).first
            field.scroll_into_view_if_needed()
            assert field.evaluate(COVERED), f"{selector} is covered at {width} px"
        assert page.evaluate("document.documentElement.scrollWidth - innerWidth") == 0
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_axe_finds_nothing_serious_in_the_picker_the_notices_and_the_reframe_editor(  # type: ignore[no-untyped-def]
    browser, live_app: str, owner: User, width: int
) -> None:
    from tests.test_a11y_browser import serious_violations

    source = finished(owner, "a wide city street", kind="video", aspect_ratio="16:9")
    with_thumbnail(source, "16:9")
    with_thumbnail(finished(owner, "a tall lighthouse", aspect_ratio="9:16"), "9:16")
    context = browser.new_context(
        base_url=live_app, viewport={"width": width, "height": 900}, bypass_csp=True
    )
    try:
        page = context.new_page()
        log_in(page, owner)
        found = {}
        page.goto("/?mode=video")
        checked_after(page, lambda: page.check("input[name=loop]"))
        checked_after(page, lambda: page.select_option("select[name=duration]", "10s"))
        expect(page.locator(".rules-notice")).to_be_visible()
        found["notices"] = serious_violations(page)
        page.goto("/?mode=image")
        page.locator(".slot[data-slot=image_ref]").get_by_role("button", name="Choose").click()
        expect(page.get_by_role("dialog").locator("[data-pick]")).to_have_count(1)
        found["picker"] = serious_violations(page)
        page.goto(f"/?mode=video_reframe&from={source.uuid}&as=source&lineage=reframe")
        expect(page.locator("[data-rect] [data-picture]")).to_be_visible()
        found["reframe"] = serious_violations(page)
        assert all(not problems for problems in found.values()), found
    finally:
        context.close()


def test_generate_in_a_tab_left_open_across_a_new_login_says_so_and_works_when_sent_again(
    browser: Browser, live_app: str, owner: User
) -> None:
    """htmx sends the studio form: a refused token used to show nothing at all."""
    with checked_page(
        browser, live_app, lambda text: "403" in text or "responseError" in text
    ) as page:
        log_in(page, owner)
        page.fill("textarea[name=prompt]", "A kite over the dunes at dawn")
        log_out_and_in_elsewhere(page, owner)
        page.click("button:has-text('Generate')")
        refused = page.locator("#request-refused")
        expect(refused).to_contain_text("This form is out of date")
        expect(refused).to_contain_text(f"caught up with your log-in as {owner.username}")
        expect(page.locator("textarea[name=prompt]")).to_have_value("A kite over the dunes at dawn")
        assert not Generation.objects.exists()
        generate(page)
        expect(refused).to_be_hidden()  # once something went through
    assert Generation.objects.get().prompt == "A kite over the dunes at dawn"


def test_a_sent_prompt_is_still_there_after_opening_a_piece_and_going_back(
    page: Page, owner: User
) -> None:
    # The studio keeps what was sent in the form, ready to send again; Back showed the page as
    # first loaded (the browser's copy), with the prompt gone.
    piece = finished(owner, "an old harbour")
    log_in(page, owner)
    page.goto("/?mode=video")
    page.goto("/?mode=image")
    page.fill("textarea[name=prompt]", "a lighthouse in fog, long exposure")
    generate(page)
    page.goto(piece.get_absolute_url())
    page.go_back()
    prompt = page.locator("textarea[name=prompt]")
    expect(prompt).to_have_value("a lighthouse in fog, long exposure")
    # One more Back, to the video form: another mode's form is not given these words.
    page.go_back()
    expect(page.locator("input[name=mode]")).to_have_value("video")
    expect(prompt).to_have_value("")
    # Whoever logs in next in this tab is not given them.
    page.goto("/?mode=image")
    page.fill("textarea[name=prompt]", "a private draft")
    page.click("button:has-text('Log out')")
    page.wait_for_url("**/accounts/login/**")
    assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('lumaweb.'))") == []


def test_each_modes_words_come_back_with_back_forward_and_reload(page: Page, owner: User) -> None:
    """Found from outside: one draft for every mode, so Back to the image form after sending a
    video gave it nothing (the video's words were the draft), and a reload emptied the prompt."""
    log_in(page, owner)
    page.goto("/?mode=image")
    prompt = page.locator("textarea[name=prompt]")
    prompt.fill("a harbour at dawn")
    generate(page)
    page.click("a.modes__tab[href$='mode=video']")
    page.wait_for_url("**mode=video")
    prompt.fill("waves rolling in, slow")
    page.reload()
    expect(prompt).to_have_value("waves rolling in, slow")
    page.go_back()
    page.wait_for_url("**mode=image")
    expect(prompt).to_have_value("a harbour at dawn")
    page.go_forward()
    page.wait_for_url("**mode=video")
    expect(prompt).to_have_value("waves rolling in, slow")
    # Found from outside: a reload kept the words but not the options (1:1 came back 16:9,
    # Loop unticked).
    page.goto("/?mode=proxy")
    ratio = page.locator("#options select[name=aspect_ratio]")
    loop = page.locator("#options input[name=loop]")
    ratio.select_option("1:1")
    loop.check()
    expect(loop).to_be_checked()
    page.reload()
    expect(ratio).to_have_value("1:1")
    expect(loop).to_be_checked()
    page.goto("/?mode=dm_video")  # and the camera moves a Dream Machine video names
    aerial = page.locator(".concepts input[value=aerial]")
    aerial.check()
    page.reload()
    expect(aerial).to_be_checked()


def test_each_mode_keeps_its_own_options_across_a_visit_to_another(page: Page, owner: User) -> None:
    # Found from outside: Video at 10 s with HDR, then Image, then Video again: 5 s, no HDR.
    log_in(page, owner)
    page.goto("/?mode=video")
    page.select_option("#options select[name=duration]", "10s")
    page.check("#options input[name=hdr]")
    page.click("a.modes__tab[href$='mode=image']")
    page.wait_for_url("**mode=image")
    page.click("a.modes__tab[href$='mode=video']")
    page.wait_for_url("**mode=video")
    expect(page.locator("#options select[name=duration]")).to_have_value("10s")
    expect(page.locator("#options input[name=hdr]")).to_be_checked()


def test_a_mode_with_words_of_its_own_keeps_them_when_another_is_left(
    page: Page, owner: User
) -> None:
    """Found from outside: Image's words, then Video's, then a tab back to Image gave it Video's
    words, and Image's were gone. A mode takes the words of the one left only when it has none."""
    log_in(page, owner)
    page.goto("/?mode=image")
    prompt = page.locator("textarea[name=prompt]")
    prompt.fill("AAA image words")
    page.click("a.modes__tab[href$='mode=video']")
    page.wait_for_url("**mode=video")
    expect(prompt).to_have_value("AAA image words")  # a mode without words takes them along
    prompt.fill("BBB video words")
    page.click("a.modes__tab[href$='mode=image']")
    page.wait_for_url("**mode=image")
    expect(prompt).to_have_value("AAA image words")
    page.click("a.modes__tab[href$='mode=video']")
    page.wait_for_url("**mode=video")
    expect(prompt).to_have_value("BBB video words")


def test_a_gallery_pick_comes_back_with_its_mode(page: Page, owner: User) -> None:
    """Found from outside: a reload or the top bar brought back a mode's words and options, not
    the piece picked from the gallery: the form looked restored but had no source."""
    piece = finished(owner, "an old harbour")
    log_in(page, owner)
    page.goto("/?mode=image_edit")
    slot = page.locator(".slot[data-slot=source]")
    slot.get_by_role("button", name="Pick from gallery").click()
    dialog = page.get_by_role("dialog", name="Choose from the gallery")
    with page.expect_response("**/create/options"):
        dialog.locator("[data-pick]").first.click()
    select = page.locator("select[name=source_pick]")
    expect(select).to_have_value(str(piece.uuid))
    page.reload()
    expect(select).to_have_value(str(piece.uuid))
    expect(slot.locator(".slot__chosen")).to_contain_text("an old harbour")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Gallery").click()
    page.wait_for_url("**/gallery/")
    nav.get_by_role("link", name="Studio").click()  # the mode last opened
    page.wait_for_url(lambda url: url.endswith("/"))
    expect(select).to_have_value(str(piece.uuid))


def test_the_keyframes_picked_from_the_gallery_come_back_with_their_frames(
    page: Page, owner: User
) -> None:
    """Found from outside: a reload or Back brought back a mode's source pick, not the keyframes
    picked from the gallery nor their frames, though the README says picks come back."""
    dawn = finished(owner, "dawn over the bay")
    dusk = finished(owner, "dusk over the bay")
    log_in(page, owner)
    page.goto("/?mode=video")
    rows = page.locator("[data-row]")
    for index, (piece, frame) in enumerate([(dawn, "12"), (dusk, "90")]):
        rows.nth(index).get_by_role("button", name="Pick from gallery").click()
        dialog = page.get_by_role("dialog", name="Choose from the gallery")
        dialog.locator(f"[data-pick='{piece.uuid}']").click()  # one a row: it closes
        rows.nth(index).locator("input[name$='-frame']").fill(frame)
    page.locator("[data-add-keyframe]").click()  # a third, empty row: nothing to keep
    expect(page.locator("[data-marker]")).to_have_count(2)
    page.reload()
    expect(rows.nth(0).locator("select")).to_have_value(str(dawn.uuid))
    expect(rows.nth(0).locator("input[name$='-frame']")).to_have_value("12")
    expect(rows.nth(1).locator("select")).to_have_value(str(dusk.uuid))
    expect(rows.nth(1).locator("input[name$='-frame']")).to_have_value("90")
    expect(page.locator("[data-marker]")).to_have_count(2)


def test_an_unsent_prompt_comes_back_after_moving_about_with_the_top_bar(
    page: Page, owner: User, teammate: User
) -> None:
    # Left open before: Reload, Back and Forward kept the words, the top bar's links lost them.
    piece = finished(owner, "an old harbour")
    log_in(page, owner)
    page.goto("/?mode=video")
    prompt = page.locator("textarea[name=prompt]")
    prompt.fill("a lantern festival over the river, slow pan")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Gallery").click()
    page.wait_for_url("**/gallery/")
    nav.get_by_role("link", name="Studio").click()  # the mode last opened
    page.wait_for_url(lambda url: url.endswith("/"))
    expect(page.locator("input[name=mode]")).to_have_value("video")
    expect(prompt).to_have_value("a lantern festival over the river, slow pan")
    # A link that brings its own words (a remix) keeps them.
    page.goto(f"/?remix={piece.uuid}")
    expect(prompt).to_have_value("an old harbour")
    # A session that ended without Log out: whoever logs in next in this tab starts empty.
    page.goto("/?mode=image")
    prompt.fill("a private draft")
    page.goto("/gallery/")
    page.context.clear_cookies()
    log_in(page, teammate)
    expect(prompt).to_have_value("")
    assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('lumaweb.'))") == []


@pytest.mark.parametrize("width", [1280, 700, 390])
def test_the_person_s_name_and_its_password_link_are_shown_at_every_width(  # type: ignore[no-untyped-def]
    browser, live_app: str, width: int
) -> None:
    # Left open before: below 800 px the name (the way to change one's password) was hidden.
    person = User.objects.create_user("m" * 40 + "_with_a_long_name", password="pass-word-123")
    context = browser.new_context(base_url=live_app, viewport={"width": width, "height": 844})
    try:
        page = context.new_page()
        log_in(page, person)
        page.goto("/gallery/")
        name = page.get_by_role("link", name=person.username)
        expect(name).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth - innerWidth") == 0
        name.click()
        page.wait_for_url("**/password_change/**")
    finally:
        context.close()
