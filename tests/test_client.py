"""AgentsClient against the simulator: each error class and the retry policy, by injected faults."""

import io
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished
from PIL import Image

from generations.providers import errors
from generations.providers.agents import schema
from generations.providers.agents.client import AgentsClient
from generations.providers.http import CallRecord
from generations.simulators.clock import SimClock
from generations.simulators.models import SimGeneration
from tests.conftest import SIM_URL, TEST_TOKEN
from tests.factories import sim_fault

pytestmark = pytest.mark.integration


def image_request(prompt: str = "a quiet harbour") -> schema.GenerationRequest:
    return schema.GenerationRequest(prompt=prompt)


class Recorder:
    """Collects the client's call records and the waits it asked for."""

    def __init__(self) -> None:
        self.calls: list[CallRecord] = []
        self.sleeps: list[float] = []

    def client(self, base_url: str = SIM_URL, **options: object) -> AgentsClient:
        transport = None if base_url != SIM_URL else httpx.WSGITransport(app=WSGIHandler())
        return AgentsClient(
            base_url,
            TEST_TOKEN,
            on_call=self.calls.append,
            sleep=self.sleeps.append,
            transport=transport,
            **options,  # type: ignore[arg-type]
        )

    def statuses(self, endpoint: str) -> list[str]:
        return [call.status for call in self.calls if call.endpoint == endpoint]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def fault(kind: str, count: int = 1, **extra: object) -> None:
    sim_fault(kind, token=TEST_TOKEN, remaining=count, **extra)


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "orange").save(buffer, "PNG")
    return buffer.getvalue()


# --- success ---


@pytest.mark.django_db
def test_create_and_get_return_parsed_replies_with_request_ids(
    sim_client: AgentsClient, sim_clock: SimClock
) -> None:
    created = sim_client.create_generation(image_request())  # upstream time stands still
    assert created.data.state == "queued"
    assert len(created.request_id) == 32
    polled = sim_client.get_generation(created.data.id)
    assert polled.data.id == created.data.id
    assert polled.request_id != created.request_id


# --- each error class ---


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        ("402", errors.InsufficientBalance),
        ("403", errors.Forbidden),
        ("413", errors.PayloadTooLarge),
        ("401", errors.AuthenticationFailed),
    ],
)
def test_error_statuses_become_typed_errors(
    recorder: Recorder, status: str, error_class: type[errors.LumaError]
) -> None:
    fault(status)
    with recorder.client() as client, pytest.raises(error_class) as info:
        client.get_generation("00000000-0000-4000-8000-000000000000")
    assert info.value.status == int(status)
    assert info.value.detail == f"Injected {status} fault."
    assert info.value.request_id
    assert not info.value.retryable
    assert recorder.statuses("GET /generations/{id}") == [status]


@pytest.mark.django_db
def test_a_bad_key_is_401(recorder: Recorder) -> None:
    client = AgentsClient(SIM_URL, " ", transport=httpx.WSGITransport(app=WSGIHandler()))
    with client, pytest.raises(errors.AuthenticationFailed) as info:
        client.create_generation(image_request())
    assert "API key" in info.value.detail


@pytest.mark.django_db
def test_unknown_ids_are_not_found(sim_client: AgentsClient) -> None:
    with pytest.raises(errors.NotFound) as info:
        sim_client.get_generation("00000000-0000-4000-8000-000000000000")
    assert info.value.status == 404


@pytest.mark.django_db
def test_invalid_parameters_are_400_and_refused_combinations_422(sim_client: AgentsClient) -> None:
    # model_construct skips our own validation, to see what the upstream says.
    with pytest.raises(errors.BadRequest) as bad:
        sim_client.create_generation(schema.GenerationRequest.model_construct(prompt=""))
    assert bad.value.status == 400
    combination = schema.GenerationRequest.model_construct(
        prompt="x",
        type="video",
        model="ray-3.2",
        video=schema.VideoOptions.model_construct(duration="10s", loop=True),
    )
    with pytest.raises(errors.Unprocessable) as refused:
        sim_client.create_generation(combination)
    assert "10-second" in refused.value.detail
    assert not SimGeneration.objects.exists()


@pytest.mark.django_db
def test_conflict_is_409(sim_client: AgentsClient) -> None:
    created = sim_client.create_presigned_upload(
        schema.FileCreateRequest(mime_type="image/png", size_bytes=100)
    ).data
    with pytest.raises(errors.Conflict) as info:
        sim_client.complete_file(created.id)
    assert info.value.status == 409


# --- the retry policy for reads ---


@pytest.mark.django_db
def test_gets_are_retried_and_succeed_after_two_503s(
    sim_client: AgentsClient, recorder: Recorder
) -> None:
    generation_id = sim_client.create_generation(image_request()).data.id
    fault("503", count=2, method="GET")
    with recorder.client() as client:
        reply = client.get_generation(generation_id)
    assert reply.data.id == generation_id
    assert recorder.statuses("GET /generations/{id}") == ["503", "503", "ok"]
    assert len(recorder.sleeps) == 2
    assert all(0 < wait <= 8 for wait in recorder.sleeps)


@pytest.mark.django_db
def test_gets_give_up_after_max_retries(recorder: Recorder) -> None:
    fault("502", count=5)
    with recorder.client(max_retries=2) as client, pytest.raises(errors.ServerError) as info:
        client.list_files()
    assert info.value.status == 502
    assert info.value.retryable
    assert recorder.statuses("GET /files") == ["502", "502", "502"]


@pytest.mark.django_db
def test_backoff_grows_exponentially_with_jitter(recorder: Recorder) -> None:
    fault("500", count=4)
    with recorder.client(max_retries=4, backoff_base=1.0, backoff_cap=100.0) as client:
        client.list_files()
    # The documented policy, in numbers: base 1 s doubling, each wait jittered in its upper half.
    windows = [(0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 8.0)]
    assert len(recorder.sleeps) == len(windows)
    for wait, (low, high) in zip(recorder.sleeps, windows, strict=True):
        assert low <= wait <= high


@pytest.mark.django_db
def test_backoff_never_waits_longer_than_its_cap(recorder: Recorder) -> None:
    fault("500", count=4)
    with recorder.client(max_retries=4, backoff_base=1.0, backoff_cap=1.5) as client:
        client.list_files()
    assert len(recorder.sleeps) == 4
    assert max(recorder.sleeps) <= 1.5
    # Past the cap the waits stay near it rather than shrinking.
    assert min(recorder.sleeps[1:]) >= 0.75


@pytest.mark.django_db
def test_retry_after_is_honoured(recorder: Recorder) -> None:
    fault("429")
    with recorder.client() as client:
        client.list_files()
    assert recorder.sleeps == [1.0]
    assert recorder.statuses("GET /files") == ["429", "ok"]


@pytest.mark.django_db
def test_a_retry_after_beyond_the_cap_is_raised_not_slept(recorder: Recorder) -> None:
    fault("429")
    with recorder.client(retry_after_cap=0.5) as client, pytest.raises(errors.RateLimited) as info:
        client.list_files()
    assert info.value.retry_after == 1.0
    assert recorder.sleeps == []


@pytest.mark.django_db
def test_a_malformed_reply_to_a_get_is_retried(recorder: Recorder) -> None:
    fault("malformed")
    with recorder.client() as client:
        assert client.list_files().data.data == []
    assert recorder.statuses("GET /files") == ["malformed", "ok"]


@pytest.mark.django_db
def test_a_reply_missing_required_fields_is_malformed(
    sim_client: AgentsClient, recorder: Recorder
) -> None:
    generation_id = sim_client.create_generation(image_request()).data.id
    fault("missing_fields", count=3)
    with recorder.client() as client, pytest.raises(errors.MalformedResponse) as info:
        client.get_generation(generation_id)
    assert "not a valid Generation" in info.value.detail


def test_connection_refused_is_a_network_error_retried_then_raised(recorder: Recorder) -> None:
    client = recorder.client("http://127.0.0.1:9/v1", max_retries=1)
    with client, pytest.raises(errors.NetworkError) as info:
        client.create_generation(image_request())
    assert info.value.retryable
    # Nothing was sent, so even the job-creating POST may be tried again.
    assert recorder.statuses("POST /generations") == ["network", "network"]


# --- the retry policy for job creation: never pay twice ---


@pytest.mark.django_db
def test_a_post_refused_with_503_is_retried_and_creates_one_job(recorder: Recorder) -> None:
    fault("503", method="POST", path="/generations")
    with recorder.client() as client:
        client.create_generation(image_request())
    assert recorder.statuses("POST /generations") == ["503", "ok"]
    assert SimGeneration.objects.count() == 1


@pytest.mark.django_db
def test_a_post_refused_with_429_waits_as_told_then_creates_one_job(recorder: Recorder) -> None:
    fault("429", method="POST", path="/generations")
    with recorder.client() as client:
        client.create_generation(image_request())
    assert recorder.statuses("POST /generations") == ["429", "ok"]
    assert recorder.sleeps == [1.0]
    assert SimGeneration.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["500", "502", "504"])
def test_a_post_answered_5xx_after_the_work_is_outcome_unknown_and_not_repeated(
    recorder: Recorder, status: str
) -> None:
    fault(status, method="POST", after=True)
    with recorder.client() as client, pytest.raises(errors.OutcomeUnknown) as info:
        client.create_generation(image_request())
    assert info.value.status == int(status)
    assert recorder.statuses("POST /generations") == ["unknown"]
    assert SimGeneration.objects.count() == 1


@pytest.mark.django_db
def test_a_malformed_reply_to_a_post_is_outcome_unknown(recorder: Recorder) -> None:
    fault("truncated", method="POST", after=True)
    with recorder.client() as client, pytest.raises(errors.OutcomeUnknown):
        client.create_generation(image_request())
    assert recorder.statuses("POST /generations") == ["unknown"]
    assert SimGeneration.objects.count() == 1


def test_a_post_whose_reply_times_out_is_never_repeated(live_app: str, recorder: Recorder) -> None:
    fault("timeout", method="POST", after=True, delay=1.5)
    served = threading.Event()

    def finished(**_: object) -> None:
        served.set()

    request_finished.connect(finished)
    try:
        client = recorder.client(f"{live_app}/sim/v1", read_timeout=0.3)
        with client, pytest.raises(errors.OutcomeUnknown) as info:
            client.create_generation(image_request())
        # The client gave up first; a loaded server may not have made the job yet: wait until it
        # is done with the request.
        assert served.wait(timeout=60), "the server never finished the request"
    finally:
        request_finished.disconnect(finished)
    assert "no reply arrived" in info.value.detail
    assert recorder.statuses("POST /generations") == ["unknown"]
    assert SimGeneration.objects.count() == 1


def test_a_post_whose_connection_is_reset_is_never_repeated(
    live_app: str, recorder: Recorder
) -> None:
    fault("reset", method="POST", after=True)
    client = recorder.client(f"{live_app}/sim/v1", read_timeout=2)
    with client, pytest.raises(errors.OutcomeUnknown):
        client.create_generation(image_request())
    assert recorder.statuses("POST /generations") == ["unknown"]
    assert SimGeneration.objects.count() == 1


def test_a_get_that_times_out_is_retried(live_app: str, recorder: Recorder) -> None:
    # Only the first GET stalls; the retry must answer within the same read timeout, so that is
    # long enough for a loaded machine (0.3 s was not, twice in a row).
    fault("timeout", method="GET", delay=4.0)
    with recorder.client(f"{live_app}/sim/v1", read_timeout=2) as client:
        assert client.list_files().data.has_more is False
    assert recorder.statuses("GET /files") == ["network", "ok"]


# --- files ---


@pytest.mark.django_db
def test_a_small_file_goes_inline_and_waits_until_ready(
    sim_client: AgentsClient, tmp_path: Path
) -> None:
    path = tmp_path / "small.png"
    path.write_bytes(png_bytes())
    file = sim_client.upload(path, mime_type="image/png", purpose="reference", poll_every=0.01)
    assert file.state == "ready"
    assert file.filename == "small.png"
    assert file.purpose == "reference"
    assert file.size_bytes == len(png_bytes())


@pytest.mark.django_db
def test_a_large_file_goes_presigned_streamed_without_the_api_key(
    recorder: Recorder, tmp_path: Path
) -> None:
    path = tmp_path / "large.png"
    path.write_bytes(png_bytes())
    with recorder.client() as client:
        file = client.upload(path, mime_type="image/png", inline_limit=0, poll_every=0.01)
    assert file.state == "ready"
    endpoints = [call.endpoint for call in recorder.calls]
    assert endpoints[:3] == ["POST /files", "PUT (presigned upload)", "POST /files/{id}/complete"]
    # The simulated object store refuses a PUT carrying a second credential, as S3 does.
    assert recorder.statuses("PUT (presigned upload)") == ["ok"]


@pytest.mark.django_db
def test_a_file_that_fails_ingest_raises_with_the_reason(
    sim_client: AgentsClient, tmp_path: Path
) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"this is not a png at all")
    with pytest.raises(errors.Unprocessable) as info:
        sim_client.upload(path, mime_type="image/png", poll_every=0.01)
    assert "not an image" in info.value.detail


@pytest.mark.django_db
def test_files_can_be_listed_and_deleted(sim_client: AgentsClient, tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes())
    file = sim_client.upload(path, mime_type="image/png", poll_every=0.01)
    listed = sim_client.list_files(state="ready").data
    assert [f.id for f in listed.data] == [file.id]
    assert sim_client.delete_file(file.id)
    assert sim_client.get_file(file.id).data.state == "deleted"


@pytest.fixture
def anonymous_storage() -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.WSGITransport(app=WSGIHandler())) as client:
        yield client


@pytest.mark.django_db
def test_the_presigned_put_refuses_a_second_credential(
    sim_client: AgentsClient, anonymous_storage: httpx.Client
) -> None:
    created = sim_client.create_presigned_upload(
        schema.FileCreateRequest(mime_type="image/png", size_bytes=4)
    ).data
    assert created.upload is not None
    response = anonymous_storage.put(
        created.upload.url,
        content=b"abcd",
        headers={**(created.upload.headers or {}), "Authorization": "Bearer leaked"},
    )
    assert response.status_code == 400
    assert "Only one auth mechanism" in response.text


def test_a_threads_http_clients_share_one_tls_context(
    monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    # Each poll built its provider's two clients, and each reread the whole CA bundle (about
    # 30 ms of CPU apiece): a worker spent most of a poll on that, and an upstream hook (the
    # simulator's client, the hook's provider) made a finished job wait for it.
    from generations import providers
    from generations.providers import http

    reads = []
    load = ssl.SSLContext.load_verify_locations
    monkeypatch.setattr(
        ssl.SSLContext,
        "load_verify_locations",
        lambda context, *args, **kwargs: (
            reads.append(args or kwargs) or load(context, *args, **kwargs)
        ),
    )
    monkeypatch.setattr(providers, "transport", None)  # each client's own, as when deployed
    monkeypatch.setattr(http, "_tls", threading.local())  # none made yet in this thread
    for name in ("agents", "dream_machine", "proxy", "agents"):
        with providers.get(name).client():
            pass
    assert len(reads) == 1
