"""Accessibility in Chromium: axe-core (npm, tests/a11y) finds no serious or critical
violation, and no page scrolls sideways on a 390 px phone, with failed, running and video cards.

`make install-a11y` (which `make test` runs) puts axe-core in tests/a11y/node_modules.
"""

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page

from generations.models import ArchiveState, Generation, State
from generations.simulators import media as sim_media
from tests.conftest import log_in

pytestmark = [pytest.mark.system, pytest.mark.browser]

AXE = Path(__file__).parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"wide": (1280, 900), "phone": (390, 844)}


def piece(user: User, prompt: str, **fields: object) -> Generation:
    return Generation.objects.create(
        created_by=user, kind=fields.pop("kind", "image"), model="uni-1", prompt=prompt,
        request={"prompt": prompt}, **fields,
    )  # fmt: skip


def archived_output(generation: Generation, *, video: bool, aspect_ratio: str) -> None:
    """Real media in storage, as the archiver leaves it."""
    base = f"outputs/{generation.uuid}/0"
    still = sim_media.render_image(generation.prompt, aspect_ratio=aspect_ratio, long_side=256)
    thumb = default_storage.save(f"{base}-thumb.png", ContentFile(still))
    if video:
        data = sim_media.render_video(generation.prompt, aspect_ratio=aspect_ratio, seconds=1)
        original = default_storage.save(f"{base}.mp4", ContentFile(data))
    else:
        original = default_storage.save(f"{base}.png", ContentFile(still))
    generation.outputs.create(
        index=0, kind="video" if video else "image", url="https://cdn.test/gone.png",
        url_expires_at=timezone.now() - timedelta(hours=2), archive_state=ArchiveState.ARCHIVED,
        file=original, thumb=thumb, thumb_large=thumb, poster=thumb if video else "",
        duration=1.0 if video else None,
    )  # fmt: skip


@pytest.fixture
def studio_pages(live_app: str, owner: User, staff: User) -> dict[str, str]:
    """Failed, running, video and very wide/tall pieces; the addresses of the pages to check."""
    video = piece(owner, "A slow dolly across a harbour at dawn", kind="video",
                  state=State.COMPLETED, aspect_ratio="9:16")  # fmt: skip
    archived_output(video, video=True, aspect_ratio="9:16")
    wide = piece(owner, "A panorama of salt flats, " + "very " * 30 + "wide",
                 state=State.COMPLETED, aspect_ratio="21:9")  # fmt: skip
    archived_output(wide, video=False, aspect_ratio="21:9")
    piece(owner, "A kettle about to boil", state=State.PROCESSING,
          submitted_at=timezone.now() - timedelta(seconds=20))  # fmt: skip
    piece(owner, "Something the moderator refused", state=State.FAILED,
          failure_code="content_moderated", failure_reason="Flagged by the moderation model.",
          finished_at=timezone.now())  # fmt: skip
    return {
        "studio": "/",
        # Its defaults grey out EXR export, with the reason under it (warning text).
        "studio-video": "/?mode=video",
        "gallery": "/gallery/",
        "detail": video.get_absolute_url(),
        "review": "/review/",
        "boards": "/boards/",
        "usage": "/usage/",
        "trash": "/trash/",
        "tokens": "/tokens/",
    }


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Screenshots for people to look at (SCREENSHOT_DIR, or the test's own directory)."""
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def contexts(browser: Browser, live_app: str) -> Iterator[dict[str, BrowserContext]]:
    """A wide and a phone-sized window; the CSP is bypassed only so that axe can be injected."""
    made = {
        name: browser.new_context(
            base_url=live_app, viewport={"width": w, "height": h}, bypass_csp=True
        )
        for name, (w, h) in SIZES.items()
    }
    yield made
    for context in made.values():
        context.close()


def signed_in(context: BrowserContext, user: User) -> Page:
    page = context.new_page()
    log_in(page, user)
    return page


def horizontal_overflow(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def serious_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def test_no_page_scrolls_sideways_on_a_phone(
    contexts: dict[str, BrowserContext], studio_pages: dict[str, str], staff: User, shots: Path
) -> None:
    page = signed_in(contexts["phone"], staff)
    too_wide = {}
    for name, url in studio_pages.items():
        page.goto(url)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / f"{name}-390.png"), full_page=True)
        too_wide[name] = horizontal_overflow(page)
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.screenshot(path=str(shots / "login-390.png"), full_page=True)
    too_wide["login"] = horizontal_overflow(page)
    assert too_wide == dict.fromkeys(too_wide, 0), "pixels beyond a 390 px screen"


@pytest.mark.parametrize("size", SIZES)
def test_axe_finds_no_serious_or_critical_violation(
    contexts: dict[str, BrowserContext],
    studio_pages: dict[str, str],
    staff: User,
    shots: Path,
    size: str,
) -> None:
    assert AXE.exists(), "axe-core is missing: make install-a11y"
    page = signed_in(contexts[size], staff)
    found = {}
    for name, url in studio_pages.items():
        page.goto(url)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / f"{name}-{SIZES[size][0]}.png"), full_page=True)
        found[name] = serious_violations(page)
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    found["login"] = serious_violations(page)
    assert all(not problems for problems in found.values()), found
