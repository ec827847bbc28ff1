"""Boards, multi-select and bulk download in Chromium; screenshots of a board and the usage page."""

import io
import json
import tempfile
import zipfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from generations.models import Board, Generation, Star
from tests.conftest import checked_page, log_in, log_out_and_in_elsewhere
from tests.factories import archived_file, piece

pytestmark = [pytest.mark.system, pytest.mark.browser]

SHOTS = Path(tempfile.gettempdir()) / "shots-boards"
COLOURS = ["#f4a261", "#2a9d8f", "#e76f51", "#264653", "#e9c46a", "#8ab17d", "#6d597a", "#b56576"]
PROMPTS = [
    "A lighthouse on a cliff at dusk, warm windows",
    "A red fox asleep in fresh snow, soft light",
    "Slow waves on a black sand beach",
    "A tram in the rain, neon reflections",
    "Desert dunes at noon, one walker",
    "A greenhouse full of ferns, morning mist",
    "Paper boats on a canal, Amsterdam",
    "An orchard in bloom, bees",
]


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def pieces(live_app: str, owner: User, teammate: User) -> list[Generation]:
    """Eight archived pieces, newest first as the gallery shows them; the even ones are olivia's."""
    now = timezone.now()
    made = []
    for n, (prompt, colour) in enumerate(zip(PROMPTS, COLOURS, strict=True)):
        who = owner if n % 2 == 0 else teammate
        generation = piece(who, prompt, created_at=now - timedelta(minutes=n))
        archived_file(generation, png(colour))
        made.append(generation)
    return made


def checkbox(page: Page, generation: Generation):  # type: ignore[no-untyped-def]
    return page.locator(f"#card-{generation.uuid} input[data-select]")


def test_select_by_click_shift_click_and_keyboard_then_add_to_a_new_board(
    page: Page, pieces: list[Generation], owner: User
) -> None:
    log_in(page, owner)
    page.goto("/gallery/")
    count = page.locator("[data-selection-count]")
    checkbox(page, pieces[0]).click()
    expect(count).to_have_text("1 piece selected")
    checkbox(page, pieces[3]).click(modifiers=["Shift"])  # a range: 0 to 3
    expect(count).to_have_text("4 pieces selected")
    for n in range(4):
        expect(checkbox(page, pieces[n])).to_be_checked()
    page.locator(f"#card-{pieces[5].uuid} [data-card-link]").focus()
    page.keyboard.press("x")
    expect(count).to_have_text("5 pieces selected")
    expect(page.locator(f"#card-{pieces[5].uuid}")).to_have_class(
        "card card--completed card--selected"
    )
    checkbox(page, pieces[1]).click()  # untick one
    expect(count).to_have_text("4 pieces selected")

    page.locator("#selection").get_by_role("button", name="Add to board…").click()
    dialog = page.locator("#selection-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Add 4 pieces to a board")
    dialog.locator("input[name=new_board]").fill("Spring campaign")
    dialog.get_by_role("button", name="Add to board").click()
    expect(page.locator(".message")).to_contain_text("Added 4 pieces to “Spring campaign”")
    board = Board.objects.get(name="Spring campaign")
    assert set(board.pieces.all()) == {pieces[0], pieces[2], pieces[3], pieces[5]}

    page.get_by_role("link", name="Boards", exact=True).first.click()
    page.locator("[data-board]", has_text="Spring campaign").click()
    expect(page.locator("[data-card]")).to_have_count(4)
    page.fill("input[name=q]", "fox")  # the gallery's search, on the board
    expect(page.locator("[data-card]")).to_have_count(0)
    page.fill("input[name=q]", "lighthouse")
    expect(page.locator("[data-card]")).to_have_count(1)
    assert "q=lighthouse" in page.url
    assert str(board.uuid) in page.url


def test_a_selection_stars_and_deletes_with_one_confirmation_each(
    page: Page, pieces: list[Generation], owner: User
) -> None:
    log_in(page, owner)
    page.goto("/gallery/")
    checkbox(page, pieces[0]).click()
    checkbox(page, pieces[1]).click()
    page.locator("#selection").get_by_role("button", name="Star").click()
    page.locator("#selection-dialog").get_by_role("button", name="Star").click()
    expect(page.locator(".message")).to_contain_text("Starred 2 pieces")
    assert Star.objects.filter(user=owner).count() == 2

    checkbox(page, pieces[0]).click()
    checkbox(page, pieces[1]).click()  # tariq's: kept
    page.locator("#selection").get_by_role("button", name="Delete…").click()
    dialog = page.locator("#selection-dialog")
    expect(dialog).to_contain_text("Delete 1 piece?")
    expect(dialog).to_contain_text(
        "1 of the selected is someone else\N{RIGHT SINGLE QUOTATION MARK}s"
    )
    dialog.get_by_role("button", name="Delete").click()
    expect(page.locator(".message")).to_contain_text("Moved 1 piece to the trash")
    expect(page.locator(f"#card-{pieces[0].uuid}")).to_have_count(0)
    expect(page.locator(f"#card-{pieces[1].uuid}")).to_have_count(1)


def test_a_selection_and_a_board_download_as_zips(
    page: Page, pieces: list[Generation], owner: User, tmp_path: Path
) -> None:
    board = Board.objects.create(name="Client picks", created_by=owner)
    board.add(pieces[:3], owner)
    log_in(page, owner)
    page.goto("/gallery/")
    checkbox(page, pieces[0]).click()
    checkbox(page, pieces[1]).click()
    page.locator("#selection").get_by_role("button", name="Download").click()
    dialog = page.locator("#selection-dialog")
    with page.expect_download() as started:
        dialog.get_by_role("button", name="Download").click()
    saved = tmp_path / started.value.suggested_filename
    started.value.save_as(saved)
    expect(dialog).to_be_hidden()
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    assert saved.name.startswith("selection-")
    assert f"a-lighthouse-on-a-cliff-at-dusk-warm-windows-{str(pieces[0].uuid)[:8]}.png" in names
    assert {p["prompt"] for p in manifest["pieces"]} == {PROMPTS[0], PROMPTS[1]}

    page.goto(board.get_absolute_url())
    with page.expect_download() as started:
        page.get_by_role("link", name="Download all (ZIP)").click()
    saved = tmp_path / started.value.suggested_filename
    started.value.save_as(saved)
    assert saved.name.startswith("client-picks-")
    with zipfile.ZipFile(saved) as archive:
        assert len(archive.namelist()) == 4


def test_a_piece_goes_on_a_board_from_its_page_and_shows_it(
    page: Page, pieces: list[Generation], owner: User
) -> None:
    Board.objects.create(name="Moodboard", created_by=owner)
    log_in(page, owner)
    page.goto(pieces[2].get_absolute_url())
    expect(page.locator(".detail-boards")).to_contain_text("On no board yet.")
    page.get_by_role("link", name="Add to a board…").click()
    page.get_by_label("Moodboard").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".detail-boards")).to_contain_text("Moodboard")


LONG_NAME = "Campaign_" + "X" * 71  # as long as a board's name goes, with no space to wrap at


def no_sideways_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_long_board_name_never_makes_a_page_scroll_sideways(
    page: Page, pieces: list[Generation], owner: User
) -> None:
    board = Board.objects.create(name=LONG_NAME, created_by=owner)
    board.add(pieces[:1], owner)
    log_in(page, owner)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for url in (board.get_absolute_url(), pieces[0].get_absolute_url(), "/boards/"):
            page.goto(url)
            assert no_sideways_scroll(page), f"{url} at {width} px"

    page.goto("/gallery/")  # at 390 px
    checkbox(page, pieces[0]).click()
    checkbox(page, pieces[2]).click()
    page.locator("#selection").get_by_role("button", name="Add to board…").click()
    dialog = page.locator("#selection-dialog")
    expect(dialog).to_be_visible()
    assert no_sideways_scroll(page)
    submit = dialog.get_by_role("button", name="Add to board")
    inside = "(e) => { const box = e.getBoundingClientRect(); "
    inside += "return box.left >= 0 && box.right <= innerWidth; }"
    for control in (
        dialog.locator("select[name=board]"),
        dialog.locator("input[name=new_board]"),
        submit,
    ):
        assert control.evaluate(inside), control
    dialog.locator("select[name=board]").select_option(label=LONG_NAME)
    submit.click()
    expect(page.locator(".message")).to_contain_text(f"Added 1 piece to “{LONG_NAME}”")
    assert no_sideways_scroll(page)


def _shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


def test_a_board_named_in_a_tab_left_open_across_a_new_login_is_made_after_back(
    browser: Browser, live_app: str, owner: User
) -> None:
    """A log-in elsewhere renews the form token; Back brings the form again, name and all."""
    with checked_page(browser, live_app, lambda text: "status of 403" in text) as page:
        log_in(page, owner)
        page.goto("/boards/")
        page.fill("input[name=name]", "Spring campaign")
        log_out_and_in_elsewhere(page, owner)
        page.click("button:has-text('New board')")
        expect(page.locator("h1")).to_have_text("This form is out of date")
        assert not Board.objects.exists()
        page.go_back()
        expect(page.locator("input[name=name]")).to_have_value("Spring campaign")
        page.click("button:has-text('New board')")
        expect(page.locator("h1")).to_have_text("Spring campaign")
    assert Board.objects.get().name == "Spring campaign"


def test_screenshots_of_a_board_and_the_usage_page(
    browser: Browser, live_app: str, page: Page, pieces: list[Generation], owner: User, staff: User
) -> None:
    board = Board.objects.create(name="Spring campaign", created_by=owner)
    board.add(pieces[:6], owner)
    now = timezone.now()
    costs = {"olivia": owner, "tariq": pieces[1].created_by, "sam": staff}
    for day in range(14):
        for n, (name, who) in enumerate(costs.items()):
            kind, model, cents = (
                ("video", "ray-3.2", "150") if (day + n) % 3 == 0 else ("image", "uni-1", "2")
            )
            when = now - timedelta(days=day, hours=n)
            piece(who, f"{name} day {day}", kind=kind, model=model,
                  estimated_cents=Decimal(cents), created_at=when)  # fmt: skip
    log_in(page, owner)
    page.goto(board.get_absolute_url())
    checkbox(page, pieces[0]).click()
    checkbox(page, pieces[2]).click(modifiers=["Shift"])
    expect(page.locator("[data-selection-count]")).to_have_text("3 pieces selected")
    _shoot(page, "board")
    page.goto("/boards/")
    _shoot(page, "boards")
    with checked_page(browser, live_app) as staff_page:
        log_in(staff_page, staff)
        staff_page.goto("/usage/")
        expect(staff_page.locator("svg.chart rect").first).to_be_visible()
        _shoot(staff_page, "usage")
        staff_page.goto("/usage/?period=week&by=model")
        _shoot(staff_page, "usage-week-model")
