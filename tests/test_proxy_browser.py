"""A gateway video as a person makes one: a start image from the gallery, finished live (the
gateway's hook, not the poll timer, brings the news), archived, shown at desktop and phone size."""

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Browser, expect

from generations.models import ArchiveState, EventKind, Generation, Output, State
from generations.simulators import media as sim_media
from tests.conftest import ROOT, app_env, checked_page, log_in

pytestmark = [pytest.mark.system, pytest.mark.browser]

# So long that only the gateway's hook can bring a finished job to the page within the test.
POLL_INTERVAL = 120


@pytest.fixture
def hooked_worker(live_app: str, settings) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker whose jobs carry hooks to the live app, and which polls only every 2 min."""
    settings.LUMAWEB_PUBLIC_URL = live_app
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--interval", "0.05"],
        cwd=ROOT,
        env={
            **app_env(settings),
            "LUMAWEB_POLL_INTERVAL": str(POLL_INTERVAL),
            "LUMAWEB_PUBLIC_URL": live_app,
        },
    )
    yield process
    process.terminate()
    process.wait(timeout=10)


def sky_piece(owner: User) -> Generation:
    """A finished, archived, plain blue image in the gallery: the start of the video."""
    buffer = io.BytesIO()
    Image.new("RGB", (256, 144), (20, 60, 230)).save(buffer, "PNG")
    image = buffer.getvalue()
    piece = Generation.objects.create(
        created_by=owner, kind="image", model="uni-1", prompt="a blue sky", request={},
        state=State.COMPLETED, upstream_id="piece-sky", finished_at=timezone.now(),
    )  # fmt: skip
    output = piece.outputs.create(
        index=0, kind="image", url="https://expired.test/sky.png", url_expires_at=timezone.now(),
        archive_state=ArchiveState.ARCHIVED, mime_type="image/png", size_bytes=len(image),
        width=256, height=144,
    )  # fmt: skip
    output.file.save("outputs/sky/0.png", ContentFile(image))
    return piece


def until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.usefixtures("hooked_worker")
def test_a_gateway_video_from_a_gallery_image_finishes_live_by_its_hook(
    browser: Browser, live_app: str, owner: User, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)  # for people to look at
    piece = sky_piece(owner)
    with checked_page(browser, live_app) as page:
        log_in(page, owner)
        page.goto(f"/g/{piece.uuid}/")
        page.click("a:has-text('Animate via Luma proxy')")
        expect(page.locator("a.modes__tab--active")).to_have_text("Video Proxy")
        expect(page.locator("select[name=image_url_pick]")).to_have_value(str(piece.uuid))
        page.fill("textarea[name=prompt]", "clouds drift across the sky")
        page.select_option("select[name=aspect_ratio]", "16:9")
        page.check("input[name=loop]")
        started = time.monotonic()
        page.click("button:has-text('Generate')")
        until(lambda: Generation.objects.filter(provider="proxy").exists())
        video = Generation.objects.get(provider="proxy")
        card = page.locator(f"#card-{video.uuid}")
        expect(card).to_have_attribute("data-state", "completed", timeout=30_000)
        # Well before the first poll the timer would have made: the hook brought it.
        assert time.monotonic() - started < POLL_INTERVAL / 2
        video.refresh_from_db()
        assert video.state == State.COMPLETED
        assert video.events.filter(kind=EventKind.HOOK).exists()
        assert (video.parent, video.lineage) == (piece, "animate")
        output = video.outputs.get()
        until(lambda: Output.objects.get(pk=output.pk).archive_state == ArchiveState.ARCHIVED)
        output.refresh_from_db()
        # The gateway fetched the start image through its signed public link.
        first = sim_media.read_frame(output.file.read(), 0).convert("RGB")
        red, green, blue = first.getpixel((first.width // 2, first.height // 3))
        assert blue > 150 > red, (red, green, blue)
        shots.mkdir(parents=True, exist_ok=True)
        for width, name in ((1280, "desktop"), (390, "phone")):
            page.set_viewport_size({"width": width, "height": 900 if width > 800 else 844})
            page.goto(video.get_absolute_url())
            expect(page.locator("text=Luma proxy").first).to_be_visible()
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"the detail page is {overflow}px wider than {width}px"
            page.screenshot(path=str(shots / f"detail-{name}.png"))
            page.goto("/?mode=proxy")
            page.screenshot(path=str(shots / f"form-{name}.png"), full_page=True)
