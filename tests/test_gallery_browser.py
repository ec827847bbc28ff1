"""The gallery in a real browser: scroll, filter, search, star, hover, keyboard, delete, toasts."""

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from generations import trash
from generations.gallery import PAGE_SIZE
from generations.models import Generation, Lineage, Output, State
from generations.providers.agents import schema
from generations.tasks import archive_outputs
from tests.conftest import checked_page, log_in
from tests.factories import archived_file, completed, make, piece, png

pytestmark = [pytest.mark.system, pytest.mark.browser]


@dataclass
class Studio:
    lighthouse: Generation
    video: Generation
    fox: Generation


def archived(generation: Generation) -> Generation:
    archive_outputs.call(str(generation.uuid))
    assert all(output.is_archived for output in generation.outputs.all())
    return generation


def copy_of(generation: Generation, prompt: str, user: User, **fields: object) -> Generation:
    """Another piece showing the same archived files (cheap bulk for scrolling)."""
    values = {
        "created_by": user,
        "kind": generation.kind,
        "model": generation.model,
        "prompt": prompt,
        "aspect_ratio": generation.aspect_ratio,
        "request": {**generation.request, "prompt": prompt},
        "state": generation.state,
        "finished_at": generation.finished_at,
        **fields,
    }
    copy = Generation.objects.create(**values)
    for output in generation.outputs.all():
        output.pk = None
        output.generation = copy
        output.save()
    return copy


@pytest.fixture
def studio(live_app: str, owner: User, teammate: User) -> Studio:
    """A small team's gallery with real, archived media from the simulator."""
    fox = archived(
        completed(teammate, "A red fox asleep in fresh snow, soft light", aspect_ratio="4:3")
    )
    video = archived(
        completed(
            owner,
            "Slow waves rolling onto a black sand beach",
            type="video",
            model="ray-3.2",
            aspect_ratio="16:9",
        )
    )
    lighthouse = archived(
        completed(owner, "A lighthouse on a cliff at dusk, warm windows", aspect_ratio="16:9")
    )
    return Studio(lighthouse=lighthouse, video=video, fox=fox)


def cards(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("[data-card]")


def test_scrolling_loads_more_a_filter_narrows_and_search_finds_a_word(
    page: Page, studio: Studio, owner: User, teammate: User
) -> None:
    for n in range(PAGE_SIZE):
        copy_of(studio.fox, f"Another snowy fox number {n}", teammate)
    log_in(page, owner)
    page.goto("/gallery/")
    expect(cards(page)).to_have_count(PAGE_SIZE)
    page.locator("[data-more]").scroll_into_view_if_needed()
    expect(cards(page)).to_have_count(PAGE_SIZE + 3)
    expect(page.locator(".gallery__end")).to_be_visible()

    page.select_option("select[name=kind]", "video")
    expect(cards(page)).to_have_count(1)
    expect(cards(page).first).to_contain_text("Slow waves")
    assert "kind=video" in page.url
    assert "q=" not in page.url  # empty fields stay out of the shared URL

    page.select_option("select[name=kind]", "")
    page.fill("input[name=q]", "lighthouse")
    expect(cards(page)).to_have_count(1)
    expect(cards(page).first).to_contain_text("A lighthouse on a cliff")
    assert "q=lighthouse" in page.url

    page.reload()  # a shared link shows the same thing
    expect(cards(page)).to_have_count(1)
    expect(page.locator("input[name=q]")).to_have_value("lighthouse")


def test_back_to_a_filtered_page_shows_its_filters_as_its_address_says(
    page: Page, studio: Studio, owner: User
) -> None:
    """Found from outside: after Back the results were filtered but every list read "Any"."""
    log_in(page, owner)
    page.goto("/gallery/")
    page.select_option("select[name=kind]", "video")
    page.wait_for_url("**kind=video**")
    page.select_option("select[name=state]", "completed")
    page.wait_for_url("**state=completed**")
    page.go_back()
    page.wait_for_url("**/gallery/?kind=video")
    expect(page.locator("select[name=kind]")).to_have_value("video")
    expect(page.locator("select[name=state]")).to_have_value("")
    page.go_back()
    expect(page.locator("select[name=kind]")).to_have_value("")
    page.go_forward()
    page.go_forward()
    page.wait_for_url("**state=completed**")
    expect(page.locator("select[name=kind]")).to_have_value("video")
    expect(page.locator("select[name=state]")).to_have_value("completed")


def test_on_a_phone_the_filters_fold_and_the_selection_waits_for_a_tick(
    browser: Browser, live_app: str, studio: Studio, owner: User
) -> None:
    """Found from outside: at 390 px the search, nine filters and the selection's five buttons
    filled the first screen, and the bar stayed pinned over the pieces."""
    context = browser.new_context(base_url=live_app, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        log_in(page, owner)
        page.goto("/gallery/")
        toggle = page.locator("[data-filters-toggle]")
        expect(page.locator("select[name=kind]")).to_be_hidden()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(page.locator(".selection__actions")).to_be_hidden()
        assert cards(page).first.bounding_box()["y"] < 844  # a piece on the first screen
        toggle.click()
        page.select_option("select[name=kind]", "video")
        expect(cards(page)).to_have_count(1)
        expect(toggle).to_have_text("Filters (1)")
        # Found from outside: the results stayed below the open panel, and Back to the gallery
        # unfiltered left the panel open.
        page.get_by_role("button", name="Show results").click()
        expect(page.locator("select[name=kind]")).to_be_hidden()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(cards(page).first).to_be_in_viewport()
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        page.go_back()
        page.wait_for_url("**/gallery/")
        expect(page.locator("select[name=kind]")).to_be_hidden()
        page.go_forward()
        page.wait_for_url("**kind=video")
        expect(page.locator("select[name=kind]")).to_be_visible()  # filters on: shown
        page.reload()  # a filtered address opens with its filters shown
        expect(page.locator("select[name=kind]")).to_be_visible()
        cards(page).first.locator("[data-select]").check()
        expect(page.locator(".selection__actions")).to_be_visible()
        page.goto("/usage/")  # a page whose filters have no Filters button keeps them shown
        expect(page.locator("select[name=period]")).to_be_visible()
    finally:
        context.close()


def test_a_card_moved_to_the_trash_leaves_an_undo_that_brings_it_back(
    page: Page, studio: Studio, owner: User
) -> None:
    log_in(page, owner)
    page.goto("/gallery/")
    card = page.locator(f"#card-{studio.video.uuid}")
    page.on("dialog", lambda dialog: pytest.fail(f"asked in a pop-up: {dialog.message}"))
    card.locator("[data-select]").check()
    expect(page.locator("[data-selection-count]")).to_have_text("1 piece selected")
    card.locator("summary").click()
    card.get_by_text("Move to Trash").click()
    expect(card).to_contain_text("Moved to the Trash")
    expect(page.locator("[data-selection-count]")).not_to_contain_text("selected")
    studio.video.refresh_from_db()
    assert studio.video.deleted_at is not None
    undo = card.get_by_role("button", name="Undo")
    expect(undo).to_be_focused()  # the keyboard is where the card was
    page.keyboard.press("Enter")
    expect(card.locator("[data-card-link]")).to_be_focused()
    expect(card).to_contain_text("Slow waves")
    studio.video.refresh_from_db()
    assert studio.video.deleted_at is None


def test_a_star_sticks_by_mouse_and_by_keyboard(page: Page, studio: Studio, owner: User) -> None:
    log_in(page, owner)
    page.goto("/gallery/")
    card = page.locator(f"#card-{studio.fox.uuid}")
    star = card.locator("[data-star]")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(card.locator("[data-star]")).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(card.locator("[data-star]")).to_have_attribute("aria-pressed", "true")
    page.goto("/gallery/?starred=on")
    expect(cards(page)).to_have_count(1)
    card.locator("[data-card-link]").focus()
    page.keyboard.press("s")
    expect(card.locator("[data-star]")).to_have_attribute("aria-pressed", "false")
    page.goto("/gallery/?starred=on")
    expect(cards(page)).to_have_count(0)


def test_a_video_preview_plays_on_hover(page: Page, studio: Studio, owner: User) -> None:
    log_in(page, owner)
    page.goto("/gallery/")
    card = page.locator(f"#card-{studio.video.uuid}")
    expect(card.locator("img.media")).to_be_visible()  # the poster, until a pointer arrives
    card.locator(".card__media").hover()
    preview = card.locator("video.media-frame__preview")
    expect(preview).to_have_count(1)
    page.wait_for_function("v => v.currentTime > 0.2", arg=preview.element_handle())
    assert preview.evaluate("v => !v.paused && v.muted")
    page.mouse.move(0, 0)
    expect(preview).to_have_count(0)


def test_the_keyboard_moves_opens_and_closes(page: Page, studio: Studio, owner: User) -> None:
    log_in(page, owner)
    page.goto("/gallery/")
    page.keyboard.press("ArrowRight")
    first = page.locator("[data-card-link]").nth(0)
    expect(first).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-card-link]").nth(1)).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(first).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{studio.lighthouse.get_absolute_url()}")
    page.keyboard.press("Escape")
    page.wait_for_url("**/gallery/")
    # Found from outside: after walking through pieces, Esc went back one piece at a time.
    page.goto("/gallery/?kind=image")
    page.locator("[data-card-link]").first.click()
    page.wait_for_url(f"**{studio.lighthouse.get_absolute_url()}?kind=image")
    # Left open before: the steps went to the next piece whatever the filters; now they go
    # through what the page it was opened from listed (the video is no image).
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**{studio.fox.get_absolute_url()}?kind=image")
    page.get_by_role("link", name="Newer").click()
    page.wait_for_url(f"**{studio.lighthouse.get_absolute_url()}?kind=image")
    page.keyboard.press("Escape")
    page.wait_for_url("**/gallery/?kind=image")
    # A search typed on the page (no reload) is carried as well, from the card's menu too.
    page.goto("/gallery/")
    page.get_by_role("searchbox").fill("waves")
    page.wait_for_url("**/gallery/?q=waves")
    expect(cards(page)).to_have_count(1)
    page.locator("[data-card] summary").first.click()
    page.get_by_role("link", name="Open", exact=True).click()
    page.wait_for_url(f"**{studio.video.get_absolute_url()}?q=waves")
    expect(page.locator("[data-step]")).to_have_count(0)
    page.get_by_role("link", name="Back to the results").click()
    page.wait_for_url(f"**/gallery/?q=waves#card-{studio.video.uuid}")


def test_back_to_the_results_finds_a_card_past_their_first_page(
    page: Page, studio: Studio, owner: User, teammate: User
) -> None:
    """Found from outside: "Back to the results" from a piece the scrolling had loaded landed
    at the top of the grid, its card not on the first page."""
    for n in range(2 * PAGE_SIZE):
        copy_of(studio.fox, f"Another snowy fox number {n}", teammate)
    log_in(page, owner)
    page.goto(studio.fox.get_absolute_url() + "?q=fox")  # the oldest fox: the third page
    page.get_by_role("link", name="Back to the results").click()
    card = page.locator(f"#card-{studio.fox.uuid}")
    expect(card).to_be_in_viewport()
    expect(card.locator("[data-card-link]")).to_be_focused()
    expect(cards(page)).to_have_count(2 * PAGE_SIZE + 1)


def test_enter_in_the_search_makes_one_step_of_history(
    page: Page, studio: Studio, owner: User
) -> None:
    """Found from outside: Enter sent the search as a change and as a submit, each a step of
    history, so Back took three presses to leave it."""
    log_in(page, owner)
    page.goto("/gallery/")
    page.fill("input[name=q]", "lighthouse")
    page.wait_for_url("**q=lighthouse")  # the typing's own search, 350 ms on
    expect(cards(page)).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator("form[data-filters].htmx-request")).to_have_count(0)
    page.go_back()
    page.wait_for_url("**/gallery/")
    expect(cards(page)).to_have_count(3)


def test_a_non_owner_cannot_delete_and_the_owner_can(
    browser: Browser, page: Page, live_app: str, studio: Studio, owner: User, teammate: User
) -> None:
    log_in(page, teammate)
    page.goto("/gallery/")
    card = page.locator(f"#card-{studio.lighthouse.uuid}")
    card.locator("summary").click()
    expect(card.locator(".menu__items")).to_be_visible()
    expect(card.locator("text=Move to Trash")).to_have_count(0)
    token = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")
    refused = page.request.post(
        f"/g/{studio.lighthouse.uuid}/delete", headers={"X-CSRFToken": token}
    )
    assert refused.status == 403
    assert Generation.objects.filter(pk=studio.lighthouse.pk).exists()

    names = [name for o in studio.lighthouse.outputs.all() for name in o.stored_files]
    context = browser.new_context(base_url=live_app)
    mine = context.new_page()
    log_in(mine, owner)
    mine.goto("/gallery/")
    own = mine.locator(f"#card-{studio.lighthouse.uuid}")
    own.locator("summary").click()
    own.locator("text=Move to Trash").click()
    expect(own).to_contain_text("Moved to the Trash")
    trashed = Generation.objects.get(pk=studio.lighthouse.pk)
    assert trashed.deleted_by == owner  # in the trash, files kept until it is purged
    assert all(default_storage.exists(name) for name in names)
    context.close()


def test_a_toast_says_when_your_job_finishes_while_you_are_elsewhere(
    page: Page, studio: Studio, owner: User
) -> None:
    log_in(page, owner)
    page.goto(studio.fox.get_absolute_url())
    job = copy_of(studio.lighthouse, "A harbour at night, lanterns", owner, state=State.PROCESSING)
    Generation.objects.filter(pk=job.pk).update(state=State.COMPLETED, finished_at=timezone.now())
    toast = page.locator("[data-toast]")
    expect(toast).to_have_count(1, timeout=12_000)  # only what finished after the page loaded
    expect(toast).to_contain_text("Your image is ready")
    expect(toast).to_contain_text("A harbour at night")
    toast.locator("a").click()
    page.wait_for_url(f"**{job.get_absolute_url()}")


@pytest.mark.parametrize(("width", "name"), [(1280, "desktop"), (390, "phone")])
def test_gallery_and_detail_fit_desktop_and_phone(
    browser: Browser,
    live_app: str,
    studio: Studio,
    owner: User,
    teammate: User,
    width: int,
    name: str,
    tmp_path: Path,
) -> None:
    """Screenshots for people to look at (SCREENSHOT_DIR); the test checks nothing spills over."""
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    source = studio.fox
    layered = archived(
        completed(
            teammate,
            "Split the fox from the snowy meadow",
            type="layering",
            source=schema.ImageRef(generation_id=source.upstream_id),
        )
    )
    Generation.objects.filter(pk=layered.pk).update(parent=source, lineage=Lineage.LAYERS)
    edit = archived(completed(owner, "The same lighthouse in a winter storm", aspect_ratio="16:9"))
    Generation.objects.filter(pk=edit.pk).update(parent=studio.lighthouse, lineage=Lineage.EDIT)
    Generation.objects.create(
        created_by=teammate,
        kind="image",
        model="uni-1",
        prompt="Something the filter refused [fail:content_moderated]",
        request={"prompt": "x"},
        state=State.FAILED,
        failure_code="content_moderated",
        finished_at=timezone.now(),
    )
    Generation.objects.create(
        created_by=owner,
        kind="video",
        model="ray-3.2",
        prompt="A hot-air balloon drifting over vineyards at sunrise",
        request={"prompt": "x"},
        state=State.PROCESSING,
        submitted_at=timezone.now() - timedelta(seconds=42),
    )
    context = browser.new_context(
        base_url=live_app,
        viewport={"width": width, "height": 900 if width > 800 else 844},
        device_scale_factor=1 if width > 800 else 2,
    )
    page = context.new_page()
    log_in(page, owner)
    shots.mkdir(parents=True, exist_ok=True)
    for path, shot in [
        ("/gallery/", "gallery"),
        ("/", "home"),
        (studio.lighthouse.get_absolute_url(), "detail"),
        (studio.video.get_absolute_url(), "detail-video"),
        (layered.get_absolute_url(), "detail-layers"),
    ]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than a {width}px screen"
        page.screenshot(path=str(shots / f"{shot}-{name}.png"), full_page=shot == "gallery")
    page.goto("/gallery/")
    menu = page.locator(f"#card-{edit.uuid} summary")
    menu.click()
    delete = page.locator(f"#card-{edit.uuid} .menu__item--danger")
    expect(delete).to_be_visible()
    assert delete.evaluate(
        "item => document.elementFromPoint(...(({x, y, width, height}) =>"
        " [x + width / 2, y + height / 2])(item.getBoundingClientRect())) === item"
    ), "the open menu is hidden under something"
    page.screenshot(path=str(shots / f"menu-{name}.png"))
    context.close()
    assert Output.objects.filter(archive_state="archived").count() >= 6


def test_a_running_card_ticks_its_clock_and_polls_without_a_render_until_its_state_moves(
    page: Page, live_app: str, owner: User
) -> None:
    job = make(
        owner,
        "A kettle about to boil",
        state=State.PROCESSING,
        submitted_at=timezone.now() - timedelta(seconds=5),
    )
    polls: list[int] = []
    page.on("response", lambda r: polls.append(r.status) if "/poll?" in r.url else None)
    log_in(page, owner)
    page.goto("/gallery/")
    card = page.locator(f"#card-{job.uuid}")
    clock = card.locator(".badge time.elapsed")
    before = int(clock.text_content().split()[0])  # type: ignore[union-attr]
    # The browser ticks it. It counts from the job's start, so a tick a busy machine runs late
    # shows the next number but one: wait for two seconds on, not for one number.
    page.wait_for_function(
        "([clock, at]) => parseInt(clock.textContent, 10) >= at",
        arg=[clock.element_handle(), before + 2],
        timeout=5_000,
    )
    expect(clock).to_have_text(re.compile(r"^\d+ s$"))
    # The page asks once a second; a loaded machine (CI found it so) may not have answered the
    # first ask by the time the clock moved on: wait for an answer, then look at them all.
    with page.expect_response(lambda r: "/poll?" in r.url, timeout=30_000):
        pass
    assert set(polls) == {204}, "an unchanged job is not rendered again"

    Generation.objects.filter(pk=job.pk).update(
        state=State.FAILED, failure_code="content_moderated"
    )
    expect(card).to_have_attribute("data-state", "failed")
    count = len(polls)
    page.wait_for_timeout(2_500)
    assert len(polls) == count, "a finished card stops polling"
    # Ticking keeps the server's words for a job stuck for days (it said "76 h 10 min").
    stuck = make(owner, "A kettle forgotten", state=State.PROCESSING,
                 submitted_at=timezone.now() - timedelta(days=3, hours=4, minutes=10))  # fmt: skip
    page.reload()
    clock = page.locator(f"#card-{stuck.uuid} .badge time.elapsed")
    expect(clock).to_have_text("3 d 4 h")
    clock.evaluate("clock => { clock.textContent = ''; }")
    expect(clock).to_have_text("3 d 4 h")  # written again by the browser's tick


def test_an_unfinished_job_in_the_trash_shows_its_state_whole(page: Page, owner: User) -> None:
    """Found from outside: in the Trash, a queued or generating job's spinner was squashed to a
    sliver beside its words (the Trash's media rule made the placeholder a block)."""
    queued = make(owner, "a queued one", state=State.QUEUED)
    trash.move_to_trash(owner, [queued])
    log_in(page, owner)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/trash/")
    spinner = page.locator(f"#trash-{queued.uuid} .spinner").bounding_box()
    words = page.locator(f"#trash-{queued.uuid} .placeholder strong").bounding_box()
    assert spinner is not None
    assert words is not None
    assert spinner["width"] >= 20  # whole: 26 px
    assert spinner["y"] + spinner["height"] <= words["y"]  # above its words, not beside them


def test_a_piece_in_the_trash_keeps_its_badge_on_its_picture(page: Page, owner: User) -> None:
    """Found in a look at the Trash: a split image's "3 layers" badge sat outside its tile, on
    the page's margin (the Trash's picture was no box for it)."""
    layered = piece(owner, "split into layers", kind="layering")
    for color in ("teal", "orange", "navy"):
        archived_file(layered, png(color))
    trash.move_to_trash(owner, [layered])
    log_in(page, owner)
    page.goto("/trash/")
    badge = page.locator(f"#trash-{layered.uuid} .media-badge")
    expect(badge).to_have_text("3 layers")
    picture = page.locator(f"#trash-{layered.uuid} .trash__media").bounding_box()
    box = badge.bounding_box()
    assert picture is not None
    assert box is not None
    assert picture["x"] <= box["x"]
    assert box["x"] + box["width"] <= picture["x"] + picture["width"]
    assert picture["y"] <= box["y"]
    assert box["y"] + box["height"] <= picture["y"] + picture["height"]


def test_a_long_unbroken_word_in_a_prompt_wraps_on_a_phone(page: Page, owner: User) -> None:
    """Found from outside: at 390 px "[fail:content_moderated" lost its end, cut by the card."""
    make(
        owner, "a tag [fail:content_moderated_and_then_some_more_words_joined]", state=State.QUEUED
    )
    log_in(page, owner)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/gallery/")
    prompt = page.locator(".card__prompt").first
    expect(prompt).to_be_visible()
    assert prompt.evaluate("p => p.scrollWidth <= p.clientWidth")


def test_back_to_a_piece_just_deleted_says_it_is_in_the_trash(
    browser: Browser, live_app: str, studio: Studio, owner: User
) -> None:
    """Found from outside: Back after deleting a piece from its page showed the page as it was,
    with Star and Remix that did nothing (the browser's stored copy of it)."""
    with checked_page(browser, live_app, lambda text: "404 (Not Found)" in text) as page:
        log_in(page, owner)
        page.goto(studio.lighthouse.get_absolute_url())
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator(".toolbar__delete").click()
        page.wait_for_url("**/gallery/")
        page.go_back()
        expect(page.locator("main")).to_contain_text("in the Trash")
        expect(page.locator(".toolbar__delete")).to_have_count(0)


def test_back_from_a_piece_gives_the_keyboard_its_card(
    page: Page, studio: Studio, owner: User
) -> None:
    """Found from outside: after Esc (or Back) from a piece opened by the keyboard, the focus was
    on the page, so the next arrow started again from the first card, at the top."""
    log_in(page, owner)
    page.goto("/gallery/")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    second = page.locator("[data-card-link]").nth(1)
    expect(second).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{studio.video.get_absolute_url()}")
    page.keyboard.press("Escape")
    page.wait_for_url("**/gallery/")
    expect(second).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-card-link]").nth(2)).to_be_focused()
