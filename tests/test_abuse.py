"""What an attacker with an ordinary account (or none) tried, and what now stops them: lockouts
that hit only the name and address guessed, a password change throttled like a login, sessions
that end at logout, idempotency keys and lineage nobody can borrow, bad query strings answered
400/404 (never 500), and forms that cannot be made to work hard."""

import base64
import io
import logging
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import PIL.Image
import pytest
from django.contrib.auth.models import User
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.core.management import call_command
from django.test import Client
from django.urls import get_resolver
from gunicorn.config import Config as GunicornConfig
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from generations import hooks, public, tasks
from generations.gallery import GalleryFilters
from generations.management.commands.serve import gunicorn_command
from generations.mcp import answers
from generations.models import Generation, State
from generations.providers.agents import schema
from lumaweb.logs import GunicornLogger
from tests.conftest import free_port
from tests.factories import png_mov

PASSWORD = "pass-word-123"

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def log_in(client: Client, username: str, password: str = PASSWORD, **headers: str) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password}, **headers)


# --- login lockout: per name and address, the address from the proxies as configured ---


def test_random_names_from_one_address_lock_out_nobody(owner: User, staff: User, settings) -> None:
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 2
    attacker = Client()
    for _ in range(25):  # more than ten times the limit: the old per-address lock's count
        log_in(attacker, secrets.token_hex(6), "wrong")
    assert log_in(Client(), owner.username).status_code == 302
    assert log_in(Client(), staff.username).status_code == 302


def test_behind_a_proxy_the_lock_is_on_the_forwarded_client_address(owner: User, settings) -> None:
    settings.LUMAWEB_PROXY_COUNT = 1
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 3
    guesser = {"HTTP_X_FORWARDED_FOR": "203.0.113.5"}  # as nginx forwards it
    for _ in range(2):
        assert log_in(Client(), owner.username, "wrong", **guesser).status_code == 200
    assert log_in(Client(), owner.username, "wrong", **guesser).status_code == 429
    assert log_in(Client(), owner.username, **guesser).status_code == 429
    # The same name from another client behind the same proxy is not locked.
    elsewhere = {"HTTP_X_FORWARDED_FOR": "203.0.113.6"}
    assert log_in(Client(), owner.username, **elsewhere).status_code == 302
    # A client cannot choose its address: what it writes left of the proxy's entry is ignored.
    spoofed = {"HTTP_X_FORWARDED_FOR": "203.0.113.6, 203.0.113.5"}
    assert log_in(Client(), owner.username, **spoofed).status_code == 429


def test_without_proxies_a_forwarded_address_is_not_believed(owner: User, settings) -> None:
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 2
    for number in range(2):
        forged = {"HTTP_X_FORWARDED_FOR": f"198.51.100.{number}"}
        log_in(Client(), owner.username, "wrong", **forged)
    assert log_in(Client(), owner.username).status_code == 429


def test_the_lockout_page_says_in_plain_words_how_long_to_wait(owner: User, settings) -> None:
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 2
    for _ in range(2):
        log_in(Client(), owner.username, "wrong")
    page = log_in(Client(), owner.username).content.decode()
    assert "Try again in 15 minutes" in page
    assert "ask an admin" in page
    assert 'href="/accounts/login/"' in page
    assert "manage.py" not in page  # the admin's command is in docs/security.md


def test_an_admin_lifts_a_lock(owner: User, staff: User, settings) -> None:
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 2
    for _ in range(2):
        log_in(Client(), owner.username, "wrong")
    locked = log_in(Client(), owner.username)
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    admin = Client()
    admin.force_login(staff)
    attempts = admin.get("/admin/axes/accessattempt/")
    assert owner.username in attempts.content.decode()
    call_command("axes_reset_username", owner.username, stdout=io.StringIO())
    assert log_in(Client(), owner.username).status_code == 302


# --- password change and logout ---


def test_the_old_password_check_is_throttled_like_a_login(
    owner_client: Client, owner: User, settings
) -> None:
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 3
    new = {"new_password1": "another long one 42", "new_password2": "another long one 42"}
    for _ in range(2):
        wrong = owner_client.post("/accounts/password_change/", {"old_password": "no", **new})
        assert wrong.status_code == 200
        assert "incorrectly" in wrong.content.decode()
    third = owner_client.post("/accounts/password_change/", {"old_password": "no", **new})
    assert third.status_code == 429
    right = owner_client.post("/accounts/password_change/", {"old_password": PASSWORD, **new})
    assert right.status_code == 429
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
    # The lock is the login's too: that name from this address cannot log in either.
    assert log_in(Client(), owner.username).status_code == 429


def test_a_copied_session_cookie_ends_at_logout(owner: User) -> None:
    person = Client()
    assert log_in(person, owner.username).status_code == 302
    stolen = {name: morsel.value for name, morsel in person.cookies.items()}
    assert person.get("/gallery/").status_code == 200
    person.post("/accounts/logout/")
    thief = Client()
    for name, value in stolen.items():
        thief.cookies[name] = value
    assert thief.get("/gallery/").status_code == 302


# --- idempotency keys: a person's own, and never retry.py's namespace ---


def finished(user: User, kind: str = "image", state: str = State.COMPLETED) -> Generation:
    return Generation.objects.create(
        created_by=user,
        kind=kind,
        model="uni-1" if kind in ("image", "image_edit", "layering") else "ray-3.2",
        prompt=f"a {kind} by {user.username}",
        request={"prompt": "p", "type": kind, "model": "uni-1"},
        state=state,
        upstream_id=str(uuid.uuid4()),
    )


def create(client: Client, **fields: str) -> Any:
    form = {"mode": "image", "prompt": "a lighthouse", "model": "uni-1", "aspect_ratio": "1:1"}
    return client.post("/", {**form, **fields})


def test_the_retry_namespace_is_never_taken_from_a_form(
    owner_client: Client, teammate: User, staff: User
) -> None:
    theirs = finished(teammate, state=State.FAILED)
    refused = create(owner_client, idempotency_key=f"retry:{theirs.uuid}")
    assert refused.status_code == 400
    assert "reload the page" in refused.content.decode()
    assert Generation.objects.count() == 1
    retried, created = tasks.retry_now(theirs, staff)
    assert created
    assert retried.created_by == teammate
    assert retried.parent == theirs


def test_idempotency_keys_are_each_persons_own(
    owner_client: Client, owner: User, teammate: User
) -> None:
    assert create(owner_client, idempotency_key="same-key").status_code == 302
    other = Client()
    other.force_login(teammate)
    assert create(other, idempotency_key="same-key").status_code == 302
    jobs = Generation.objects.filter(idempotency_key="same-key")
    assert sorted(job.created_by.username for job in jobs) == sorted(
        [owner.username, teammate.username]
    )
    # The same person's double submission still finds the first job.
    assert create(other, idempotency_key="same-key").status_code == 302
    assert Generation.objects.filter(created_by=teammate).count() == 1


# --- lineage: only retry.py makes a retry; a chain's parent must fit its mode ---


def test_hidden_fields_cannot_make_a_retry(owner_client: Client, teammate: User) -> None:
    theirs = finished(teammate, state=State.FAILED)
    create(owner_client, idempotency_key="spoof", parent=str(theirs.uuid), lineage="retry")
    made = Generation.objects.get(idempotency_key="spoof")
    assert made.parent is None
    assert made.lineage == ""
    assert not Generation.objects.filter(parent=theirs).exists()


def edit(client: Client, source: Generation, parent: Generation, lineage: str, key: str) -> Any:
    return client.post(
        "/",
        {
            "mode": "image_edit",
            "prompt": "make it dusk",
            "model": "uni-1",
            "source_pick": str(source.uuid),
            "idempotency_key": key,
            "parent": str(parent.uuid),
            "lineage": lineage,
        },
    )


def test_a_chains_parent_must_fit_its_mode(owner_client: Client, teammate: User) -> None:
    used = finished(teammate)
    unrelated = finished(teammate)
    video = finished(teammate, kind="video")
    assert edit(owner_client, used, used, "edit", "real").status_code == 302
    real = Generation.objects.get(idempotency_key="real")
    assert (real.parent, real.lineage) == (used, "edit")
    # A parent the request does not use, a link of another mode, a remix of another kind.
    edit(owner_client, used, unrelated, "edit", "unused")
    edit(owner_client, used, video, "extend", "other-mode")
    edit(owner_client, used, video, "remix", "other-kind")
    for key in ("unused", "other-mode", "other-kind"):
        made = Generation.objects.get(idempotency_key=key)
        assert (made.parent, made.lineage) == (None, ""), key


# --- query strings: a bad one is a 400 or 404, never a 500 ---


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "url",
    [
        "/?remix=x",
        "/?mode=image&from=x&as=image_ref",
        "/gallery/?until=9999-12-31",
        f"/gallery/?cursor={cursor_of(f'1e300|{uuid.uuid4()}')}",
        "/media/inputs/%00.png",
    ],
)
def test_the_five_requests_that_gave_a_500(owner: User, url: str) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    assert client.get(url).status_code in (200, 400, 404)


ROOT = Path(__file__).resolve().parent.parent
# Every query parameter a view reads, found in the code itself, and the gallery's filters.
READ = re.compile(r"GET(?:\.get|\.getlist)?\(\s*\"(\w+)\"|GET\[\"(\w+)\"\]")
READ_IN_CODE = {
    name
    for path in (ROOT / "generations").glob("*.py")
    for pair in READ.findall(path.read_text())
    for name in pair
    if name
}
PARAMETERS = sorted(
    READ_IN_CODE
    | set(GalleryFilters.base_fields)
    | {"e", "o", "p", "_changelist_filters"}  # the admin's own
)
NASTY = [
    "", "x", "-1", "0", "1e300", "NaN", "9999-12-31", "0001-01-01", "\x00", "../../etc/passwd",
    "%00", "true", str(uuid.uuid4()), cursor_of(f"1e300|{uuid.uuid4()}"), cursor_of("-1e20|x"),
    "retry", "image_ref", "completed", "🙂" * 3,
]  # fmt: skip
values = st.sampled_from(NASTY) | st.text(max_size=40)
queries = st.dictionaries(
    st.sampled_from(PARAMETERS) | st.text(min_size=1, max_size=8), values, max_size=5
)


def get_views(piece: Generation) -> list[str]:
    """Every GET view of the studio (and the admin's job pages) with real arguments."""
    arguments = {"uuid": str(piece.uuid), "index": "0", "name": "outputs/x/0.png"}
    urls = []
    for pattern in get_resolver("generations.urls").url_patterns:
        route = str(pattern.pattern)
        for name, value in arguments.items():
            route = re.sub(rf"<(\w+:)?{name}>", value, route)
        urls.append("/" + route)
    return [
        *urls,
        "/accounts/login/",
        "/accounts/password_change/",
        "/admin/",
        "/admin/generations/generation/",
        f"/admin/generations/generation/{piece.pk}/change/",
    ]


def test_no_query_string_on_any_get_view_causes_a_server_error(
    owner: User, staff: User, settings
) -> None:
    settings.LUMAWEB_SUBMIT_PER_MINUTE = 0
    piece = finished(owner)
    client = Client(raise_request_exception=True)
    client.force_login(staff)
    urls = get_views(piece)
    assert {"remix", "from", "cursor", "seen", "since"} <= READ_IN_CODE
    assert "/gallery/" in urls
    assert f"/g/{piece.uuid}/card" in urls

    @hyp_settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(query=queries)
    def check(url: str, query: dict[str, str]) -> None:
        response = client.get(url, query)
        assert response.status_code != 500, (url, query)  # 503: /healthz with no worker

    for url in urls:
        check(url)


# --- the create form worked hard ---


def test_a_hundred_thousand_keyframe_rows_build_at_most_the_maximum(owner_client: Client) -> None:
    response = owner_client.post(
        "/",
        {
            "mode": "video",
            "prompt": "a slow pan",
            "idempotency_key": "many",
            "kf-TOTAL_FORMS": "100000",
            "kf-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert f"A timeline takes at most {schema.MAX_KEYFRAMES} keyframes." in html
    rows = set(re.findall(r'name="kf-(\d+)-frame"', html))
    assert len(rows) <= schema.MAX_KEYFRAMES
    assert not Generation.objects.exists()


# A fresh process probes the file in `threads` threads at once and reports its peak memory
# growth meanwhile: the kernel's high-water mark (VmHWM), reset first through clear_refs, over
# the resident size before. A probe that fails fails the process, so a small peak is earned.
PROBE = """
import sys, threading
from generations import media_probe

failures = []
threading.excepthook = failures.append

def status(name):
    line = next(l for l in open("/proc/self/status") if l.startswith(name + ":"))
    return int(line.split()[1]) // 1024

data = open(sys.argv[1], "rb").read()
open("/proc/self/clear_refs", "w").write("5")
before = status("VmRSS")
probe = media_probe.probe_video if sys.argv[1].endswith(".mov") else media_probe.probe_image
threads = [threading.Thread(target=probe, args=(data,),
                            kwargs={"max_pixels": 40_000_000}) for _ in range(int(sys.argv[2]))]
for thread in threads: thread.start()
for thread in threads: thread.join()
assert not failures, failures[0].exc_value
print(status("VmHWM") - before)
"""


def peak_growth_mb(path: Path, threads: int) -> int:
    result = subprocess.run(  # noqa: S603 (our own probe, this interpreter)
        [sys.executable, "-c", PROBE, str(path), str(threads)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return int(result.stdout.strip())


@pytest.mark.parametrize(
    ("kind", "threads", "most_mb"), [("JPEG", 1, 40), ("PNG", 4, 300), ("MOV", 4, 300)]
)
def test_a_large_image_or_video_is_probed_in_bounded_memory(
    tmp_path: Path, kind: str, threads: int, most_mb: int
) -> None:
    """6000x6000 pixels (36 MP, under the 40 MP limit) is 144 MB decoded. A JPEG is checked at
    an eighth of its size; PNGs arriving together are decoded one at a time, not four at once,
    and so are the first frames of videos."""
    path = tmp_path / f"large.{kind.lower()}"
    picture = PIL.Image.new("RGB", (6000, 6000), (30, 60, 90))
    if kind == "MOV":
        frame = io.BytesIO()
        picture.save(frame, "PNG")
        path.write_bytes(png_mov(frame.getvalue(), picture.size))
    else:
        picture.save(path, kind)
    assert peak_growth_mb(path, threads) < most_mb


def test_a_video_is_judged_by_its_header_before_a_frame_is_decoded(owner_client: Client) -> None:
    """What an attacker sent: a 16000x16000 frame, 2 GB decoded, 2 MB on disk. The header alone
    refuses it (here the frame is no picture at all, so a decode would only find it damaged)."""
    bomb = SimpleUploadedFile("clip.mov", png_mov(b"\x89PNG", (16000, 16000)), "video/quicktime")
    form = {"mode": "video_edit", "prompt": "x", "idempotency_key": "bomb", "source": bomb}
    response = owner_client.post("/", {**form, "auto_controls": "on"})
    assert response.status_code == 400
    assert response.context["form"].errors["source"] == [
        "clip.mov: This video is 16000\u00d716000 pixels; the limit is 40 megapixels."
    ]
    assert not Generation.objects.exists()


def test_a_form_body_over_the_limit_is_refused_unread(owner_client: Client, settings) -> None:
    settings.LUMAWEB_MAX_REQUEST_MB = 1
    big = SimpleUploadedFile("big.png", b"\x89PNG" + b"0" * (2 * 1024 * 1024), "image/png")
    response = owner_client.post(
        "/", {"mode": "image", "prompt": "x", "idempotency_key": "big", "image_ref": big}
    )
    assert response.status_code == 413
    assert "at most 1 MB" in response.content.decode()
    assert not Generation.objects.exists()


RECEIVED: list[int] = []


class RecordingHandler(TemporaryFileUploadHandler):
    """Keeps files as Django does, counting the bytes that reach it."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        RECEIVED.append(len(raw_data))
        return super().receive_data_chunk(raw_data, start)


def test_a_file_over_its_limit_is_not_read_past_it(owner_client: Client, settings) -> None:
    settings.LUMAWEB_UPLOAD_MAX_IMAGE_MB = 1
    ours = [name for name in settings.FILE_UPLOAD_HANDLERS if name.startswith("generations.")]
    settings.FILE_UPLOAD_HANDLERS = [*ours, "tests.test_abuse.RecordingHandler"]
    RECEIVED.clear()
    big = SimpleUploadedFile("big.png", b"\x89PNG" + b"0" * (3 * 1024 * 1024), "image/png")
    response = owner_client.post(
        "/", {"mode": "image", "prompt": "x", "idempotency_key": "big", "image_ref": big}
    )
    assert response.status_code == 400
    assert "big.png is over 1 MB; images may be at most 1 MB." in response.content.decode()
    assert sum(RECEIVED) <= 1024 * 1024
    assert not Generation.objects.exists()


# --- signed URLs in the logs ---

SIGNED_PATH = "/sim/v1/outputs/abc/0.png?expires=4102444800&signature=SECRET-SIGNATURE-42"
JOB = uuid.UUID("0d7b7a3c-5f4e-4c1a-9a52-2d9c1f0e8b11")
# The routes whose path is itself the credential, signed as the app signs them, and what a log
# line keeps of each: enough to tell the route (and the job) apart, nothing that opens it.
SECRET_PATHS = {
    "/public/"
    + signing.dumps("inputs/cat.png", salt=public.SALT, compress=True): "/public/[removed]",
    "/mcp/media/" + signing.TimestampSigner(salt=answers.MEDIA_SALT).sign(f"{JOB}_0"): (
        f"/mcp/media/{JOB}_0:[removed]"
    ),
    "/hooks/" + signing.Signer(salt=hooks.SALT).sign(str(JOB)): f"/hooks/{JOB}:[removed]",
}


def assert_no_secret(written: str) -> None:
    """Every secret path is logged as its redacted shape, and no signature is left."""
    for path, shown in SECRET_PATHS.items():
        assert shown in written
        assert path.rpartition(":")[2] not in written
    assert "SECRET-SIGNATURE" not in written


def test_gunicorn_logs_a_signed_url_without_its_signature(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LUMA", "DATABASE_URL"))},
        "LUMAWEB_VAR_DIR": str(tmp_path),
    }
    command = gunicorn_command(f"127.0.0.1:{port}", workers=1, threads=1)
    log = tmp_path / "access.log"
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)  # noqa: S603
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}{SIGNED_PATH}", timeout=5)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            for path in SECRET_PATHS:
                httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)
            # the access lines follow the replies
            while log.read_text().count('"GET ') < 1 + len(SECRET_PATHS):
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        finally:
            server.terminate()
            server.wait(timeout=30)
    written = log.read_text()
    assert "/sim/v1/outputs/abc/0.png?expires=4102444800&signature=[removed]" in written
    assert_no_secret(written)


def test_gunicorn_error_log_loses_secret_paths_too() -> None:
    """gunicorn names the request's path when a request fails in its own hands."""
    logger = GunicornLogger(GunicornConfig())
    stream = io.StringIO()
    logger.error_log.addHandler(logging.StreamHandler(stream))
    for path in [SIGNED_PATH, *SECRET_PATHS]:
        logger.error("Error handling request %s", path)
    assert_no_secret(stream.getvalue())


def test_djangos_log_lines_lose_signatures_too() -> None:
    handlers = logging.getLogger("django.server").handlers
    (console,) = [h for h in handlers if type(h) is logging.StreamHandler]  # not pytest's
    stream = io.StringIO()
    previous = console.setStream(stream)  # type: ignore[attr-defined]
    try:
        logging.getLogger("django.server").info('"GET %s HTTP/1.1" 200 5', SIGNED_PATH)
        logging.getLogger("generations").warning(
            "fetching %s", "https://s3.test/o?X-Amz-Signature=ab"
        )
        for path in SECRET_PATHS:  # runserver's request line, and Django's "Not Found: …"
            logging.getLogger("django.server").info('"GET %s HTTP/1.1" 404 5', path)
            logging.getLogger("django.request").warning("Not Found: %s", path)
    finally:
        console.setStream(previous)  # type: ignore[attr-defined]
    assert "signature=[removed]" in stream.getvalue()
    assert_no_secret(stream.getvalue())
