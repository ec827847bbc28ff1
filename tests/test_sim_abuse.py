"""The simulators are no door for strangers (issue #12 §3): each abuse found from outside, refused.

In demo mode a simulator shares the studio's port and takes any bearer token; each token is its
own customer. These tests call it as a stranger would, over WSGI.
"""

import base64
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.utils import timezone

from generations.simulators import api
from generations.simulators.agents import engine
from generations.simulators.guard import may_call
from generations.simulators.models import SimFault, SimFile
from tests.conftest import SIM_ROOT, SIM_URL
from tests.factories import sim_fault

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

IMAGE = {"prompt": "a lighthouse", "type": "image", "model": "uni-1"}


def client(token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(
        base_url=SIM_URL, transport=httpx.WSGITransport(app=WSGIHandler()), headers=headers
    )


@pytest.fixture
def app() -> Iterator[httpx.Client]:
    """The studio itself, with the key it sends in demo mode."""
    with client(settings.LUMA_PROVIDERS["agents"]["api_key"]) as http:
        yield http


@pytest.fixture
def stranger() -> Iterator[httpx.Client]:
    with client("someone-elses-key") as http:
        yield http


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every stall's sleep, recorded instead of slept: no test waits on a clock."""
    recorded: list[float] = []
    monkeypatch.setattr(api.time, "sleep", recorded.append)
    return recorded


def test_a_fault_header_without_a_key_is_401_and_holds_nothing(sleeps: list[float]) -> None:
    with client(None) as anonymous:
        response = anonymous.post("/generations", json=IMAGE, headers={"X-Sim-Fault": "timeout"})
    assert response.status_code == 401
    assert sleeps == []


def test_a_strangers_queued_fault_never_strikes_the_studio(
    app: httpx.Client, stranger: httpx.Client
) -> None:
    queued = stranger.post("/_sim/faults", json={"kind": "502", "count": 5})
    assert queued.status_code == 201
    assert app.post("/generations", json=IMAGE).status_code == 201
    assert app.get("/_sim/faults").json()["data"] == []  # the studio sees none of them
    assert stranger.post("/generations", json=IMAGE).status_code == 502  # their own calls only


def test_the_studios_own_key_may_fault_its_own_calls(app: httpx.Client) -> None:
    sim_fault("503")
    assert app.post("/generations", json=IMAGE).status_code == 503
    assert app.post("/generations", json=IMAGE).status_code == 201


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"kind": "502", "count": "x"}, "count must be a whole number from 1 to 100"),
        ({"kind": "502", "count": 0}, "count must be a whole number from 1 to 100"),
        ({"kind": "502", "count": 10**9}, "count must be a whole number from 1 to 100"),
        ({"kind": "timeout", "delay": 10**9}, "delay must be a number of seconds from 0 to 60"),
        ({"kind": "timeout", "delay": "soon"}, "delay must be a number of seconds from 0 to 60"),
        ({"kind": "explode"}, "kind must be an HTTP status from 400 to 599"),
        ([1, 2], "kind must be an HTTP status from 400 to 599"),
    ],
)
def test_a_bad_fault_is_a_400_in_plain_words(
    stranger: httpx.Client, body: object, said: str
) -> None:
    response = stranger.post("/_sim/faults", json=body)
    assert response.status_code == 400
    assert said in response.json()["detail"]
    assert not SimFault.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/v1/_sim/faults",
        "/v1/generations",
        "/dream-machine/v1/generations",
        "/dream-machine/v1/_sim/faults",
        "/proxy/luma/generations",
    ],
)
def test_json_nested_past_what_python_reads_is_a_400_in_plain_words(
    stranger: httpx.Client, path: str
) -> None:
    # Found from outside (an attacker): 5,000 nested brackets were a 500 on every simulator.
    nested = "[" * 5000 + "]" * 5000
    response = stranger.post(
        SIM_ROOT + path, content=nested, headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "The body is not valid JSON."},
    )


def test_a_stall_is_bounded_and_few_run_at_once(sleeps: list[float]) -> None:
    # A delay stored past the limit (an old row, a direct write) still stalls at most the limit.
    api.stall(SimFault(kind="timeout", delay=10**9))
    assert sleeps == [api.MAX_FAULT_DELAY]
    held = [api._stalls.acquire(blocking=False) for _ in range(api.MAX_STALLS)]
    try:
        assert all(held)
        api.stall(SimFault(kind="timeout", delay=30))  # every stall slot is taken: no stall
        assert sleeps == [api.MAX_FAULT_DELAY]
    finally:
        for _ in held:
            api._stalls.release()


def test_an_upload_larger_than_the_cap_is_refused_before_any_byte(
    stranger: httpx.Client, settings
) -> None:
    settings.LUMA_SIM_MAX_FILE_MB = 1
    body = {"mime_type": "image/png", "size_bytes": 5 * 2**30, "filename": "huge.png"}
    response = stranger.post("/files", json=body)
    assert response.status_code == 413
    assert "limited to 1 MiB" in response.json()["detail"]
    assert not SimFile.objects.exists()


def cursor(created: str) -> str:
    """A files list's cursor as the Agents simulator makes them, at any moment."""
    return base64.urlsafe_b64encode(f"{created}|{uuid.UUID(int=0)}".encode()).decode()


@pytest.mark.parametrize(
    ("path", "said"),
    [
        # Found from outside: an offset past any row number a database holds was a 500.
        ("/dream-machine/v1/generations?offset=99999999999999999999999", "offset must be from 0"),
        ("/dream-machine/v1/generations?offset=-1", "offset must be from 0 to 1000000000."),
        ("/dream-machine/v1/generations?limit=99999999999999999999999", "limit must be from 1"),
        ("/dream-machine/v1/generations?limit=many", "limit must be a whole number."),
        ("/v1/files?limit=99999999999999999999999", "limit must be an integer from 1 to 100."),
        # ... and a files cursor at a moment past the calendar's ends once in UTC.
        (f"/v1/files?cursor={cursor('0001-01-01T00:00:00+05:00')}", "cursor is not one"),
        (f"/v1/files?cursor={cursor('9999-12-31T23:59:59-05:00')}", "cursor is not one"),
    ],
    ids=["big-offset", "below-0", "big-limit", "word", "files-limit", "year-1", "year-10000"],
)
def test_a_bad_page_of_a_list_is_a_400_in_plain_words(
    stranger: httpx.Client, path: str, said: str
) -> None:
    response = stranger.get(SIM_ROOT + path)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(said)


def upload(http: httpx.Client, data: bytes) -> str:
    body = {"mime_type": "image/png", "size_bytes": len(data), "filename": "a.png"}
    created = http.post("/files", json=body).json()
    target = created["upload"]
    with httpx.Client(transport=httpx.WSGITransport(app=WSGIHandler())) as storage:
        put = storage.put(target["url"], content=data, headers=target["headers"])
    assert put.status_code == 200, put.text
    return str(created["id"])


def test_deleting_a_file_removes_its_bytes(stranger: httpx.Client) -> None:
    file_id = upload(stranger, b"\x89PNG not really")
    path = engine.file_path(SimFile.objects.get(pk=file_id))
    assert path.exists()
    assert stranger.delete(f"/files/{file_id}").status_code in (200, 204)
    assert not path.exists()


def test_uploads_never_completed_are_deleted_bytes_and_all(stranger: httpx.Client) -> None:
    file_id = upload(stranger, b"\x89PNG half a story")
    stale = SimFile.objects.get(pk=file_id)
    path = engine.file_path(stale)
    SimFile.objects.filter(pk=file_id).update(created_at=timezone.now() - timedelta(hours=2))
    body = {"mime_type": "image/png", "size_bytes": 10, "filename": "next.png"}
    assert stranger.post("/files", json=body).status_code == 201  # any new upload sweeps
    assert not SimFile.objects.filter(pk=file_id).exists()
    assert not path.exists()


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://sim.test/hooks/1", True),  # the studio's own address
        ("http://sim.test:80/hooks/1", True),  # its port said
        ("http://studio.example:8443/public/inputs/x", True),  # its public address
        # Found from outside (an attacker): any port of the studio's host was allowed, so the
        # demo's simulators sent requests to any service on the studio's machine.
        ("http://sim.test:9999/public/inputs/x", False),
        ("https://studio.example/public/inputs/x", False),
        ("https://cdn.partner.test/a.png", True),  # listed in LUMA_SIM_ALLOWED_HOSTS
        ("http://169.254.169.254/latest/meta-data/", False),
        ("http://127.0.0.2/", False),
        ("http://sim.test.evil.test/", False),
        ("file:///etc/passwd", False),
        ("gopher://sim.test/", False),
        ("http://[::1", False),
        ("", False),
    ],
)
def test_a_simulator_calls_only_the_studio_and_listed_hosts(
    settings, url: str, allowed: bool
) -> None:
    settings.LUMA_SIM_ALLOWED_HOSTS = ["cdn.partner.test"]
    settings.LUMAWEB_PUBLIC_URL = "http://studio.example:8443"
    assert may_call(url) is allowed
