"""Dream Machine in the browser: keyframes from the gallery, a weighted upload, upscale and audio
from the detail page, and uploads greyed without a public URL."""

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from PIL import Image
from playwright.sync_api import Page, expect

from generations.models import Generation, State
from generations.providers.dream_machine import schema
from generations.simulators.models import DreamGeneration
from generations.tasks import start_generation
from tests.conftest import ROOT, app_env, log_in

pytestmark = [pytest.mark.system, pytest.mark.browser]


@pytest.fixture
def worker(live_app: str, settings) -> Iterator[None]:
    """A real worker whose public URL is the live app, so the simulator can fetch uploads."""
    settings.LUMAWEB_PUBLIC_URL = live_app
    env = {**app_env(settings), "LUMAWEB_POLL_INTERVAL": "0.2", "LUMAWEB_PUBLIC_URL": live_app}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--interval", "0.05"], cwd=ROOT, env=env
    )
    yield
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go for people to look at (SCREENSHOT_DIR, else the test's tmp)."""
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def finish(generation: Generation) -> Generation:
    """Wait, generously, for the worker to finish a job."""
    deadline = time.monotonic() + 60
    while not generation.is_terminal:
        assert time.monotonic() < deadline, "the job did not finish in time"
        time.sleep(0.1)
        generation.refresh_from_db()
    assert generation.state == State.COMPLETED, generation.failure_reason
    return generation


def submit_and_finish(page: Page) -> Generation:
    before = set(Generation.objects.values_list("pk", flat=True))
    token = page.locator("input[name=idempotency_key]")
    used = token.input_value()
    page.click("#create-form button:has-text('Generate')")
    expect(token).not_to_have_value(used)
    generation = Generation.objects.exclude(pk__in=before).get()
    card = page.locator(f"#card-{generation.uuid}")
    expect(card).to_have_attribute("data-state", "completed", timeout=60_000)
    generation.refresh_from_db()
    return generation


def made(owner: User, request: schema.AnyRequest) -> Generation:
    generation, _ = start_generation(owner, request, provider="dream_machine")
    return finish(generation)


def test_a_video_between_two_gallery_images_then_upscale_and_audio(
    page: Page, owner: User, worker: None, shots: Path
) -> None:
    dawn = made(owner, schema.ImageRequest(model="photon-1", prompt="a harbour at dawn"))
    dusk = made(owner, schema.ImageRequest(model="photon-1", prompt="a harbour at dusk"))
    log_in(page, owner)
    page.goto("/?mode=dm_video#create-form")
    # Each pick, made in the gallery picker, re-checks the options: wait for each answer (the
    # check re-renders them).
    for slot, prompt in (("frame0", "a harbour at dawn"), ("frame1", "a harbour at dusk")):
        opener = page.locator(f".slot[data-slot={slot}]").get_by_role("button", name="Pick")
        opener.click()
        with page.expect_response("**/create/options"):
            page.get_by_role("dialog").get_by_role("button", name=prompt).click()
    # With an end frame a loop is ruled out, with the schema's reason.
    expect(page.locator("input[name=loop]")).to_be_disabled()
    expect(page.locator(".option__reason")).to_contain_text("cannot have an end frame")
    page.fill("textarea[name=prompt]", "the day passes over the harbour")
    page.select_option("select[name=resolution]", "540p")
    page.check("input[name=concepts][value=orbit_left]")
    page.screenshot(path=shots / "browser-dm-video-1280.png")
    video = submit_and_finish(page)
    sent = DreamGeneration.objects.get(pk=video.upstream_id).request
    assert sent["keyframes"] == {
        "frame0": {"type": "generation", "id": dawn.upstream_id},
        "frame1": {"type": "generation", "id": dusk.upstream_id},
    }
    assert sent["concepts"] == [{"key": "orbit_left"}]

    page.goto(video.get_absolute_url())
    page.click("a:has-text('Upscale')")
    expect(page.locator("select[name=source_pick]")).to_have_value(str(video.uuid))
    page.select_option("select[name=resolution]", "4k")
    upscaled = submit_and_finish(page)
    assert upscaled.parent == video
    assert upscaled.request["resolution"] == "4k"

    page.goto(video.get_absolute_url())
    page.click("a:has-text('Add audio')")
    page.fill("textarea[name=prompt]", "gulls and a distant bell")
    page.fill("input[name=negative_prompt]", "music")
    with_audio = submit_and_finish(page)
    assert with_audio.request["generation_type"] == "add_audio"
    page.goto(with_audio.get_absolute_url())
    page.screenshot(path=shots / "browser-dm-audio-detail-1280.png")


def test_an_image_with_a_weighted_uploaded_reference(
    page: Page, owner: User, worker: None, tmp_path: Path
) -> None:
    picture = tmp_path / "reference.png"
    buffer = io.BytesIO()
    Image.new("RGB", (120, 90), "orange").save(buffer, "PNG")
    picture.write_bytes(buffer.getvalue())
    log_in(page, owner)
    page.goto("/?mode=dm_image#create-form")
    # Choosing a file re-renders the options: wait for them before typing into one (for the
    # check's answer, then for it to be in the page: htmx puts it there a moment after it arrives).
    with page.expect_response("**/create/options"):
        page.set_input_files("input[name=image_ref]", picture)
    expect(page.locator("#options.htmx-request")).to_have_count(0)
    # A weight typed while a check is still on its way could be re-rendered away: leave the field
    # (its change is checked too) and wait for that check before going on.
    with page.expect_response("**/create/options"):
        page.fill("input[name=image_ref_weight]", "0.3")
        page.locator("textarea[name=prompt]").click()
    expect(page.locator("input[name=image_ref_weight]")).to_have_value("0.3")
    page.fill("textarea[name=prompt]", "an orange lantern")
    image = submit_and_finish(page)
    sent = DreamGeneration.objects.get(pk=image.upstream_id).request
    [reference] = sent["image_ref"]
    assert reference["weight"] == 0.3
    assert "/public/" in reference["url"]


def test_uploads_are_greyed_without_a_public_url(
    page: Page, owner: User, settings, shots: Path
) -> None:
    settings.LUMAWEB_PUBLIC_URL = ""
    log_in(page, owner)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/?mode=dm_image#create-form")
        expect(page.locator("input[name=image_ref]")).to_be_disabled()
        expect(page.locator(".slot__reason").first).to_contain_text("LUMAWEB_PUBLIC_URL")
        page.locator("#create-form").screenshot(path=shots / f"browser-dm-greyed-{width}.png")
