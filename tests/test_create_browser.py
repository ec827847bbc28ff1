"""Each creation mode used as a person would: fill, upload, place, drag, submit, see it finish."""

import io
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from PIL import Image
from playwright.sync_api import Page, Request, Route, expect

from generations.models import Generation, State
from generations.providers.agents import schema
from generations.simulators import media as sim_media
from generations.simulators.models import SimGeneration
from generations.tasks import start_generation
from tests.conftest import log_in

pytestmark = [pytest.mark.system, pytest.mark.browser, pytest.mark.usefixtures("worker_process")]


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    path = tmp_path / "sketch.png"
    buffer = io.BytesIO()
    Image.new("RGB", (120, 90), "purple").save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(sim_media.render_video("a short clip", seconds=2, long_side=96))
    return path


def submit_and_finish(page: Page) -> Generation:
    """Press Generate; the new job's card appears and finishes without a reload."""
    before = set(Generation.objects.values_list("pk", flat=True))
    token = page.locator("input[name=idempotency_key]")
    used = token.input_value()
    page.click("button:has-text('Generate')")
    # The answer brings a fresh form with a new double-submit token.
    expect(token).not_to_have_value(used)
    generation = Generation.objects.exclude(pk__in=before).get()
    card = page.locator(f"#card-{generation.uuid}")
    expect(card).to_have_attribute("data-state", "completed", timeout=30_000)
    generation.refresh_from_db()
    assert generation.state == State.COMPLETED
    return generation


def sent(generation: Generation) -> dict:
    return SimGeneration.objects.get(pk=generation.upstream_id).request


def finished_video(owner: User, page: Page) -> Generation:
    generation, _ = start_generation(
        owner, schema.GenerationRequest(prompt="a city street", type="video", model="ray-3.2")
    )
    page.goto("/")
    expect(page.locator(f"#card-{generation.uuid}")).to_have_attribute(
        "data-state", "completed", timeout=30_000
    )
    generation.refresh_from_db()
    return generation


def test_image_with_a_reference_upload(page: Page, owner: User, picture: Path) -> None:
    log_in(page, owner)
    page.fill("textarea[name=prompt]", "a castle in the style of the reference")
    page.select_option("select[name=aspect_ratio]", "1:1")
    page.set_input_files("input[name=image_ref]", str(picture))
    generation = submit_and_finish(page)
    body = sent(generation)
    assert body["aspect_ratio"] == "1:1"
    assert len(body["image_ref"]) == 1
    # The form keeps what was sent, ready to Generate again as another job.
    expect(page.locator("textarea[name=prompt]")).to_have_value(
        "a castle in the style of the reference"
    )
    expect(page.locator("select[name=aspect_ratio]")).to_have_value("1:1")
    expect(page.locator(".create__sent")).to_contain_text("press Generate again")
    again = submit_and_finish(page)
    assert sent(again)["aspect_ratio"] == "1:1"
    assert len(sent(again)["image_ref"]) == 1  # its reference too
    assert again.prompt == generation.prompt


def test_edit_an_uploaded_image(page: Page, owner: User, picture: Path) -> None:
    log_in(page, owner)
    page.click("a.modes__tab:has-text('Edit image')")
    page.set_input_files("input[name=source]", str(picture))
    page.fill("textarea[name=prompt]", "make it night")
    generation = submit_and_finish(page)
    assert sent(generation)["type"] == "image_edit"
    assert generation.inputs.get().role == "source"


def test_video_with_two_keyframes_placed_on_the_timeline(
    page: Page, owner: User, picture: Path
) -> None:
    log_in(page, owner)
    page.click("a.modes__tab:has-text('Video')")
    page.fill("textarea[name=prompt]", "from dawn to dusk")
    rows = page.locator("[data-row]")
    rows.nth(0).locator("input[type=file]").set_input_files(str(picture))
    rows.nth(1).locator("input[type=file]").set_input_files(str(picture))
    markers = page.locator("[data-marker]")
    expect(markers).to_have_count(2)
    # Drag the second keyframe to three quarters of the strip: frame 90 of 120.
    strip = page.locator("[data-strip]").bounding_box()
    assert strip is not None
    markers.nth(1).hover()
    page.mouse.down()
    page.mouse.move(strip["x"] + strip["width"] * 0.75, strip["y"] + strip["height"] / 2)
    page.mouse.up()
    expect(rows.nth(1).locator("input[name$='-frame']")).to_have_value("90")
    # Found from outside (a creative): a typed frame moved its marker only once the field was
    # left; it moves as it is typed.
    first = rows.nth(0).locator("input[name$='-frame']")
    first.fill("")
    first.press_sequentially("60")
    expect(markers.nth(0)).to_have_attribute("style", re.compile(r"left: 50%"))
    first.fill("0")
    first.dispatch_event("change")
    # Loop cannot combine with keyframes: the page says so before anything is spent.
    expect(page.locator("input[name=loop]")).to_be_disabled()
    expect(page.locator(".option__reason").first).to_be_visible()
    generation = submit_and_finish(page)
    video = sent(generation)["video"]
    assert video["keyframe_indexes"] == [0, 90]
    assert len(video["keyframes"]) == 2


def test_edit_an_uploaded_video(page: Page, owner: User, clip: Path) -> None:
    log_in(page, owner)
    page.click("a.modes__tab:has-text('Edit video')")
    page.set_input_files("input[name=source]", str(clip))
    page.fill("textarea[name=prompt]", "as a pencil drawing")
    page.select_option("select[name=strength]", "adhere_3")
    generation = submit_and_finish(page)
    assert sent(generation)["video"]["edit"]["strength"] == "adhere_3"


def test_edit_keyframes_sit_on_the_uploaded_sources_frames(
    page: Page, owner: User, clip: Path, picture: Path
) -> None:
    log_in(page, owner)
    page.click("a.modes__tab:has-text('Edit video')")
    scale = page.locator("[data-scale]")
    expect(scale).to_have_text("0 — 432 (18 s)")  # the longest source, until one is known
    page.set_input_files("input[name=source]", str(clip))
    # The 2-second upload's own frames, once the browser has read its length.
    expect(scale).to_have_text(re.compile(r"^0 — (4[89]) \("))
    last = int(scale.inner_text().split()[2])
    page.fill("textarea[name=prompt]", "as a pencil drawing")
    row = page.locator("[data-row]").first
    row.locator("input[type=file]").set_input_files(str(picture))
    marker = page.locator("[data-marker]")
    expect(marker).to_have_count(1)
    strip = page.locator("[data-strip]").bounding_box()
    assert strip is not None
    marker.hover()
    page.mouse.down()
    page.mouse.move(strip["x"] + strip["width"] * 0.5, strip["y"] + strip["height"] / 2)
    page.mouse.up()
    frame = row.locator("input[name$='-frame']")
    expect(frame).not_to_have_value("0")
    placed = int(frame.input_value())
    assert abs(placed - last / 2) <= 1, (placed, last)  # half way along the source's frames
    generation = submit_and_finish(page)
    edit = sent(generation)["video"]["edit"]
    assert edit["keyframe_indexes"] == [placed]
    assert len(edit["keyframes"]) == 1


def test_an_edit_from_a_piece_has_the_pieces_frames_and_a_refused_keyframe_stays_on_the_strip(
    page: Page, owner: User, picture: Path
) -> None:
    """Found from outside: a picked or kept source's timeline said 18 s whatever its length, a
    frame past its end made a job, and a refused form's kept keyframes had no marker."""
    log_in(page, owner)
    clip = finished_video(owner, page)
    page.goto("/?mode=video_edit")
    scale = page.locator("[data-scale]")
    expect(scale).to_have_text("0 — 432 (18 s)")
    page.locator(".slot[data-slot=source]").get_by_role("button", name="Pick from gallery").click()
    dialog = page.get_by_role("dialog", name="Choose from the gallery")
    dialog.locator(f"[data-pick='{clip.uuid}']").click()
    expect(scale).to_have_text("0 — 120 (5 s)")  # the simulator's 5-second video
    page.goto(f"/?mode=video_edit&from={clip.uuid}&as=source&lineage=edit")
    expect(scale).to_have_text("0 — 120 (5 s)")
    row = page.locator("[data-row]").first
    row.locator("input[type=file]").set_input_files(str(picture))
    frame = row.locator("input[name$='-frame']")
    frame.fill("300")
    frame.dispatch_event("change")
    expect(page.locator(".timeline__marker--outside")).to_have_count(1)
    page.fill("textarea[name=prompt]", "as ink")
    page.click("button:has-text('Generate')")
    expect(page.locator(".timeline .field__error")).to_contain_text(
        "Frame 300 is past the end: this source has frames 0 to 120."
    )
    assert not Generation.objects.filter(kind="video_edit").exists()
    # The refused form keeps the image, and its keyframe is on the strip to be moved.
    expect(page.locator("[data-marker]")).to_have_count(1)
    expect(scale).to_have_text("0 — 120 (5 s)")
    frame = page.locator("[data-row]").first.locator("input[name$='-frame']")
    frame.fill("60")
    frame.dispatch_event("change")
    expect(page.locator(".timeline__marker--outside")).to_have_count(0)
    edit = sent(submit_and_finish(page))["video"]["edit"]
    assert edit["keyframe_indexes"] == [60]
    assert len(edit["keyframes"]) == 1


def test_edit_video_shows_its_controls_only_when_the_model_does_not_choose_them(
    page: Page, owner: User, clip: Path
) -> None:
    """Found from outside: with "Let the model choose the controls" ticked (the default), Depth,
    Pose and their numbers could still be set, and were dropped from the request unsaid."""
    log_in(page, owner)
    page.click("a.modes__tab:has-text('Edit video')")
    depth = page.locator("input[name=depth]")
    blur = page.locator("input[name=depth_blur]")
    expect(depth).to_be_hidden()
    expect(blur).to_be_hidden()
    page.uncheck("input[name=auto_controls]")
    expect(depth).to_be_visible()
    depth.check()
    # Each tick re-renders the options once its check answers (a check sent before the typing
    # would put the old number back): type only once they are in the page.
    expect(page.locator("#options.htmx-request")).to_have_count(0)
    blur.fill("0.2")
    page.set_input_files("input[name=source]", str(clip))
    page.fill("textarea[name=prompt]", "as clay")
    edit = sent(submit_and_finish(page))["video"]["edit"]
    assert "auto_controls" not in edit
    assert edit["controls"]["depth"] == {"enabled": True, "blur": 0.2}


@pytest.mark.parametrize("left", [False, True], ids=["answer-while-typing", "answer-after-leaving"])
def test_an_option_typed_back_to_its_value_still_gets_its_check(
    page: Page, owner: User, left: bool
) -> None:
    """Left open last stop: a check's answer that came while a number was being typed was left
    aside (it would put the old number back), and a number typed back to what it held says no
    change when it is left, so nothing asked again and the options stayed as they were."""
    log_in(page, owner)
    page.click("a.modes__tab:has-text('Edit video')")
    held: list[Route] = []

    def hold_the_first(route: Route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/create/options", hold_the_first)
    with page.expect_request("**/create/options"):
        page.uncheck("input[name=auto_controls]")  # its check is held on its way
    blur = page.locator("input[name=depth_blur]")
    blur.fill("0.9")
    blur.fill("0.5")  # back to what it held
    prompt = page.locator("textarea[name=prompt]")

    def asked_again(request: Request) -> bool:
        return "/create/options" in request.url and "depth_blur=0.5" in (request.post_data or "")

    if left:
        prompt.focus()
        with page.expect_request(asked_again, timeout=30_000):
            held[0].continue_()
    else:
        with page.expect_response("**/create/options"):
            held[0].continue_()
        expect(page.locator("#options.htmx-request")).to_have_count(0)  # its answer left aside
        with page.expect_request(asked_again, timeout=30_000):
            prompt.focus()
    expect(page.locator("#options.htmx-request")).to_have_count(0)
    expect(blur).to_have_value("0.5")
    expect(page.locator("input[name=auto_controls]")).not_to_be_checked()


# True once the reframe rectangle has the source picture's shape in the chosen frame.
SHAPED = """() => {
  const picture = document.querySelector("[data-rect] [data-picture]");
  if (!picture || !picture.complete || !picture.naturalWidth) return false;
  const value = (name) => parseFloat(document.querySelector(`input[name=${name}]`).value);
  const ratio = document.querySelector("select[name=aspect_ratio]").value || "9:16";
  const [fw, fh] = ratio.split(":").map(Number);
  const aspect = picture.naturalWidth / picture.naturalHeight;
  return Math.abs(value("h_norm") - (value("w_norm") * fw) / (fh * aspect)) < 0.002;
}"""


def test_reframe_by_dragging_the_source_rectangle(page: Page, owner: User) -> None:
    log_in(page, owner)
    source = finished_video(owner, page)
    page.goto(f"{source.get_absolute_url()}")
    page.click("a.button:has-text('Reframe')")
    page.fill("textarea[name=prompt]", "vertical for phones")
    # The rectangle takes the source's shape once its picture has loaded: measured before that, a
    # press at its middle can miss it (CI found it so on a loaded machine).
    page.wait_for_function(SHAPED)
    # A quarter of the frame down from where it starts (centred), whatever the rectangle's size.
    start = float(page.locator("input[name=y_norm]").input_value())
    rect = page.locator("[data-rect]")
    box = rect.bounding_box()
    frame = page.locator("[data-canvas]").bounding_box()
    assert box is not None
    assert frame is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2 + frame["height"] / 4)
    page.mouse.up()
    expect(page.locator("input[name=model_chooses]")).not_to_be_checked()
    y = float(page.locator("input[name=y_norm]").input_value())
    assert y - start == pytest.approx(0.25, abs=0.05)
    rect.focus()
    page.keyboard.press("ArrowLeft")
    generation = submit_and_finish(page)
    position = sent(generation)["video"]["source_position"]
    assert position["x_norm"] == pytest.approx(-0.01)
    assert position["y_norm"] == pytest.approx(y)
    assert generation.parent == source


def test_split_an_image_into_layers(page: Page, owner: User, picture: Path) -> None:
    log_in(page, owner)
    page.click("a.modes__tab:has-text('Layers')")
    page.set_input_files("input[name=source]", str(picture))
    generation = submit_and_finish(page)
    assert generation.outputs.count() >= 2
    page.goto(generation.get_absolute_url())
    expect(page.locator(".layers__item").first).to_be_visible()


def test_a_refused_form_keeps_the_chosen_reference(page: Page, owner: User, picture: Path) -> None:
    log_in(page, owner)
    page.set_input_files("input[name=image_ref]", str(picture))
    page.click("button:has-text('Generate')")
    expect(page.locator("#create-form")).to_contain_text("Write a prompt.")
    kept = page.locator("[data-slot=image_ref] .kept__item")
    expect(kept).to_contain_text("sketch.png")
    expect(kept.locator("input[type=checkbox]")).to_be_checked()
    expect(kept.locator("img")).to_have_js_property("complete", True)
    page.fill("textarea[name=prompt]", "a castle in the style of the reference")
    generation = submit_and_finish(page)
    assert len(sent(generation)["image_ref"]) == 1
    assert generation.inputs.get().original_name == "sketch.png"


def test_remix_keeps_both_references(page: Page, owner: User, picture: Path, tmp_path) -> None:
    other = tmp_path / "other.png"
    Image.new("RGB", (90, 120), "teal").save(other, "PNG")
    log_in(page, owner)
    page.fill("textarea[name=prompt]", "two references")
    page.set_input_files("input[name=image_ref]", [str(picture), str(other)])
    original = submit_and_finish(page)
    page.goto(original.get_absolute_url())
    page.click("a.button:has-text('Remix')")
    kept = page.locator("[data-slot=image_ref] .kept__item")
    expect(kept).to_have_count(2)
    expect(kept.nth(1)).to_contain_text("other.png")
    remix = submit_and_finish(page)
    assert len(sent(remix)["image_ref"]) == 2
    assert remix.parent == original


def test_animate_starts_from_the_images_ratio_and_prompt(page: Page, owner: User) -> None:
    image, _ = start_generation(
        owner, schema.GenerationRequest(prompt="a tall lighthouse", aspect_ratio="9:16")
    )
    log_in(page, owner)
    expect(page.locator(f"#card-{image.uuid}")).to_have_attribute(
        "data-state", "completed", timeout=30_000
    )
    page.goto(image.get_absolute_url())
    page.click("a.button:text-is('Animate')")
    expect(page.locator("select[name=aspect_ratio]")).to_have_value("9:16")
    expect(page.locator("textarea[name=prompt]")).to_have_value("a tall lighthouse")
    video = submit_and_finish(page)
    assert sent(video)["aspect_ratio"] == "9:16"
    assert video.parent == image
