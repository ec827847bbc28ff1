"""The resellers' "Luma proxy" dialect: its simulator, the defensive reading of every answer
shape the provider claims to handle, inputs as links or inline, hooks, and jobs end to end."""

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from generations import hooks, providers, tasks
from generations.hooks import hook_url
from generations.models import ArchiveState, EventKind, Generation, Input, State
from generations.providers import errors
from generations.providers.proxy import schema
from generations.providers.proxy.client import ProxyClient
from generations.simulators import media as sim_media
from generations.simulators.models import SimGeneration
from generations.tasks import start_generation
from tests.conftest import SIM_ROOT, TEST_TOKEN, terminal
from tests.factories import sim_fault

pytestmark = pytest.mark.integration

PROXY_URL = f"{SIM_ROOT}/proxy"
# The seed's own example request (seeds/003), byte for byte in meaning.
SEED_BODY = {
    "user_prompt": "cat dance",
    "expand_prompt": True,
    "image_url": "https://example.com/reference.png",
    "image_end_url": "https://example.com/keyframe.png",
    "notify_hook": "https://example.com/hook",
    "loop": True,
    "aspect_ratio": "16:9",
}


def sim_http() -> httpx.Client:
    return httpx.Client(
        base_url=PROXY_URL,
        transport=httpx.WSGITransport(app=WSGIHandler()),
        headers={"Authorization": f"Bearer {TEST_TOKEN}"},
    )


@pytest.fixture
def gateway(db) -> Iterator[ProxyClient]:
    """A ProxyClient talking HTTP to the simulated gateway in-process; retries without sleeping."""
    with ProxyClient(
        PROXY_URL,
        TEST_TOKEN,
        transport=httpx.WSGITransport(app=WSGIHandler()),
        sleep=lambda seconds: None,
    ) as client:
        yield client


def answering(*bodies: Any, status: int = 200) -> ProxyClient:
    """A ProxyClient whose gateway answers each call with the next of `bodies` (JSON)."""
    queue = list(bodies)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=queue.pop(0))

    return ProxyClient(
        "https://gateway.test", "token", transport=httpx.MockTransport(handler), max_retries=0
    )


def png(colour: str = "red") -> bytes:
    return sim_media.render_image(f"a {colour} square", aspect_ratio="1:1", long_side=64)


# --- the simulator ---


@pytest.mark.django_db
def test_the_seed_example_body_is_accepted_verbatim() -> None:
    assert schema.ProxyRequest.model_validate(SEED_BODY).to_wire() == SEED_BODY
    with sim_http() as http:
        response = http.post("/luma/generations", json=SEED_BODY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"id", "state", "created_at", "request"}
    assert body["state"] == "pending"
    assert body["request"] == {"prompt": "cat dance", "aspect_ratio": "16:9"}
    assert SimGeneration.objects.get(pk=body["id"]).request == SEED_BODY


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("call", "status", "detail"),
    [
        (lambda h: h.post("/luma/generations", json={"loop": True}), 400, "user_prompt"),
        (
            lambda h: h.post(
                "/luma/generations", json={"user_prompt": "x", "aspect_ratio": "21:9"}
            ),
            400,
            "21:9",
        ),
        (
            lambda h: h.post("/luma/generations", json={"user_prompt": "x", "image_url": "zz!"}),
            400,
            "image_url",
        ),
        (
            lambda h: h.get("/luma/generations/1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"),
            404,
            "not found",
        ),
        (
            lambda h: h.get(
                "/luma/generations/1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed",
                headers={"X-Sim-Shape": "sideways"},
            ),
            400,
            "X-Sim-Shape",
        ),
    ],
)
def test_the_simulator_refuses_with_a_detail(
    call: Callable[[httpx.Client], httpx.Response], status: int, detail: str
) -> None:
    with sim_http() as http:
        response = call(http)
    assert response.status_code == status
    assert detail in response.json()["detail"]


@pytest.mark.django_db
def test_the_simulator_wants_a_token() -> None:
    with sim_http() as http:
        response = http.post("/luma/generations", json=SEED_BODY, headers={"Authorization": ""})
    assert response.status_code == 401
    assert "detail" in response.json()


# --- every shape the provider claims to read, from the simulator itself ---


def wait_done(gateway: ProxyClient, job_id: str) -> schema.ProxyJob:
    for _ in range(200):
        job = gateway.get_generation(job_id).data
        if job.state in ("completed", "failed"):
            return job
    raise AssertionError("the simulated job never finished")


@pytest.mark.parametrize("shape", ["flat", "wrapped", "clone"])
def test_every_simulated_shape_is_read_to_a_real_mp4(gateway: ProxyClient, settings, shape) -> None:
    settings.LUMA_SIM_PROXY_SHAPE = shape
    request = schema.ProxyRequest(
        user_prompt="a lighthouse", aspect_ratio="9:16", image_url=base64.b64encode(png()).decode()
    )
    accepted = gateway.create_generation(request).data
    assert (accepted.state, accepted.upstream_state) == ("queued", "pending")
    job = wait_done(gateway, accepted.id)
    assert job.state == "completed"
    where = {"flat": "video.url", "wrapped": "data.video.download_url", "clone": "video_raw.url"}
    kept: Any = job.raw
    for key in where[shape].split("."):
        kept = kept[key]
    assert kept == job.video_url  # read from where this shape puts it, the answer kept whole
    with httpx.Client(transport=httpx.WSGITransport(app=WSGIHandler())) as http:
        video = http.get(job.video_url)
    assert video.status_code == 200
    assert video.content[4:8] == b"ftyp"


def test_a_failed_simulated_job_says_why(gateway: ProxyClient) -> None:
    """Found from outside: every gateway failure was a passing one, moderation too, so it was
    explained as "a temporary failure" and retried automatically (each retry a charge). Its
    words are sorted as Dream Machine's are: a gateway relays Luma's."""
    accepted = gateway.create_generation(
        schema.ProxyRequest(user_prompt="a storm [fail:content_moderated]")
    ).data
    job = wait_done(gateway, accepted.id)
    assert (job.state, job.failure_code) == ("failed", "content_moderated")
    assert "moderation" in job.failure_reason


@pytest.mark.django_db(transaction=True)
def test_a_moderated_gateway_job_is_not_retried(owner, owner_client, run_worker) -> None:
    request = schema.ProxyRequest(user_prompt="a storm [fail:content_moderated]")
    generation, _ = start_generation(owner, request, provider="proxy")
    run_worker(terminal(generation))
    assert (generation.state, generation.failure_code) == (State.FAILED, "content_moderated")
    assert generation.retried_as is None
    # Found from outside too: the gateway's words were put in Luma's mouth.
    page = owner_client.get(generation.get_absolute_url()).content.decode()
    assert f"{providers.label('proxy')} said: " in page
    assert "Luma said" not in page


# --- odd answers from gateways, read defensively ---

VIDEO = "https://cdn.gateway.test/v/abc.mp4?sig=1"


@pytest.mark.parametrize(
    ("body", "state", "video"),
    [
        ({"id": "a", "state": "completed", "video": {"url": VIDEO}}, "completed", VIDEO),
        ({"id": "a", "state": "completed", "video": {"download_url": VIDEO}}, "completed", VIDEO),
        (
            {
                "code": 200,
                "message": "ok",
                "data": {
                    "id": "a",
                    "state": "completed",
                    "video": {"url": None, "download_url": VIDEO},
                },
            },
            "completed",
            VIDEO,
        ),
        ({"id": "a", "state": "completed", "video_raw": {"url": VIDEO}}, "completed", VIDEO),
        ({"id": "a", "status": "succeeded", "result": [{"file": VIDEO}]}, "completed", VIDEO),
        ({"id": 42, "state": "dreaming", "model_name": "ray-2", "x": [1]}, "processing", ""),
        ({"id": "a", "state": "pending", "thumbnail": None}, "queued", ""),
        ({"id": "a", "state": "failed", "failure_reason": "nsfw"}, "failed", ""),
    ],
)
def test_answer_shapes_are_read_and_kept_verbatim(body: dict[str, Any], state, video) -> None:
    with answering(body) as client:
        job = client.get_generation("a").data
    assert (job.state, job.video_url) == (state, video)
    assert job.raw == body


def test_an_unknown_state_is_kept_and_the_job_goes_on() -> None:
    with answering({"id": "a", "state": "upscaling", "eta": 12}) as client:
        job = client.get_generation("a").data
    assert (job.state, job.upstream_state) == ("processing", "upscaling")
    assert schema.unknown_state(job.raw) == "upscaling"
    assert schema.unknown_state({"code": 0, "data": {"id": "a", "status": "pending"}}) == ""


def test_completed_without_a_video_is_a_plain_failure() -> None:
    with answering({"id": "a", "state": "completed", "video": {"url": None}}) as client:
        job = client.get_generation("a").data
    assert (job.state, job.failure_code) == ("failed", "output_not_found")
    assert "no video URL" in job.failure_reason


@pytest.mark.parametrize(
    ("body", "error", "words"),
    [
        ({"code": 1001, "message": "insufficient quota", "data": None}, errors.BadRequest, "quota"),
        ({"code": 429, "message": "slow down", "data": None}, errors.RateLimited, "slow down"),
        ({"success": False, "msg": "bad token"}, errors.BadRequest, "bad token"),
        ({"detail": "model overloaded"}, errors.BadRequest, "overloaded"),
        ({"code": 500, "message": "upstream died", "data": {}}, errors.OutcomeUnknown, "died"),
        ({"state": "pending"}, errors.OutcomeUnknown, "no job id"),
        ([1, 2], errors.OutcomeUnknown, "should be an object"),
    ],
)
def test_a_200_that_reports_an_error_is_refused_in_plain_words(body, error, words) -> None:
    with answering(body) as client, pytest.raises(error) as raised:
        client.create_generation(schema.ProxyRequest(user_prompt="x"))
    assert words in str(raised.value)


def test_an_accepted_job_without_a_state_is_pending() -> None:
    with answering({"code": 0, "data": {"task_id": "t-9"}}) as client:
        job = client.create_generation(schema.ProxyRequest(user_prompt="x")).data
    assert (job.id, job.state, job.upstream_state) == ("t-9", "queued", "pending")


def test_numbers_no_json_column_stores_are_kept_as_null() -> None:
    # Left open before, checked now: NaN and Infinity (which Python's JSON reads) in an answer
    # would fail the job's JSON column, as they did the hook's. The reply is read to JSON values.
    body = b'{"id": "a", "state": "dreaming", "progress": NaN, "eta": [Infinity]}'
    reply = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    with ProxyClient("https://gateway.test", "token", transport=reply) as client:
        job = client.get_generation("a").data
    assert job.raw == {"id": "a", "state": "dreaming", "progress": None, "eta": [None]}
    json.dumps(job.raw, allow_nan=False)


def test_an_unreadable_poll_is_malformed_not_fatal() -> None:
    with answering({"id": "a"}) as client, pytest.raises(errors.MalformedResponse) as raised:
        client.get_generation("a")
    assert "no state" in str(raised.value)
    assert raised.value.retryable


@pytest.mark.parametrize(
    "body", [{"detail": "Invalid token"}, {"code": 401, "message": "Invalid token", "data": None}]
)
def test_http_errors_keep_the_gateway_detail(body: dict[str, Any]) -> None:
    client = answering(body, status=401)
    with client, pytest.raises(errors.AuthenticationFailed) as raised:
        client.get_generation("a")
    assert str(raised.value) == "HTTP 401: Invalid token"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"code": 500, "message": "bad \ud800 news"}, "bad ? news"),
        ({"code": 500, "message": "bad \x00 news"}, "bad \N{REPLACEMENT CHARACTER} news"),
    ],
)
def test_a_gateway_error_no_page_or_column_takes_is_made_storable(
    body: dict[str, Any], said: str
) -> None:
    # Found in review: a gateway's message with a lone surrogate or a NUL became the job's
    # failure reason as it was, which SQLite (the surrogate) or PostgreSQL (the NUL) refuses.
    content = json.dumps(body).encode()
    reply = httpx.MockTransport(lambda request: httpx.Response(401, content=content))
    client = ProxyClient("https://gateway.test", "token", transport=reply, max_retries=0)
    with client, pytest.raises(errors.AuthenticationFailed) as raised:
        client.get_generation("a")
    assert str(raised.value) == f"HTTP 401: {said}"


def test_an_error_body_nested_past_what_python_reads_is_kept_as_text() -> None:
    # Found beside an attacker's nested JSON (which was a 500 on the simulators): a gateway's
    # error body nested as deep was a RecursionError in the worker instead of the job's error.
    nested = b"[" * 5000 + b"]" * 5000
    reply = httpx.MockTransport(lambda request: httpx.Response(401, content=nested))
    client = ProxyClient("https://gateway.test", "token", transport=reply, max_retries=0)
    with client, pytest.raises(errors.AuthenticationFailed) as raised:
        client.get_generation("a")
    assert str(raised.value) == f"HTTP 401: {nested[:200].decode()}"


# --- inputs, hooks and jobs in the studio ---


def stored_input(user, data: bytes) -> Input:
    item = Input(
        uploaded_by=user,
        role="image_url",
        original_name="start.png",
        mime_type="image/png",
        size_bytes=len(data),
        sha256="0" * 64,
    )
    item.file.save("image_url.png", ContentFile(data), save=False)
    item.save()
    return item


def start(user, **fields: Any) -> Generation:
    request = schema.ProxyRequest(user_prompt="a paper boat", aspect_ratio="4:3", **fields)
    generation, created = start_generation(user, request, provider="proxy")
    assert created
    return generation


@pytest.mark.django_db(transaction=True)
def test_a_job_with_an_uploaded_start_image_completes_and_is_archived(
    owner, run_worker, settings
) -> None:
    settings.LUMAWEB_PUBLIC_URL = ""  # the gateway cannot reach the studio: inline, no hook
    data = png()
    item = stored_input(owner, data)
    generation = start(owner, image_url=item.placeholder, expand_prompt=True)
    run_worker(terminal(generation))
    assert generation.state == State.COMPLETED, generation.failure_reason
    assert (generation.provider, generation.kind) == ("proxy", "video")
    sent = SimGeneration.objects.get(pk=generation.upstream_id).request
    assert sent["image_url"] == "data:image/png;base64," + base64.b64encode(data).decode()
    assert "notify_hook" not in sent  # no LUMAWEB_PUBLIC_URL: no hook
    assert generation.request["image_url"] == item.placeholder  # never the bytes
    [output] = generation.outputs.all()

    def archived() -> bool:
        output.refresh_from_db()
        return output.archive_state == ArchiveState.ARCHIVED

    run_worker(archived)
    assert output.mime_type == "video/mp4"
    assert output.file.read()[4:8] == b"ftyp"
    answers = generation.events.filter(kind__in=[EventKind.SUBMITTED, EventKind.STATE])
    assert answers.first().data["state"] == "pending"  # the gateway's own words, verbatim
    assert answers.last().data["video"]["url"] == output.url


@pytest.mark.django_db(transaction=True)
def test_a_gallery_piece_goes_as_a_public_link_with_a_hook(owner, run_worker, settings) -> None:
    settings.LUMAWEB_PUBLIC_URL = "http://sim.test"
    piece = Generation.objects.create(
        created_by=owner, kind="image", model="uni-1", prompt="x", request={},
        state=State.COMPLETED, upstream_id="piece-1",
    )  # fmt: skip
    output = piece.outputs.create(
        index=0, kind="image", url="https://expired.test/x.png", url_expires_at=timezone.now(),
        archive_state=ArchiveState.ARCHIVED, mime_type="image/png", size_bytes=len(png("blue")),
    )  # fmt: skip
    output.file.save("outputs/piece/0.png", ContentFile(png("blue")))
    generation = start(owner, image_end_url=f"{schema.PIECE_REFERENCE}{piece.uuid}")
    run_worker(lambda: Generation.objects.get(pk=generation.pk).upstream_id is not None)
    sent = SimGeneration.objects.get(pk=Generation.objects.get(pk=generation.pk).upstream_id)
    link = sent.request["image_end_url"]
    assert link.startswith("http://sim.test/public/")
    assert sent.request["notify_hook"] == hook_url(generation)
    anonymous = Client()
    fetched = anonymous.get(link.removeprefix("http://sim.test"))
    assert fetched.status_code == 200
    assert b"".join(fetched.streaming_content) == png("blue")
    assert anonymous.get(link.removeprefix("http://sim.test")[:-3] + "abc").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_an_inline_image_over_the_limit_is_refused_plainly(owner, run_worker, settings) -> None:
    settings.LUMAWEB_PUBLIC_URL = ""
    settings.LUMA_PROXY_INLINE_MAX_MB = 0.001
    generation = start(owner, image_url=stored_input(owner, png()).placeholder)
    run_worker(terminal(generation))
    assert (generation.state, generation.failure_code) == (State.FAILED, "upload_refused")
    assert "LUMAWEB_PUBLIC_URL" in generation.failure_reason
    assert not SimGeneration.objects.exists()  # nothing went to the gateway


@pytest.fixture
def sent(owner, run_worker, settings, sim_clock) -> Generation:
    """A job the gateway (simulator) has, polled a moment ago and not again for ten minutes:
    only a hook can bring its next poll sooner. The gateway's clock is held: the job runs until
    the test moves it on."""
    settings.LUMAWEB_PUBLIC_URL = "https://studio.example"
    settings.LUMAWEB_POLL_INTERVAL = 600.0
    generation = start(owner)
    run_worker(lambda: bool(Generation.objects.get(pk=generation.pk).upstream_id))
    Generation.objects.filter(pk=generation.pk).update(last_polled_at=timezone.now())
    generation.refresh_from_db()
    return generation


def hook_path(generation: Generation) -> str:
    url = hook_url(generation)
    assert url is not None
    assert url.startswith("https://studio.example/hooks/")
    return url.removeprefix("https://studio.example")


@pytest.mark.django_db(transaction=True)
def test_a_hook_polls_the_job_before_it_is_answered_and_never_takes_the_body_as_state(
    sent: Generation, sim_clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hook used to make the worker's poll due and no more: the news then waited for the worker
    # to take the task and, just after a regular poll, for a second's gap, which `make bench`
    # measured as 1.9 s (p95) from completion to the page, where the page's own poll is 1 s.
    monkeypatch.setattr(hooks, "MIN_POLL_GAP", 60.0)  # a gap no slow machine outlasts
    gateway = Client()
    lie = {"id": sent.upstream_id, "state": "completed", "video": {"url": "https://evil.test/x"}}
    response = gateway.post(hook_path(sent), lie, content_type="application/json")
    assert (response.status_code, response.json()) == (200, {"polling": True})
    sent.refresh_from_db()
    assert sent.poll_count == 1  # asked at once, though it was polled a moment ago
    assert sent.state in (State.QUEUED, State.PROCESSING)  # what the gateway says, not the lie
    assert not sent.outputs.exists()
    first = sent.events.get(kind=EventKind.HOOK)
    assert first.data["payload"] == lie
    assert sent.next_poll_at > timezone.now() + timezone.timedelta(minutes=5)  # the next, as ever
    # Another within the gap is not asked here: the worker's poll is due when the gap ends
    # (news in it is not lost), and more of them add nothing.
    assert gateway.post(hook_path(sent)).json() == {"polling": True}
    sent.refresh_from_db()
    assert (sent.poll_count, sent.next_poll_at) == (1, first.at + timezone.timedelta(minutes=1))
    assert gateway.post(hook_path(sent)).json() == {"polling": False}
    sent.refresh_from_db()
    assert (sent.poll_count, sent.next_poll_at) == (1, first.at + timezone.timedelta(minutes=1))

    monkeypatch.setattr(hooks, "MIN_POLL_GAP", 0.0)  # the gap is over
    sim_clock.advance(3600)  # the gateway has finished the job
    assert gateway.post(hook_path(sent)).json() == {"polling": True}
    sent.refresh_from_db()
    assert (sent.state, sent.poll_count) == (State.COMPLETED, 2)
    [output] = sent.outputs.all()
    assert output.url.startswith(SIM_ROOT)  # the gateway's own answer


@pytest.mark.django_db(transaction=True)
def test_a_hook_whose_poll_fails_is_still_answered_and_leaves_the_job_to_the_worker(
    sent: Generation, settings
) -> None:
    # The upstream waits for the answer (Dream Machine: 5 s): the hook's poll is tried once.
    fault = sim_fault(
        "503", token=settings.LUMA_PROVIDERS["proxy"]["api_key"], method="GET", remaining=2
    )
    response = Client().post(hook_path(sent))
    assert (response.status_code, response.json()) == (200, {"polling": True})
    fault.refresh_from_db()
    assert fault.remaining == 1  # one call, not tried again
    sent.refresh_from_db()
    assert sent.state in (State.QUEUED, State.PROCESSING)
    assert sent.events.filter(kind=EventKind.ERROR).count() == 1
    # Left open before: the worker's next poll came an interval on (over five minutes for a
    # job with a hook), though news was known to be there. It is due at once, with the worker's
    # own timeouts and retries.
    polls = DBTaskResult.objects.filter(task_path__endswith=".poll_generation")
    assert sent.next_poll_at in polls.values_list("run_after", flat=True)
    assert sent.next_poll_at <= timezone.now()


@pytest.mark.django_db(transaction=True)
def test_a_hook_whose_poll_is_told_to_wait_leaves_the_worker_to_wait_as_told(
    sent: Generation, settings
) -> None:
    sim_fault("429", token=settings.LUMA_PROVIDERS["proxy"]["api_key"], method="GET")
    assert Client().post(hook_path(sent)).json() == {"polling": True}
    sent.refresh_from_db()
    assert sent.next_poll_at > timezone.now()  # the gateway's Retry-After stands


@pytest.mark.django_db(transaction=True)
def test_a_jobs_hook_is_not_shown_and_what_its_calls_keep_is_bounded(
    sent: Generation, owner_client, settings
) -> None:
    # Found from outside (an attacker): the job's page showed its signed hook to every
    # teammate, and each call to it kept up to 64 KB more on the job, without end: one
    # client grew the database by 2 MB a second.
    assert "notify_hook" not in sent.request
    page = owner_client.get(sent.get_absolute_url()).content.decode()
    assert "/hooks/" not in page
    # A job sent before kept it: migration 0021 forgets it (tests/test_migrations.py).
    body = {"news": "x" * 60_000}
    for _ in range(hooks.MAX_KEPT_CALLS + 5):
        answer = Client().post(hook_path(sent), body, content_type="application/json")
        assert answer.status_code == 200
    kept = sent.events.filter(kind=EventKind.HOOK)
    assert kept.count() == hooks.MAX_KEPT_CALLS
    # The newest call's time is still kept, to count the gap between polls from (a flood
    # brings about one poll upstream a second, not one a call).
    before = timezone.now()
    Client().post(hook_path(sent), {"news": "the last"}, content_type="application/json")
    newest = kept.latest("at")
    assert newest.at >= before
    assert newest.data["payload"] == {"news": "the last"}
    assert kept.count() == hooks.MAX_KEPT_CALLS


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["forged", "abc:def"])
def test_a_forged_hook_is_refused(owner, settings, token: str) -> None:
    response = Client().post(f"/hooks/{token}", {}, content_type="application/json")
    assert response.status_code == 403
    assert "signature" in response.json()["detail"]


@pytest.mark.django_db
def test_a_hook_signed_for_another_purpose_is_refused(owner, settings) -> None:
    from django.core import signing

    token = signing.Signer(salt="lumaweb.public-media").sign(str(owner.pk))
    assert Client().post(f"/hooks/{token}").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_hook_finishes_a_job_long_before_its_next_poll(
    owner, live_app: str, run_worker, settings
) -> None:
    settings.LUMAWEB_PUBLIC_URL = live_app
    settings.LUMAWEB_POLL_INTERVAL = 600.0  # only the hook can bring the poll forward
    generation = start(owner)
    run_worker(terminal(generation), timeout=30)
    assert generation.state == State.COMPLETED
    assert generation.poll_count == 1
    hook = generation.events.get(kind=EventKind.HOOK)
    assert hook.data["payload"] == {"id": generation.upstream_id, "state": "completed"}


@pytest.mark.django_db(transaction=True)
def test_news_that_comes_while_the_job_is_being_sent_is_not_lost(
    owner, run_worker, settings, sim_clock
) -> None:
    # Found in CI on a loaded machine: a fast gateway called the hook before the worker had
    # stored the job's id; the hook could not poll a job without one, and the news waited for
    # the worker's poll an interval later (two minutes in the browser test, which failed).
    settings.LUMAWEB_PUBLIC_URL = "https://studio.example"
    settings.LUMAWEB_POLL_INTERVAL = 600.0
    generation = start(owner)
    answer = Client().post(hook_path(generation), {"state": "completed"}, "application/json")
    assert (answer.status_code, answer.json()) == (200, {"polling": False})
    sim_clock.advance(3600)  # the gateway has finished it
    run_worker(terminal(generation), timeout=60)
    generation.refresh_from_db()
    assert generation.state == State.COMPLETED
    assert generation.poll_count == 1


@pytest.mark.django_db(transaction=True)
def test_news_that_comes_as_the_jobs_id_is_stored_is_not_lost(
    owner, run_worker, settings, sim_clock, monkeypatch
) -> None:
    # Found in CI (the gateway's browser test, once more): the hook read the job just before the
    # worker stored its id, and the worker looked for news just before the hook kept it; neither
    # polled, and the finished job showed "queued" until the worker's poll two minutes on.
    settings.LUMAWEB_PUBLIC_URL = "https://studio.example"
    settings.LUMAWEB_POLL_INTERVAL = 600.0
    generation = start(owner)
    keep = hooks._kept

    def stored_meanwhile(request):  # between the hook's read of the job and its keeping the news
        run_worker(lambda: bool(Generation.objects.get(pk=generation.pk).upstream_id))
        sim_clock.advance(3600)  # the gateway has finished it: that was the news
        return keep(request)

    monkeypatch.setattr(hooks, "_kept", stored_meanwhile)
    answer = Client().post(hook_path(generation), {"state": "completed"}, "application/json")
    assert (answer.status_code, answer.json()) == (200, {"polling": True})
    generation.refresh_from_db()
    assert generation.state == State.COMPLETED
    assert generation.poll_count == 1


def test_the_provider_is_registered_with_its_display_name(settings) -> None:
    settings.LUMA_PROVIDERS = {
        **settings.LUMA_PROVIDERS,
        "proxy": {**settings.LUMA_PROVIDERS["proxy"], "name": "Acme Gateway"},
    }
    provider = providers.get("proxy")
    assert (provider.label, provider.display_name) == ("Luma proxy", "Acme Gateway")
    assert provider.capabilities.callbacks
    assert provider.capabilities.kinds == ("video",)


@pytest.mark.parametrize(
    ("fault", "error"),
    [({"kind": "500", "after": True}, errors.OutcomeUnknown), ({"kind": "503"}, None)],
)
def test_the_simulators_faults_strike_the_gateway_too(gateway: ProxyClient, fault, error) -> None:
    sim_fault(token=TEST_TOKEN, method="POST", path="/luma/generations", **fault)
    request = schema.ProxyRequest(user_prompt="a kite")
    if error is None:  # refused before any work: retried, and only one job is made
        assert gateway.create_generation(request).data.state == "queued"
    else:  # the job exists but the answer is lost: never repeated
        with pytest.raises(error):
            gateway.create_generation(request)
    assert SimGeneration.objects.count() == 1


# --- the studio's form, chaining and pages ---


def finished_image(owner, run_worker) -> Generation:
    from generations.providers.agents import schema as agents

    piece, _ = start_generation(owner, agents.GenerationRequest(prompt="a red kite"))
    run_worker(terminal(piece))
    assert piece.state == State.COMPLETED
    return piece


@pytest.mark.django_db(transaction=True)
def test_the_form_sends_the_dialects_options_and_an_upload(
    owner, owner_client, run_worker, settings
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.LUMAWEB_PUBLIC_URL = ""  # the upload goes inline
    page = owner_client.get("/?mode=proxy").content.decode()
    assert 'Video <span class="modes__tag">Proxy</span>' in page  # its tab, tagged
    assert "Let the gateway improve my prompt" in page
    assert "Keyframe timeline" not in page  # only the dialect's options
    response = owner_client.post(
        "/",
        {
            "mode": "proxy",
            "idempotency_key": "k-proxy",
            "prompt": "waves at night",
            "expand_prompt": "on",
            "loop": "on",
            "aspect_ratio": "9:16",
            "image_url": SimpleUploadedFile("start.png", png(), content_type="image/png"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    generation = Generation.objects.get()
    assert generation.provider == "proxy"
    run_worker(terminal(generation))
    assert generation.state == State.COMPLETED, generation.failure_reason
    sent = SimGeneration.objects.get(pk=generation.upstream_id).request
    image = sent.pop("image_url")
    assert sent == {
        "user_prompt": "waves at night",
        "expand_prompt": True,
        "loop": True,
        "aspect_ratio": "9:16",
    }
    assert base64.b64decode(image.split(",", 1)[1]) == png()
    assert generation.inputs.get().role == "image_url"


@pytest.mark.django_db(transaction=True)
def test_a_ratio_the_dialect_lacks_is_refused_on_its_field(owner_client) -> None:
    response = owner_client.post(
        "/", {"mode": "proxy", "prompt": "x", "aspect_ratio": "21:9", "idempotency_key": "k"}
    )
    assert response.status_code == 400
    assert "21:9 is not one of the available choices" in response.content.decode()
    assert not Generation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_animate_an_image_through_the_gateway(owner, owner_client, run_worker) -> None:
    piece = finished_image(owner, run_worker)
    detail = owner_client.get(piece.get_absolute_url()).content.decode()
    assert "Animate via Luma proxy" in detail
    form = owner_client.get(f"/?mode=proxy&from={piece.uuid}&as=image_end_url&lineage=animate")
    assert f'<option value="{piece.uuid}" selected' in form.content.decode()
    owner_client.post(
        "/",
        {
            "mode": "proxy",
            "idempotency_key": "k-animate",
            "prompt": "it flies away",
            "image_end_url_pick": str(piece.uuid),
            "parent": str(piece.uuid),
            "lineage": "animate",
        },
    )
    video = Generation.objects.get(provider="proxy")
    assert video.request["image_end_url"] == f"{schema.PIECE_REFERENCE}{piece.uuid}"
    run_worker(terminal(video))
    assert video.state == State.COMPLETED, video.failure_reason
    assert (video.parent, video.lineage) == (piece, "animate")
    page = owner_client.get(video.get_absolute_url()).content.decode()
    assert "<dt>End image</dt><dd>a piece from the gallery</dd>" in page
    assert "Luma proxy" in page
    # Agents requests name pieces by their Agents id: a gateway's video is not offered there.
    assert "Extend" not in page
    agents_form = owner_client.get("/?mode=video_edit").content.decode()
    assert f'<option value="{video.uuid}"' not in agents_form
    remix = owner_client.get(f"/?remix={video.uuid}").content.decode()
    assert 'name="mode" value="proxy"' in remix
    assert f'<option value="{piece.uuid}" selected' in remix


@pytest.mark.django_db
def test_an_unknown_state_is_shown_on_the_page(owner, owner_client, settings) -> None:
    settings.LUMA_PROVIDERS = {
        **settings.LUMA_PROVIDERS,
        "proxy": {**settings.LUMA_PROVIDERS["proxy"], "name": "Acme Gateway"},
    }
    generation = Generation.objects.create(
        created_by=owner, provider="proxy", kind="video", model="m", prompt="x", request={},
        state=State.PROCESSING, upstream_id="gw-2",
        upstream={"code": 0, "data": {"id": "gw-2", "state": "upscaling"}},
    )  # fmt: skip
    page = owner_client.get(generation.get_absolute_url()).content.decode()
    assert "“upscaling”" in page
    assert "Acme Gateway" in page
    card = owner_client.get(f"/g/{generation.uuid}/card").content.decode()
    assert "Acme Gateway" in card
    assert Client().get("/healthz").json()["provider_names"]["proxy"] == "Acme Gateway"


@pytest.mark.django_db
def test_with_only_a_gateway_the_studio_opens_on_its_form(owner_client, settings) -> None:
    settings.LUMA_PROVIDERS = {"proxy": settings.LUMA_PROVIDERS["proxy"]}
    page = owner_client.get("/").content.decode()
    assert 'name="mode" value="proxy"' in page
    assert "?mode=image" not in page
    assert owner_client.get("/?mode=image").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_command_twin_sends_a_gateway_video(owner, run_worker, capsys) -> None:
    from django.core.management import CommandError, call_command

    piece = finished_image(owner, run_worker)
    call_command(
        "create_generation",
        *("--provider", "proxy", "--user", owner.username, "--prompt", "the kite dives"),
        *("--aspect-ratio", "1:1", "--source", str(piece.uuid)),
    )
    printed = json.loads(capsys.readouterr().out)
    generation = Generation.objects.get(uuid=printed["id"])
    assert generation.request == {
        "user_prompt": "the kite dives",
        "aspect_ratio": "1:1",
        "image_url": f"{schema.PIECE_REFERENCE}{piece.uuid}",
    }
    run_worker(terminal(generation))
    assert generation.state == State.COMPLETED
    with pytest.raises(CommandError, match="aspect_ratio"):
        call_command(
            "create_generation",
            *("--provider", "proxy", "--user", owner.username, "--prompt", "x"),
            *("--aspect-ratio", "21:9"),
        )


@pytest.mark.django_db(transaction=True)
def test_a_transient_failure_is_retried_with_the_same_upload(owner, run_worker) -> None:
    item = stored_input(owner, png())
    request = schema.ProxyRequest(
        user_prompt="a moth [fail:generation_failed]", image_url=item.placeholder
    )
    generation, _ = start_generation(owner, request, provider="proxy")
    run_worker(terminal(generation))
    assert (generation.state, generation.failure_code) == (State.FAILED, "generation_failed")
    retry = generation.retried_as
    assert retry is not None  # each send reads the upload again: nothing was used up
    assert (retry.provider, retry.request["image_url"]) == ("proxy", item.placeholder)


@pytest.mark.django_db
def test_the_detail_page_learns_a_requests_images(owner) -> None:
    from generations.providers.proxy.provider import ProxyProvider

    piece = Generation.objects.create(
        created_by=owner, kind="image", model="uni-1", prompt="x", request={},
        state=State.COMPLETED, upstream_id="up-7",
    )  # fmt: skip
    request = {
        "user_prompt": "x",
        "image_url": "lumaweb-input:1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed",
        "image_end_url": f"{schema.PIECE_REFERENCE}{piece.uuid}",
    }
    assert ProxyProvider.references(request) == [
        ("Start image", {"file_id": request["image_url"]}),
        ("End image", {"generation_id": "up-7"}),
    ]
    assert ProxyProvider.references({"image_url": "https://x.test/a.png"}) == [
        ("Start image", {"url": "https://x.test/a.png"})
    ]


@pytest.mark.django_db
def test_a_hook_for_a_job_that_is_gone_is_a_404(owner, settings) -> None:
    settings.LUMAWEB_PUBLIC_URL = "https://studio.example"
    generation = Generation.objects.create(
        created_by=owner, provider="proxy", kind="video", model="m", prompt="x", request={}
    )
    url = hook_url(generation)
    assert url is not None
    generation.delete()
    response = Client().post(url.removeprefix("https://studio.example"))
    assert response.status_code == 404


def test_a_gateway_key_without_its_base_url_is_refused_at_startup() -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "LUMA_PROXY_API_KEY": "gw-token", "DJANGO_SETTINGS_MODULE": ""}
    env.pop("LUMA_PROXY_BASE_URL", None)
    started = subprocess.run(
        [sys.executable, "-c", "import lumaweb.settings"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert started.returncode != 0
    assert "LUMA_PROXY_BASE_URL is needed with the proxy key" in started.stderr


@pytest.mark.django_db(transaction=True)
def test_what_staff_are_told_about_a_gateway_job_names_the_gateway_not_luma(
    owner, run_worker, settings
) -> None:
    # Found from outside: a refresh of a gateway's job said "Luma says completed".
    settings.LUMA_PROVIDERS = {
        **settings.LUMA_PROVIDERS,
        "proxy": {**settings.LUMA_PROVIDERS["proxy"], "name": "Acme Gateway"},
    }
    settings.LUMAWEB_PUBLIC_URL = ""
    generation = start(owner)
    run_worker(terminal(generation))
    assert tasks.refresh(generation) == "Refreshed: Acme Gateway (simulator) says completed."
    Generation.objects.filter(pk=generation.pk).update(upstream_id="gone-for-good")
    generation.refresh_from_db()
    assert tasks.refresh(generation) == "Acme Gateway (simulator) no longer knows this job."
    unsent = start(owner)
    assert tasks.refresh_later(unsent) == "Sending it to Acme Gateway (simulator) now."
    Generation.objects.filter(pk=unsent.pk).update(state=State.UNKNOWN)
    unsent.refresh_from_db()
    assert tasks.refresh_later(unsent) == (
        "Acme Gateway (simulator) never gave us an id for this job, so there is nothing to ask."
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "body",
    [
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": 1e999}',
        b'{"a": [-1e999]}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' + b"7" * 5000 + b"}",
        b'{"state": "\\ud800"}',
        b'{"state": "' + b"x" * 3 * 1024 * 1024 + b'"}',
        b'{"state": "\\u0000"}',
    ],
    ids=[
        "nan", "infinity", "overflow", "negative-overflow", "deep", "long-number",
        "lone-surrogate", "over-django's-2.5-MB", "nul",
    ],
)  # fmt: skip
def test_a_hook_keeps_a_body_json_cannot_store_as_text(
    sent: Generation, body: bytes, admin_client: Client
) -> None:
    # Found from outside: these bodies, on a correctly signed hook, were 500s (the database's
    # JSON check, a RecursionError, Python's digit limit), and an upstream retries on a 500.
    # Then (an attacker): a lone surrogate was kept, and the job's admin page was a 500 for
    # good (no page can write one); a body over 2.5 MB was a 400, and nothing was kept.
    response = Client().post(hook_path(sent), body, content_type="application/json")
    assert response.status_code == 200
    kept = sent.events.get(kind=EventKind.HOOK).data
    assert kept["payload"] == body[: hooks.MAX_KEPT_BYTES].decode()
    assert kept["truncated"] is (len(body) > hooks.MAX_KEPT_BYTES)
    page = admin_client.get(reverse("admin:generations_generation_change", args=[sent.pk]))
    assert page.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_gateway_job_never_sends_another_persons_upload(owner, teammate, run_worker) -> None:
    """Found from outside: a request naming someone else's upload (`lumaweb-input:<its id>`, as
    an agent may write it) sent that person's file to the gateway as this job's image."""
    theirs = stored_input(teammate, png())
    request = schema.ProxyRequest(user_prompt="steal this", image_url=theirs.placeholder)
    generation, _ = start_generation(owner, request, provider="proxy")
    run_worker(terminal(generation))
    assert (generation.state, generation.failure_code) == (State.FAILED, "upload_refused")
    assert "upload it again" in generation.failure_reason


@pytest.mark.django_db(transaction=True)
def test_a_teammates_remix_sends_its_own_copy_of_the_upload(owner, teammate, run_worker) -> None:
    """Review: a Remix's copy of an upload keeps its uploader (the original's maker), so the
    check above refused a teammate's Remix of a gateway job as "upload is gone"."""
    import uuid

    from generations.uploads import copy_input

    original = stored_input(owner, png())
    key = uuid.uuid4()
    request = schema.ProxyRequest(user_prompt="the same kite", image_url=f"lumaweb-input:{key}")
    generation, _ = start_generation(teammate, request, provider="proxy")
    copy_input(original, key=key, generation=generation)
    run_worker(terminal(generation))
    assert generation.state == State.COMPLETED
