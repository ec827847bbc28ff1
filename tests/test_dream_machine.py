"""The Dream Machine provider: its documented refusals, its states and failure reasons in the
studio's words, its client against the simulator, and a job from submission to archive."""

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client
from django.utils import timezone
from pydantic import ValidationError

from generations import providers
from generations.models import INPUT_PLACEHOLDER, Generation, Input, State
from generations.providers import errors
from generations.providers.base import failure_code_for
from generations.providers.dream_machine import schema
from generations.providers.dream_machine.client import CREATE_PATHS, DreamMachineClient
from generations.providers.dream_machine.provider import DreamMachineProvider, job_from
from generations.simulators import media as sim_media
from generations.simulators.dream_machine import callbacks
from generations.simulators.models import DreamGeneration
from generations.tasks import start_generation
from tests.conftest import SIM_ROOT, TEST_TOKEN, terminal
from tests.factories import sim_fault

pytestmark = pytest.mark.integration

DM_URL = f"{SIM_ROOT}/dream-machine/v1"
PICTURE = "https://example.com/a.png"


def refusals(body: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        schema.parse_request(body)
    return schema.field_errors(refused.value)


def video(**fields: Any) -> dict[str, Any]:
    return {"generation_type": "video", "model": "ray-2", "prompt": "a calm sea", **fields}


def image_frame(url: str = PICTURE) -> dict[str, str]:
    return {"type": "image", "url": url}


def prior(generation_id: str = "3f1c2b7e-0000-4000-8000-000000000000") -> dict[str, str]:
    return {"type": "generation", "id": generation_id}


# --- the schema: what the API accepts and what it documents as refused ---


@pytest.mark.parametrize(
    "body",
    [
        video(resolution="4k", duration="9s", aspect_ratio="9:21"),
        video(model="ray-flash-2", resolution="540p", aspect_ratio="21:9"),
        video(loop=True, keyframes={"frame0": image_frame()}),
        video(loop=True, keyframes={"frame0": prior()}),  # a looping extend
        video(prompt=None, keyframes={"frame0": image_frame(), "frame1": image_frame()}),
        video(keyframes={"frame0": prior(), "frame1": prior()}),
        video(concepts=[{"key": "dolly_zoom"}, {"key": "orbit_left"}]),
        video(callback_url="https://studio.example.com/hooks/x"),
        {
            "generation_type": "image",
            "model": "photon-flash-1",
            "prompt": "a fox",
            "format": "jpg",
            "image_ref": [{"url": PICTURE, "weight": 0.2}] * 4,
            "style_ref": [{"url": PICTURE, "weight": 1}],
            "character_ref": {"identity0": {"images": [PICTURE]}},
            "modify_image_ref": {"url": PICTURE, "weight": 0},
        },
        {
            "generation_type": "reframe_image",
            "model": "photon-1",
            "media": {"url": PICTURE},
            "aspect_ratio": "9:16",
            "grid_position_x": 10,
        },
        {
            "generation_type": "reframe_video",
            "model": "ray-2",
            "media": {"url": "https://example.com/a.mp4"},
            "first_frame": {"url": PICTURE},
            "aspect_ratio": "1:1",
        },
        {
            "generation_type": "modify_video",
            "model": "ray-flash-2",
            "media": {"url": "https://example.com/a.mp4"},
            "mode": "reimagine_3",
        },
        {"generation_type": "upscale_video", "generation_id": "abc-1", "resolution": "4k"},
        {"generation_type": "add_audio", "generation_id": "abc-1", "negative_prompt": "no"},
        video(keyframes={"frame0": image_frame(f"{INPUT_PLACEHOLDER}1234")}),
    ],
)
def test_the_documented_requests_are_accepted(body: dict[str, Any]) -> None:
    request = schema.parse_request(body)
    assert request.generation_type == body["generation_type"]
    wire = request.to_wire()
    assert "generation_id" not in wire  # a chained job names its source in the path
    assert schema.parse_request(schema.stored(request)) == request


REFUSED = [
    (video(prompt="ab"), "prompt", "3 at least"),
    (video(prompt="x" * 5001), "prompt", "5000 at most"),
    (video(prompt=None), "prompt", "Write a prompt"),
    (video(loop=True, keyframes={"frame1": image_frame()}), "loop", "end frame"),
    (
        video(loop=True, keyframes={"frame0": image_frame(), "frame1": image_frame()}),
        "loop",
        "end frame",
    ),
    (video(loop=True, keyframes={"frame1": prior()}), "loop", "reverse-extend"),
    (video(loop=True, keyframes={"frame0": prior(), "frame1": prior()}), "loop", "interpolate"),
    (video(model="ray-1-6"), "model", "ray-2"),
    (video(aspect_ratio="3:2"), "aspect_ratio", "9:21"),
    (video(resolution="360p"), "resolution", "540p"),
    (video(duration="10s"), "duration", "9s"),
    (video(concepts=[{"key": "Dolly Zoom"}]), "concepts.key", "lower-case"),
    (
        video(keyframes={"frame0": image_frame("file:///etc/passwd")}),
        "keyframes.frame0.image.url",
        "http",
    ),
    (video(surprise=1), "surprise", "Extra inputs"),
    (
        {
            "generation_type": "image",
            "model": "photon-1",
            "prompt": "a fox",
            "image_ref": [{"url": PICTURE}] * 5,
        },
        "image_ref",
        "4 at most",
    ),
    (
        {
            "generation_type": "image",
            "model": "photon-1",
            "prompt": "a fox",
            "image_ref": [{"url": PICTURE, "weight": 1.5}],
        },
        "image_ref.weight",
        "between 0 and 1",
    ),
    ({"generation_type": "image", "model": "uni-1", "prompt": "a fox"}, "model", "photon"),
    (
        {"generation_type": "image", "model": "photon-1", "prompt": "fox", "format": "webp"},
        "format",
        "jpg",
    ),
    (
        {
            "generation_type": "modify_video",
            "model": "ray-2",
            "media": {"url": PICTURE},
            "mode": "adhere_4",
        },
        "mode",
        "adhere_3",
    ),
    ({"generation_type": "upscale_video", "resolution": "4k"}, "generation_id", "required"),
    ({"generation_type": "dance"}, "__all__", "upscale_video"),
]


@pytest.mark.parametrize(("body", "field", "words"), REFUSED)
def test_documented_refusals_name_their_field(body: dict[str, Any], field: str, words: str) -> None:
    problems = refusals(body)
    assert field in problems, problems
    assert any(words in message for message in problems[field]), problems


def test_the_kind_of_keyframes_is_named() -> None:
    def extends(**frames: Any) -> str:
        request = schema.parse_request(video(keyframes=frames))
        assert isinstance(request, schema.VideoRequest)
        return request.extends

    assert extends(frame0=prior()) == "extend"
    assert extends(frame1=prior()) == "reverse_extend"
    assert extends(frame0=prior(), frame1=prior()) == "interpolate"
    assert extends(frame0=image_frame()) == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field", "words"),
    # The requests with a path of their own (an upscale's names its source: not refusable so).
    [case for case in REFUSED if "{" not in CREATE_PATHS.get(case[0]["generation_type"], "{")],
)
def test_the_simulator_refuses_the_same_over_http(
    body: dict[str, Any], field: str, words: str
) -> None:
    """400 for a malformed field, 422 for a refused combination, the field named in `detail`."""
    http = Client()
    path = CREATE_PATHS[body["generation_type"]]
    answer = http.post(
        f"/sim/dream-machine/v1{path}",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {TEST_TOKEN}"},
    )
    # The rules across fields (a loop with an end frame; no prompt and no frame) are 422s.
    across = field == "loop" or words == "Write a prompt"
    assert answer.status_code == (422 if across else 400), answer.content
    detail = answer.json()["detail"]
    assert words in detail
    assert not DreamGeneration.objects.exists()


# --- states and failure reasons in the studio's words ---


@pytest.mark.parametrize(
    ("upstream", "studio"),
    [
        ("queued", "queued"),
        ("dreaming", "processing"),
        ("completed", "completed"),
        ("failed", "failed"),
    ],
)
def test_states_are_mapped(upstream: str, studio: str) -> None:
    answer = schema.Generation(
        id="g1",
        state=upstream,
        assets=schema.Assets(video="https://cdn.example.com/v.mp4"),
        failure_reason="Internal error" if upstream == "failed" else None,
    )
    job = job_from(answer, "req-1")
    assert job.state == studio
    assert job.raw["id"] == "g1"
    assert [o.url for o in job.outputs] == (
        ["https://cdn.example.com/v.mp4"] if studio == "completed" else []
    )
    assert bool(job.failure_code) == (studio == "failed")


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("Your prompt was flagged by our content moderation system.", "content_moderated"),
        ("The image violates our usage policy", "content_moderated"),
        ("Prompt is too short", "invalid_request"),
        ("Could not load the image at https://x/y.png", "invalid_request"),
        ("Unsupported image format", "invalid_request"),
        ("Internal error: please try again", "generation_failed"),
        ("", "generation_failed"),
        # Found by a review: a gateway's passing refusals use moderation's and a bad request's
        # words too; they are passing failures, retried.
        ("Request blocked: too many requests", "generation_failed"),
        ("Rate limit exceeded for this policy", "generation_failed"),
        ("Upstream timed out at 1080p resolution", "generation_failed"),
    ],
)
def test_failure_reasons_are_classified(reason: str, code: str) -> None:
    assert failure_code_for(reason) == code


# --- the client against the simulator ---


@pytest.fixture
def client() -> Iterator[DreamMachineClient]:
    with DreamMachineClient(
        DM_URL,
        TEST_TOKEN,
        transport=httpx.WSGITransport(app=WSGIHandler()),
        sleep=lambda seconds: None,
    ) as dm:
        yield dm


def make_image(dm: DreamMachineClient, prompt: str = "a paper crane") -> schema.Generation:
    request = schema.ImageRequest(model="photon-1", prompt=prompt)
    return dm.create_generation(request).data


@pytest.mark.django_db
def test_the_client_speaks_every_endpoint(client: DreamMachineClient) -> None:
    assert client.ping() == "pong"
    assert "push_in" in client.concepts()
    assert "Orbit Left" in client.camera_motions()
    before = client.credits()
    made = [make_image(client, f"crane number {i}") for i in range(3)]
    assert client.credits() < before
    first = client.list_generations(limit=2, offset=0).data
    assert (first.count, first.has_more) == (2, True)
    rest = client.list_generations(limit=2, offset=2).data
    assert (rest.count, rest.has_more) == (1, False)
    assert {g.id for g in first.generations + rest.generations} == {g.id for g in made}
    client.delete_generation(made[0].id)
    with pytest.raises(errors.NotFound) as gone:
        client.get_generation(made[0].id)
    assert "not found" in gone.value.detail
    with pytest.raises(errors.NotFound):
        client.get_generation("not-an-id")


@pytest.mark.django_db
def test_a_jobs_state_moves_with_the_simulators_clock_only(
    client: DreamMachineClient, settings, sim_clock
) -> None:
    """The Dream Machine simulator's jobs read the simulators' clock, as the others' do, so a
    test moves them on without sleeping (they read the wall clock before)."""
    settings.LUMA_SIM_SPEED = 1
    made = make_image(client)
    assert client.get_generation(made.id).data.state in ("queued", "dreaming")
    sim_clock.advance(3600)
    assert client.get_generation(made.id).data.state == "completed"


@pytest.mark.django_db
def test_refusals_come_back_as_luma_details(client: DreamMachineClient, settings) -> None:
    with pytest.raises(errors.NotFound):
        client.create_generation(schema.UpscaleRequest(generation_id="3f1c2b7e-1"))
    image = make_image(client)
    with pytest.raises(errors.BadRequest) as refused:
        client.create_generation(schema.AudioRequest(generation_id=image.id, prompt="rain"))
    assert "is an image" in refused.value.detail
    settings.LUMA_SIM_CREDITS = 1.0
    with (
        DreamMachineClient(
            DM_URL, "a-poor-key", transport=httpx.WSGITransport(app=WSGIHandler())
        ) as poor,
        pytest.raises(errors.InsufficientBalance) as broke,
    ):
        poor.create_generation(schema.VideoRequest(model="ray-2", prompt="a storm"))
    assert "Insufficient credits" in broke.value.detail


@pytest.mark.django_db
def test_failed_jobs_are_refunded(client: DreamMachineClient, settings) -> None:
    settings.LUMA_SIM_SPEED = 0.001
    before = client.credits()
    failed = make_image(client, "a forbidden sight [fail:moderation]")
    assert client.credits() < before
    DreamGeneration.objects.filter(pk=failed.id).update(queued_seconds=0, processing_seconds=0)
    answer = client.get_generation(failed.id).data
    assert answer.state == "failed"
    assert "content moderation" in (answer.failure_reason or "")
    assert client.credits() == before


@pytest.mark.django_db
def test_faults_are_injected_as_for_the_agents_simulator(client: DreamMachineClient) -> None:
    # 503 before any work: nothing was made, so the create is retried and makes one job.
    sim_fault("503", token=TEST_TOKEN, path="/generations/image")
    make_image(client)
    assert DreamGeneration.objects.count() == 1
    # 500 after the work: the job exists, so the outcome is unknown and never repeated.
    sim_fault("500", token=TEST_TOKEN, path="/generations/image", after=True)
    with pytest.raises(errors.OutcomeUnknown):
        make_image(client)
    assert DreamGeneration.objects.count() == 2


# --- callbacks ---


@pytest.fixture
def timetable(monkeypatch) -> callbacks.Dispatcher:
    """The simulator's callbacks, held until the test hands them out."""
    held = callbacks.Dispatcher(autostart=False)
    monkeypatch.setattr("generations.simulators.dream_machine.views.dispatcher", held)
    return held


@pytest.mark.django_db
def test_callbacks_are_retried_and_only_sent_where_allowed(
    client: DreamMachineClient, timetable: callbacks.Dispatcher, django_capture_on_commit_callbacks
) -> None:
    far = schema.ImageRequest(model="photon-1", prompt="a kite", callback_url="https://evil.test/x")
    with django_capture_on_commit_callbacks(execute=True):
        client.create_generation(far)
    assert timetable.pending() == 0  # a host the simulator may not call is never called
    # The simulator's own ping refuses a POST: every try fails, and there are four in all.
    own = schema.ImageRequest(model="photon-1", prompt="a kite", callback_url=f"{DM_URL}/ping")
    with django_capture_on_commit_callbacks(execute=True):
        client.create_generation(own)
    tries = 0
    deadline = time.monotonic() + 30
    while timetable.pending():
        assert time.monotonic() < deadline
        for call in timetable.take_due():
            if call.state == "final":
                tries += 1
                assert not timetable.deliver(call)
    assert tries == 1 + callbacks.CALLBACK_RETRIES


@pytest.mark.django_db
def test_a_jobs_media_are_made_while_it_dreams(
    client: DreamMachineClient, timetable: callbacks.Dispatcher, django_capture_on_commit_callbacks
) -> None:
    # Made at the job's first view once finished, they were made by the one thread that sends
    # the callbacks, in the final one's time: of 32 jobs finishing within 2 s (`make bench`),
    # the last was called back about 0.5 s late.
    own = schema.ImageRequest(model="photon-1", prompt="a kite", callback_url=f"{DM_URL}/ping")
    with django_capture_on_commit_callbacks(execute=True):
        made = client.create_generation(own).data
    DreamGeneration.objects.filter(pk=made.id).update(queued_seconds=0, processing_seconds=3600)
    timetable.clock = lambda: time.time() + 86400  # every planned callback is due
    [dreaming] = [call for call in timetable.take_due() if call.state == "dreaming"]
    timetable.deliver(dreaming)
    job = DreamGeneration.objects.get(pk=made.id)
    assert job.state_at(timezone.now()) == "dreaming"
    assert job.asset  # made already, before the job finishes


@pytest.mark.django_db(transaction=True)
def test_a_dream_machine_job_runs_to_an_archived_completion(
    owner, run_worker, settings, timetable: callbacks.Dispatcher
) -> None:
    settings.LUMAWEB_PUBLIC_URL = "http://sim.test"
    # Only the hook can make the worker look again within the hour, and the job takes hours.
    settings.LUMAWEB_POLL_INTERVAL = 3600
    settings.LUMA_SIM_SPEED = 0.001
    start_frame = Input(
        uploaded_by=owner,
        role="frame0",
        original_name="start.png",
        mime_type="image/png",
        size_bytes=0,
        sha256="0" * 64,
    )
    png = sim_media.render_image("a start frame", aspect_ratio="16:9")
    start_frame.file.save("frame0.png", ContentFile(png), save=False)
    request = schema.VideoRequest(
        model="ray-flash-2",
        prompt="a kite rises",
        resolution="540p",
        keyframes=schema.Keyframes(frame0=schema.ImageKeyframe(url=start_frame.placeholder)),
    )
    generation, created = start_generation(owner, request, provider="dream_machine")
    assert created
    start_frame.generation = generation
    start_frame.save()
    assert generation.kind == "video"
    assert generation.request["keyframes"]["frame0"]["url"] == start_frame.placeholder

    run_worker(lambda: Generation.objects.get(pk=generation.pk).upstream_id is not None)
    generation.refresh_from_db()
    sent = DreamGeneration.objects.get(pk=generation.upstream_id)
    # The upstream fetched the upload by its public link, and will call the job's hook.
    assert sent.request["keyframes"]["frame0"]["url"].startswith("http://sim.test/public/")
    assert sent.request["callback_url"].startswith("http://sim.test/hooks/")
    assert sent.outcome == "completed"
    assert generation.state in (State.QUEUED, State.PROCESSING)

    # The hook (a hint: its body is not read) makes the worker poll at once.
    DreamGeneration.objects.filter(pk=sent.pk).update(queued_seconds=0, processing_seconds=0)
    timetable.clock = lambda: time.time() + 86400  # the callbacks' planned times are past
    [final] = [call for call in timetable.take_due() if call.state == "final"]
    assert timetable.deliver(final)
    run_worker(terminal(generation))
    assert generation.state == State.COMPLETED
    assert generation.provider_label == "Luma Dream Machine API (simulator)"
    run_worker(lambda: all(o.is_archived for o in generation.outputs.all()))
    [output] = generation.outputs.all()
    assert output.kind == "video"


@pytest.mark.django_db(transaction=True)
def test_moderation_fails_plainly_and_a_passing_failure_is_retried(owner, run_worker) -> None:
    moderated, _ = start_generation(
        owner,
        schema.ImageRequest(model="photon-1", prompt="a forbidden sight [fail:moderation]"),
        provider="dream_machine",
    )
    passing, _ = start_generation(
        owner,
        schema.ImageRequest(model="photon-1", prompt="a flaky sight [fail:transient]"),
        provider="dream_machine",
    )
    run_worker(lambda: terminal(moderated)() and terminal(passing)())
    assert (moderated.state, moderated.failure_code) == (State.FAILED, "content_moderated")
    assert "content moderation" in moderated.failure_reason
    assert moderated.retried_as is None
    assert (passing.state, passing.failure_code) == (State.FAILED, "generation_failed")
    assert passing.retried_as is not None


@pytest.mark.django_db(transaction=True)
def test_an_upload_without_a_public_url_fails_in_plain_words(owner, run_worker, settings) -> None:
    settings.LUMAWEB_PUBLIC_URL = ""
    frame = Input.objects.create(
        uploaded_by=owner,
        role="frame0",
        original_name="a.png",
        mime_type="image/png",
        size_bytes=1,
        sha256="0" * 64,
        file="inputs/x/a.png",
    )
    request = schema.VideoRequest(
        model="ray-2",
        prompt="a kite",
        keyframes={"frame0": {"type": "image", "url": frame.placeholder}},
    )
    generation, _ = start_generation(owner, request, provider="dream_machine")
    Input.objects.filter(pk=frame.pk).update(generation=generation)
    run_worker(terminal(generation))
    assert (generation.state, generation.failure_code) == (State.FAILED, "upload_refused")
    assert "LUMAWEB_PUBLIC_URL" in generation.failure_reason
    assert not DreamGeneration.objects.exists()


def test_a_requests_media_inputs_are_named_for_people() -> None:
    request = schema.parse_request(
        {
            "generation_type": "image",
            "model": "photon-1",
            "prompt": "a fox",
            "image_ref": [{"url": "https://x/a.png", "weight": 0.5}],
            "character_ref": {"identity0": {"images": ["https://x/b.png"]}},
            "modify_image_ref": {"url": "https://x/c.png"},
        }
    )
    assert DreamMachineProvider.references(schema.stored(request)) == [
        ("Reference image", {"url": "https://x/a.png"}),
        ("Character", {"url": "https://x/b.png"}),
        ("Image to modify", {"url": "https://x/c.png"}),
    ]
    frames = schema.stored(
        schema.parse_request(video(keyframes={"frame0": prior("g-1"), "frame1": image_frame()}))
    )
    assert DreamMachineProvider.references(frames) == [
        ("Start frame", {"generation_id": "g-1"}),
        ("End frame", {"url": PICTURE}),
    ]
    upscale = {"generation_type": "upscale_video", "generation_id": "g-2"}
    assert DreamMachineProvider.references(upscale) == [("Video", {"generation_id": "g-2"})]


def test_the_provider_is_registered_with_its_capabilities() -> None:
    provider = providers.get("dream_machine")
    assert provider.capabilities.public_inputs
    assert provider.capabilities.callbacks
    assert provider.capabilities.delete
    assert provider.capabilities.credits
    assert provider.base_url.endswith("/dream-machine/v1")


def test_a_slow_callback_does_not_hold_the_ones_due_after_it(monkeypatch) -> None:
    # Sent one after another, each callback waited for the one before it to be answered: of 32
    # jobs finishing within 2 s (`make bench`), the last was called back about 0.8 s late.
    dispatcher = callbacks.Dispatcher(clock=lambda: 0.0)
    second_sent, first_done = threading.Event(), threading.Event()
    seen_while_first_unanswered = []

    def deliver(due: callbacks.Due) -> bool:
        if due.generation_id == "first":
            seen_while_first_unanswered.append(second_sent.wait(timeout=120))
            first_done.set()
        else:
            second_sent.set()
        return True

    monkeypatch.setattr(dispatcher, "deliver", deliver)
    for job in ("first", "second"):
        dispatcher._push(callbacks.Due(0.0, 0, job, "final", "http://studio.test/h", "http://x"))
    assert first_done.wait(timeout=300)
    assert seen_while_first_unanswered == [True]
