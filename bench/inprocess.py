"""The benchmark's side that uses Django directly, on the benchmark's own database.

Imported only after `django.setup()` with the benchmark's environment (bench/run.py does it).
"""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.db import connection
from django.db.models import Count, F
from django.test import Client
from django.test.utils import CaptureQueriesContext

from generations.gallery import PAGE_SIZE, encode_cursor
from generations.models import ACTIVE_STATES, Generation, State, UpstreamCallCount
from generations.providers.agents import schema
from generations.providers.dream_machine import schema as dream_schema
from generations.simulators import media as sim_media
from generations.simulators.models import DreamGeneration, SimGeneration
from generations.tasks import start_generation
from generations.uploads import check_video

DEEP_PAGE = 500  # the page #18 names for the 100,000 and 1,000,000 runs
POLLED_CARDS = 12  # running cards on the page whose poll is measured


def create_user(username: str, password: str) -> None:
    get_user_model().objects.create_user(username, f"{username}@example.com", password)


def deep_page() -> int:
    """Page 500, or the last full page of a smaller data set."""
    return max(2, min(DEEP_PAGE, Generation.objects.count() // PAGE_SIZE))


def pick_urls() -> dict[str, str]:
    """The URLs the benchmark loads, chosen from the seeded data."""
    newest = Generation.objects.order_by("-created_at", "-id")
    page = deep_page()
    before_it = newest[(page - 1) * PAGE_SIZE - 1]
    detail = (
        Generation.objects.filter(state=State.COMPLETED, kind="video", parent__isnull=False)
        .annotate(made_from_it=Count("children"))
        .filter(made_from_it__gte=2)
        .order_by("-created_at")
        .first()
    )
    running = list(newest.filter(state__in=ACTIVE_STATES)[:POLLED_CARDS])
    active = running[0] if running else None
    if detail is None or active is None:
        raise SystemExit("bench: the seeded data has no video with lineage or no unfinished job")
    return {
        "static": staticfiles_storage.url("css/app.css"),
        "deep": f"/gallery/?cursor={encode_cursor(before_it)}",
        "filtered": "/gallery/?q=lighthouse&kind=image&state=completed",
        "detail": detail.get_absolute_url(),
        "card": f"/g/{active.uuid}/card",
        # What a page with running cards polls: each with the state it shows (static/js/app.js).
        "poll": "/poll?seen=" + ",".join(f"{g.uuid}:{g.state}" for g in running),
    }


@dataclass
class Changes:
    """A teammate's changes while the pages are loaded: one job of the first gallery page (or
    the detail page's job) changes what its card shows every `every` seconds. The harness sets
    `every` to the page's own time per request, so each request follows about one change, as a
    page viewed after a teammate's change is."""

    every: float = 0.1
    count: int = 0


@contextlib.contextmanager
def changing(detail_url: str) -> Iterator[Changes]:
    first_page = Generation.objects.order_by("-created_at", "-id").values_list("pk", flat=True)
    detail = Generation.objects.get(uuid=detail_url.strip("/").split("/")[-1]).pk
    jobs = [*first_page[:PAGE_SIZE], detail]
    stop = threading.Event()
    changes = Changes()
    prompts = dict(Generation.objects.filter(pk__in=jobs).values_list("pk", "prompt"))

    def write() -> None:
        while not stop.wait(changes.every):
            pk = jobs[changes.count % len(jobs)]
            # A change the pages show (the job's card, its detail page), so that a page after it
            # renders that card anew, as after a teammate's job finishes.
            prompt = f"{prompts[pk]} ({changes.count})"
            Generation.objects.filter(pk=pk).update(prompt=prompt)
            changes.count += 1
        connection.close()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        yield changes
    finally:
        stop.set()
        thread.join()
        for pk, prompt in prompts.items():  # as seeded again, for what is measured next
            Generation.objects.filter(pk=pk).update(prompt=prompt)


def count_queries(url: str, headers: dict[str, str], *, rendered: bool = False) -> int:
    """SQL queries of one logged-in request, the whole middleware stack included.

    As a browser asks: with the CSRF cookie its first page set, after the page was seen once
    (a page-cache hit), or at a new address every time (`rendered`, as bench/render.lua does).
    """
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="bench"))
    separator = "&" if "?" in url else "?"
    addresses = (f"{url}{separator}render={n}" if rendered else url for n in range(3))
    client.get(next(addresses), headers=headers)  # the first page sets the CSRF cookie
    client.get(next(addresses), headers=headers)  # seen once
    with CaptureQueriesContext(connection) as queries:
        response = client.get(next(addresses), headers=headers)
    if response.status_code not in (200, 204):
        raise SystemExit(f"bench: {url} answered {response.status_code} in-process")
    return len(queries)


def start_job(prompt: str, provider: str = "agents") -> str:
    """An image job sent as the studio sends one: to the Agents API (polled), or to Dream Machine
    (whose callback to LUMAWEB_PUBLIC_URL makes the studio poll it at once)."""
    user = get_user_model().objects.get(username="bench")
    request = (
        dream_schema.ImageRequest(model="photon-1", prompt=prompt)
        if provider == "dream_machine"
        else schema.GenerationRequest(prompt=prompt)
    )
    generation, _ = start_generation(user, request, provider=provider)
    return str(generation.uuid)


def _generation(uuid: str) -> Generation:
    return Generation.objects.get(uuid=uuid)


def upstream_state(uuid: str) -> str:
    return _generation(uuid).state


def wait_until(done: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: gave up waiting after {seconds:g} s")
        time.sleep(0.2)


def upstream_gets(uuid: str) -> int:
    """Upstream GETs of a job so far: every counted call (one job is running at the time)."""
    return sum(
        UpstreamCallCount.objects.filter(endpoint="GET /generations/{id}").values_list(
            "count", flat=True
        )
    )


def poll_interval() -> float:
    return float(settings.LUMAWEB_POLL_INTERVAL)


def lengthen_upstream(uuid: str, seconds: float) -> None:
    """Make the simulator take `seconds` longer over a job once Luma has it.

    The simulator's timings are fixed per kind, so jobs sent alike finish at the same point of
    the app's poll cycle; real jobs take varying times and finish anywhere in it.
    """
    wait_until(lambda: _generation(uuid).upstream_id is not None, 60)
    SimGeneration.objects.filter(id=upstream_id(uuid)).update(
        processing_seconds=F("processing_seconds") + seconds
    )


def upstream_id(uuid: str) -> str:
    """The simulator's id for a job that reached it."""
    sent = _generation(uuid).upstream_id
    if sent is None:
        raise SystemExit(f"bench: job {uuid} never reached the simulator")
    return sent


def upstream_finished_at(uuid: str) -> float:
    """When the simulator of the job's provider finished it."""
    sent = DreamGeneration if _generation(uuid).provider == "dream_machine" else SimGeneration
    return sent.objects.get(id=upstream_id(uuid)).finishes_at.timestamp()


def write_padded_mp4(path: Path, size: int) -> None:
    """A real 5 s H.264 MP4 padded to `size` bytes with a trailing `free` box (valid ISO BMFF)."""
    video = sim_media.render_video("a long take", seconds=5, long_side=128)
    padding = size - len(video) - 8  # the box's own header is 8 bytes
    chunk = bytes(1024 * 1024)
    with path.open("wb") as out:
        out.write(video)
        out.write((padding + 8).to_bytes(4, "big") + b"free")
        left = padding
        while left > 0:
            out.write(chunk[: min(len(chunk), left)])
            left -= len(chunk)


def time_check_video(path: Path) -> float:
    """Seconds `check_video` takes on the file as Django's temp-file upload handler keeps it."""
    upload = TemporaryUploadedFile(path.name, "video/mp4", path.stat().st_size, None)
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(1024 * 1024), b""):
            upload.write(chunk)
    upload.seek(0)
    started = time.monotonic()
    check_video(upload)
    seconds = time.monotonic() - started
    upload.close()
    return seconds


def wait_sent(idempotency_key: str, seconds: float) -> str:
    """Wait until the uploaded job left the worker's hands; say how it went."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        generation = Generation.objects.filter(idempotency_key=idempotency_key).first()
        if generation is None:
            return "not created (the form refused it)"
        if generation.state not in (State.DRAFT, State.SUBMITTING):
            code = f" ({generation.failure_code})" if generation.failure_code else ""
            return f"{generation.state}{code}"
        time.sleep(0.5)
    return "still sending"
