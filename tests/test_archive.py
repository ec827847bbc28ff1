"""Outputs outlive the upstream: archiving, thumbnails, fresh links, the alert state."""

import gzip
import hashlib
import io
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import av
import httpx
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django_tasks_db.models import DBTaskResult
from PIL import Image

from generations import providers
from generations.models import (
    ArchiveState,
    EventKind,
    Generation,
    Output,
    State,
    UpstreamCallCount,
)
from generations.presigned import presigned_expiry
from generations.providers.agents import schema
from generations.simulators.agents import engine
from generations.simulators.models import SimFault, SimGeneration, SimOutput
from generations.tasks import archive_outputs, request_url_refresh, start_generation, sweep
from tests.factories import completed, sim_fault

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def quick_retries(settings) -> None:
    settings.LUMAWEB_ARCHIVE_RETRY_DELAY = 0.01


def upstream_bytes(output: Output) -> bytes:
    """What the simulator serves for this output, read from its own disk."""
    sim_id = urlsplit(output.url).path.split("/")[-2]
    return (engine.media_dir() / SimOutput.objects.get(pk=sim_id).filename).read_bytes()


def stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def archived(generation: Generation) -> Callable[[], bool]:
    def check() -> bool:
        states = list(generation.outputs.values_list("archive_state", flat=True))
        return bool(states) and all(state == ArchiveState.ARCHIVED for state in states)

    return check


def storage_files(folder: str = "") -> set[str]:
    """The name of every file in storage."""
    if not default_storage.exists(folder):
        return set()
    folders, files = default_storage.listdir(folder)
    found = {f"{folder}{name}" for name in files}
    for sub in folders:
        found |= storage_files(f"{folder}{sub}/")
    return found


def fault_downloads(kind: str, count: int = 1, delay: float | None = None) -> None:
    """Make the simulator's next `count` output downloads fail as `kind` says."""
    sim_fault(kind, remaining=count, method="GET", path="/sim/v1/outputs/", delay=delay)


def job_lookups() -> int:
    """How many times the app has asked upstream for a job (a URL refresh is one)."""
    calls = UpstreamCallCount.objects.filter(endpoint="GET /generations/{id}")
    return calls.aggregate(total=Sum("count"))["total"] or 0


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory downloads are streamed into, empty and for this test alone."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


class FlakyStorage(httpx.BaseTransport):
    """The object store in front of the simulator's downloads, failing the first `count`."""

    def __init__(self, inner: httpx.BaseTransport, status: int, count: int) -> None:
        self.inner, self.status, self.count = inner, status, count
        self.downloads = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if "/outputs/" in request.url.path:
            self.downloads += 1
            if self.downloads <= self.count:
                return httpx.Response(self.status, text="Service Unavailable")
        return self.inner.handle_request(request)


class CompressingStorage(httpx.BaseTransport):
    """An object store that gzips downloads: when asked to, or (`always`) even when not."""

    def __init__(self, inner: httpx.BaseTransport, *, always: bool) -> None:
        self.inner, self.always = inner, always
        self.asked: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if "/outputs/" not in request.url.path:
            return response
        accepted = request.headers.get("Accept-Encoding", "")
        self.asked.append(accepted)
        response.read()
        if not (self.always or "gzip" in accepted):
            return response
        body = gzip.compress(response.content)
        headers = {
            "Content-Type": response.headers["Content-Type"],
            "Content-Encoding": "gzip",
            "Content-Length": str(len(body)),
        }
        return httpx.Response(response.status_code, headers=headers, content=body)


@pytest.mark.parametrize("always", [False, True], ids=["when-asked", "always"])
def test_a_store_that_compresses_still_gives_the_exact_bytes(
    owner, always: bool, monkeypatch
) -> None:
    generation = completed(owner)
    assert providers.transport is not None
    store = CompressingStorage(providers.transport, always=always)
    monkeypatch.setattr(providers, "transport", store)
    archive_outputs.call(str(generation.uuid))
    output = generation.outputs.get()
    assert output.is_archived, output.archive_error
    assert store.asked == ["identity"]
    assert stored(output.file.name) == upstream_bytes(output)


@pytest.fixture
def flaky() -> Iterator[Callable[[int, int], FlakyStorage]]:
    original = providers.transport

    def install(status: int, count: int) -> FlakyStorage:
        assert original is not None
        providers.transport = FlakyStorage(original, status, count)
        return providers.transport

    yield install
    providers.transport = original


# --- archiving ---


def test_a_finished_job_is_archived_by_the_worker(owner, run_worker) -> None:
    generation, _ = start_generation(owner, schema.GenerationRequest(prompt="kept forever"))
    run_worker(archived(generation))
    [output] = generation.outputs.all()
    assert output.is_archived
    assert output.file.name == f"outputs/{generation.uuid}/0.png"


def test_the_original_is_stored_with_its_checksum_and_image_thumbnails(owner) -> None:
    generation = completed(owner, aspect_ratio="16:9")
    archive_outputs.call(str(generation.uuid))
    [output] = generation.outputs.all()
    original = upstream_bytes(output)
    assert output.archive_state == ArchiveState.ARCHIVED
    assert stored(output.file.name) == original
    assert output.sha256 == hashlib.sha256(original).hexdigest()
    assert output.size_bytes == len(original)
    assert output.mime_type == "image/png"
    with Image.open(io.BytesIO(original)) as image:
        assert (output.width, output.height) == image.size
    with Image.open(default_storage.open(output.thumb.name)) as thumb:
        assert thumb.format == "WEBP"
        assert min(thumb.size) <= 480
    with Image.open(default_storage.open(output.thumb_large.name)) as large:
        assert large.format == "WEBP"
        assert max(large.size) <= 1600
    assert not output.poster.name
    assert not output.preview.name


def test_a_video_gets_a_poster_and_a_short_muted_preview(owner) -> None:
    generation = completed(
        owner, prompt="waves", type="video", model="ray-3.2", aspect_ratio="16:9"
    )
    archive_outputs.call(str(generation.uuid))
    [output] = generation.outputs.all()
    assert output.mime_type == "video/mp4"
    assert output.duration == pytest.approx(5.0, abs=0.1)
    with Image.open(default_storage.open(output.poster.name)) as poster:
        assert poster.format == "WEBP"
        assert poster.size == (output.width, output.height)
    with av.open(default_storage.open(output.preview.name)) as preview:
        assert not preview.streams.audio
        stream = preview.streams.video[0]
        assert float(stream.duration * stream.time_base) == pytest.approx(2.0, abs=0.1)
        assert max(stream.codec_context.width, stream.codec_context.height) <= 480


@pytest.mark.parametrize("kind", ["image", "video"])
def test_an_output_over_the_pixel_limit_is_kept_without_being_decoded(
    owner, settings, kind: str
) -> None:
    """Left open last stop: the worker decoded every output's frames for its thumbnails, however
    large its header said they were (a gateway's output as much as Luma's), where an upload over
    LUMAWEB_UPLOAD_MAX_PIXELS is refused before any pixel is decoded."""
    settings.LUMAWEB_UPLOAD_MAX_PIXELS = 1000
    request = {"type": "video", "model": "ray-3.2"} if kind == "video" else {}
    generation = completed(owner, prompt="too big to draw", **request)
    archive_outputs.call(str(generation.uuid))
    [output] = generation.outputs.all()
    assert output.archive_state == ArchiveState.ARCHIVED
    assert stored(output.file.name) == upstream_bytes(output)  # the original, whole
    assert output.width * output.height > 1000  # what its header says
    made = [output.thumb, output.thumb_large, output.poster, output.preview]
    assert not [rendition.name for rendition in made if rendition.name]


def test_layers_are_archived_with_their_labels_and_transparency(owner) -> None:
    source = completed(owner, prompt="a fox in a meadow")
    layered = completed(
        owner,
        prompt="split the fox from the meadow",
        type="layering",
        source=schema.ImageRef(generation_id=source.upstream_id),
    )
    archive_outputs.call(str(layered.uuid))
    outputs = list(layered.outputs.all())
    assert len(outputs) == 3
    assert all(output.is_archived for output in outputs)
    assert [output.layer["index"] for output in outputs] == [0, 1, 2]
    assert all(output.layer["label"] for output in outputs)
    with Image.open(default_storage.open(outputs[0].thumb.name)) as thumb:
        assert thumb.mode == "RGBA"


def test_archiving_survives_a_403_on_the_first_download(owner) -> None:
    generation = completed(owner)
    output = generation.outputs.get()
    # A link that died before the time we were told: the store answers 403.
    path = urlsplit(output.url).path
    dead = engine.signed_url("http://sim.test", path, ttl=-60)
    Output.objects.filter(pk=output.pk).update(url=dead)
    assert providers.transport is not None
    with httpx.Client(transport=providers.transport) as http:
        assert http.get(dead).status_code == 403
    archive_outputs.call(str(generation.uuid))
    output.refresh_from_db()
    assert output.is_archived
    assert output.archive_attempts == 1
    assert output.url != dead  # refreshed from upstream
    assert stored(output.file.name) == upstream_bytes(output)


@pytest.mark.parametrize("status", [429, 503])
def test_archiving_survives_a_busy_store_on_the_first_download(
    owner, flaky, run_worker, status: int
) -> None:
    generation = completed(owner)
    storage = flaky(status, 1)
    archive_outputs.call(str(generation.uuid))
    output = generation.outputs.get()
    assert output.archive_state == ArchiveState.PENDING
    assert output.archive_error == f"The storage answered {status}."
    run_worker(archived(generation))
    output.refresh_from_db()
    assert output.archive_attempts == 2
    assert storage.downloads == 2
    assert output.sha256 == hashlib.sha256(upstream_bytes(output)).hexdigest()


def test_an_injected_403_on_the_download_is_survived_with_a_fresh_link(owner, scratch) -> None:
    generation = completed(owner)
    lookups = job_lookups()
    fault_downloads("403")  # the store refuses a link whose signature is still good
    archive_outputs.call(str(generation.uuid))
    output = generation.outputs.get()
    assert output.is_archived
    assert output.archive_attempts == 1
    assert job_lookups() == lookups + 1  # a fresh link, then the download again
    assert not SimFault.objects.filter(remaining__gt=0).exists()
    assert stored(output.file.name) == upstream_bytes(output)
    assert storage_files() == set(output.stored_files)
    assert not any(scratch.iterdir())


@pytest.mark.parametrize("kind", ["partial", "timeout"])
def test_a_download_cut_off_midway_is_never_stored_and_the_retry_is_whole(
    owner, run_worker, scratch, kind: str
) -> None:
    generation = completed(owner, prompt="waves", type="video", model="ray-3.2")
    fault_downloads(kind, delay=0.05)  # half the video, then (after a stall) nothing
    archive_outputs.call(str(generation.uuid))
    output = generation.outputs.get()
    whole = upstream_bytes(output)
    assert output.archive_state == ArchiveState.PENDING
    assert output.archive_error == (
        f"The download stopped after {len(whole) // 2} of {len(whole)} bytes."
    )
    assert storage_files() == set()
    assert not any(scratch.iterdir())
    run_worker(archived(generation))
    output.refresh_from_db()
    assert output.archive_attempts == 2
    assert output.size_bytes == len(whole)
    assert stored(output.file.name) == whole
    with av.open(default_storage.open(output.file.name)) as video:
        assert sum(1 for _ in video.decode(video=0)) == 120  # 5 s at 24 fps, every frame
    assert storage_files() == set(output.stored_files)
    assert not any(scratch.iterdir())


@pytest.mark.parametrize(("kind", "error"), [("reset", "ReadError"), ("timeout", "ReadTimeout")])
def test_a_download_dropped_on_a_real_socket_is_retried_whole(
    live_app, owner, run_worker, scratch, settings, kind: str, error: str
) -> None:
    settings.LUMAWEB_ARCHIVE_READ_TIMEOUT = 1.0
    generation = completed(owner)
    fault_downloads(kind, delay=3.0)  # a stall well past the read timeout
    archive_outputs.call(str(generation.uuid))
    output = generation.outputs.get()
    assert output.archive_state == ArchiveState.PENDING
    assert output.archive_error == f"The download failed: {error}"
    assert storage_files() == set()
    assert not any(scratch.iterdir())
    run_worker(archived(generation))
    output.refresh_from_db()
    assert output.archive_attempts == 2
    whole = upstream_bytes(output)
    assert stored(output.file.name) == whole
    with Image.open(default_storage.open(output.file.name)) as image:
        image.load()
        assert image.format == "PNG"
    assert storage_files() == set(output.stored_files)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("403", "The link answered 403."), ("partial", "The download stopped after ")],
)
def test_an_output_whose_downloads_keep_failing_stays_upstream_and_flagged(
    owner, run_worker, scratch, settings, client: Client, kind: str, reason: str
) -> None:
    settings.LUMAWEB_ARCHIVE_MAX_ATTEMPTS = 3
    generation = completed(owner)
    fault_downloads(kind, count=100)
    archive_outputs.enqueue(str(generation.uuid))

    def given_up() -> bool:
        return generation.outputs.get().archive_state == ArchiveState.FAILED

    run_worker(given_up)
    runs = DBTaskResult.objects.filter(task_path__endswith="archive_outputs")
    assert list(runs.values_list("status", flat=True)) == ["SUCCESSFUL"] * 3  # nothing raised
    generation.refresh_from_db()
    output = generation.outputs.get()
    assert generation.state == State.COMPLETED
    assert output.archive_attempts == 3
    assert output.archive_error.startswith(reason)
    assert generation.events.filter(kind=EventKind.ARCHIVE_FAILED).count() == 1
    client.force_login(owner)
    html = client.get(generation.get_absolute_url()).content.decode()
    assert f'href="{escape(output.url)}"' in html  # still offered from upstream
    assert f"<strong>Not archived.</strong> {escape(output.archive_error)}" in html
    assert storage_files() == set()
    assert not any(scratch.iterdir())


def test_an_output_that_cannot_be_archived_ends_in_the_alert_state(
    owner, flaky, run_worker, settings
) -> None:
    settings.LUMAWEB_ARCHIVE_MAX_ATTEMPTS = 3
    generation = completed(owner)
    flaky(503, 100)
    archive_outputs.call(str(generation.uuid))

    def given_up() -> bool:
        return generation.outputs.get().archive_state == ArchiveState.FAILED

    run_worker(given_up)
    output = generation.outputs.get()
    assert output.archive_attempts == 3
    assert "503" in output.archive_error
    assert generation.events.filter(kind=EventKind.ARCHIVE_FAILED).count() == 1
    assert not default_storage.exists(f"outputs/{generation.uuid}")


def test_a_not_archived_output_recovers_after_an_outage_outlasting_the_fast_tries(
    owner, staff, run_worker, settings, client: Client
) -> None:
    settings.LUMAWEB_ARCHIVE_MAX_ATTEMPTS = 3
    settings.LUMAWEB_ARCHIVE_SLOW_RETRY = 3600
    generation = completed(owner)
    fault_downloads("partial", count=3)  # the outage: exactly the fast tries
    archive_outputs.enqueue(str(generation.uuid))
    run_worker(lambda: generation.outputs.get().archive_state == ArchiveState.FAILED)
    output = generation.outputs.get()
    assert output.archive_next_at is not None
    assert output.archive_next_at > timezone.now() + timedelta(minutes=59)
    # Meanwhile cards never show the dying upstream link, and Review lists the piece.
    client.force_login(staff)
    card = client.get(reverse("generation-card", args=[generation.uuid])).content.decode()
    assert escape(output.url) not in card
    assert "Not archived" in card
    assert f'id="job-{generation.uuid}"' in client.get(reverse("triage")).content.decode()
    assert sweep(now=timezone.now())["archives"] == 0, "not before its slow retry is due"
    assert sweep(now=output.archive_next_at + timedelta(seconds=1))["archives"] == 1
    run_worker(lambda: generation.outputs.get().archive_state == ArchiveState.ARCHIVED)
    assert f'id="job-{generation.uuid}"' not in client.get(reverse("triage")).content.decode()


def test_refresh_from_upstream_archives_a_not_archived_output_again(
    owner, staff, run_worker, settings
) -> None:
    settings.LUMAWEB_ARCHIVE_MAX_ATTEMPTS = 1
    generation = completed(owner)
    fault_downloads("partial", count=1)
    archive_outputs.call(str(generation.uuid))
    assert generation.outputs.get().archive_state == ArchiveState.FAILED
    admin = Client()
    admin.force_login(staff)
    admin.post(reverse("triage-act", args=[generation.uuid]), {"action": "refresh"})
    output = generation.outputs.get()
    assert (output.archive_state, output.archive_attempts) == (ArchiveState.PENDING, 0)
    run_worker(lambda: generation.outputs.get().archive_state == ArchiveState.ARCHIVED)


def test_an_output_over_the_size_cap_is_refused_at_once(owner, settings) -> None:
    settings.LUMAWEB_ARCHIVE_MAX_BYTES = 1000
    generation = completed(owner)
    archive_outputs.call(str(generation.uuid))
    output = generation.outputs.get()
    assert output.archive_state == ArchiveState.FAILED
    assert output.archive_attempts == 1
    assert "1000" in output.archive_error
    assert not output.file.name
    assert not DBTaskResult.objects.filter(task_path__endswith="archive_outputs").exists()


def test_an_expired_output_of_a_job_luma_forgot_is_lost_plainly(owner) -> None:
    generation = completed(owner)
    generation.outputs.update(url_expires_at=timezone.now() - timedelta(minutes=1))
    SimGeneration.objects.all().delete()
    archive_outputs.call(str(generation.uuid))
    output = generation.outputs.get()
    assert output.archive_state == ArchiveState.FAILED
    assert "no longer knows" in output.archive_error


def test_the_sweep_archives_what_a_crash_left_behind(owner, run_worker) -> None:
    generation = completed(owner)
    generation.finished_at = timezone.now() - timedelta(minutes=10)
    generation.save(update_fields=["finished_at"])
    found = sweep()
    assert found["archives"] == 1
    assert sweep()["archives"] == 0, "a second sweep must not enqueue the same output again"
    run_worker(archived(generation))


def test_a_second_archiver_finds_nothing_to_do(owner) -> None:
    generation = completed(owner)
    output = generation.outputs.get()
    assert output.claim_archive(lease=60)
    archive_outputs.call(str(generation.uuid))  # another worker, same moment
    output.refresh_from_db()
    assert output.archive_state == ArchiveState.PENDING
    assert output.archive_attempts == 1


def test_thumbnails_can_be_rebuilt(owner) -> None:
    generation = completed(owner)
    archive_outputs.call(str(generation.uuid))
    output = generation.outputs.get()
    default_storage.delete(output.thumb.name)
    Output.objects.filter(pk=output.pk).update(thumb="")
    out = io.StringIO()
    call_command("rebuild_thumbnails", stdout=out)
    output.refresh_from_db()
    assert default_storage.exists(output.thumb.name)
    assert "1 output" in out.getvalue()


# --- links that are about to die are refreshed first, once ---


def test_an_unarchived_output_past_its_expiry_is_never_rendered(
    owner, settings, client: Client
) -> None:
    settings.LUMA_SIM_URL_TTL = -1  # the simulator signs links that are already dead
    generation = completed(owner)
    output = generation.outputs.get()
    assert output.url_expires_at < timezone.now()
    client.force_login(owner)
    pages = [
        client.get("/"),
        client.get(reverse("gallery")),
        client.get(reverse("generation-card", args=[generation.uuid])),
        client.get(generation.get_absolute_url()),
    ]
    for response in pages:
        html = response.content.decode()
        assert response.status_code == 200
        assert "/sim/v1/outputs/" not in html
    card = pages[2].content.decode()
    assert "Fetching a fresh link" in card
    assert 'data-poll="refresh"' in card


def test_a_url_about_to_die_is_refreshed_once_however_many_look(
    owner, settings, client: Client, run_worker
) -> None:
    settings.LUMA_SIM_URL_TTL = 120  # inside the 300 s safety margin
    generation = completed(owner)
    old = generation.outputs.get().url
    client.force_login(owner)
    for _ in range(3):
        html = client.get(reverse("generation-card", args=[generation.uuid])).content.decode()
        assert old not in html
    refreshes = DBTaskResult.objects.filter(task_path__endswith="refresh_output_urls")
    assert refreshes.count() == 1
    settings.LUMA_SIM_URL_TTL = 3600
    run_worker(lambda: not refreshes.exclude(status="SUCCESSFUL").exists())
    fresh = generation.outputs.get()
    assert fresh.url != old
    assert fresh.url_is_fresh
    response = client.get(reverse("poll"), {"seen": f"{generation.uuid}:refresh"})
    assert response.status_code == 200
    assert fresh.url.replace("&", "&amp;") in response.content.decode()
    assert "data-poll" not in response.content.decode()


def test_a_refresh_claim_lapses_so_a_failed_refresh_is_tried_again(owner) -> None:
    generation = completed(owner)
    request_url_refresh(generation)
    request_url_refresh(generation)
    Generation.objects.filter(pk=generation.pk).update(
        url_refresh_claimed_at=timezone.now() - timedelta(minutes=5)
    )
    request_url_refresh(generation)
    assert DBTaskResult.objects.filter(task_path__endswith="refresh_output_urls").count() == 2


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.test/a.png?expires=1700000000&signature=ab", 1_700_000_000),
        ("https://x.test/a.png?Expires=1700000000", 1_700_000_000),
        (
            "https://s3.test/a.png?X-Amz-Date=20231114T221320Z&X-Amz-Expires=600&X-Amz-Signature=x",
            1_700_000_000 + 600,
        ),
        ("https://gcs.test/a.png?X-Goog-Date=20231114T221320Z&X-Goog-Expires=60", 1_700_000_060),
        ("https://x.test/a.png?expires=soon", None),
        ("https://x.test/a.png", None),
    ],
)
def test_a_presigned_url_says_when_it_dies(url: str, expected: int | None) -> None:
    trusted = timezone.now() + timedelta(days=365 * 50)
    found = presigned_expiry(url, trusted)
    assert found.timestamp() == expected if expected else found == trusted
