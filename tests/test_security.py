"""Security: production settings pass Django's deploy check, logins are throttled, submissions
are limited (atomically, before anything goes upstream), the API key never leaves the server,
uploads are judged by their bytes and stored under our names, stored media is never served as a
page, every state change needs the CSRF token, every page keeps to the strict CSP, and no URL
someone supplies is fetched by the server."""

import io
import json
import logging
import os
import secrets
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import get_resolver, resolve, reverse
from django.utils import timezone
from django.utils.http import http_date
from playwright.sync_api import Page

from generations import media_probe
from generations.forms import MODE_FORMS, MODES
from generations.models import ArchiveState, Generation, Input, Output, State
from generations.providers.agents import schema
from generations.simulators.models import SimGeneration
from generations.tasks import start_generation
from tests import figures
from tests.conftest import log_in as browser_log_in
from tests.conftest import terminal
from tests.factories import all_url_patterns, concrete, piece, png, sim_fault

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pass-word-123"


def manage(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py` in a fresh process with exactly these settings from the environment."""
    # Nothing inherited that the test run set (the browser tests allow async-unsafe calls).
    inherited = ("LUMA", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    return subprocess.run(  # noqa: S603 (our own manage.py)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "LUMAWEB_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PRODUCTION = {
    "SECRET_KEY": secrets.token_urlsafe(60),
    "DEBUG": "0",
    "ALLOWED_HOSTS": "studio.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://studio.example.com",
    "SECURE_COOKIES": "1",
    "LUMA_AGENTS_API_KEY": "luma-api-production-placeholder",
}


def test_the_deploy_check_is_clean_with_production_settings(tmp_path: Path) -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", tmp_path=tmp_path, **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_notices_missing_production_settings(tmp_path: Path) -> None:
    insecure = {**PRODUCTION, "SECURE_COOKIES": "0"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", tmp_path=tmp_path, **insecure)
    assert result.returncode != 0
    assert "security.W012" in result.stderr + result.stdout  # SESSION_COOKIE_SECURE


def test_the_simulator_refuses_to_start_beside_a_real_key(tmp_path: Path) -> None:
    refused = manage(
        "check", tmp_path=tmp_path, LUMA_AGENTS_API_KEY="luma-api-real", LUMA_SIMULATOR="1"
    )
    assert refused.returncode != 0
    assert "LUMA_SIMULATOR_WITH_KEY" in refused.stderr
    allowed = manage(
        "check",
        tmp_path=tmp_path,
        LUMA_AGENTS_API_KEY="luma-api-real",
        LUMA_SIMULATOR="1",
        LUMA_SIMULATOR_WITH_KEY="1",
    )
    assert allowed.returncode == 0, allowed.stderr


# --- login throttling ---


def log_in(client: Client, username: str, password: str, url: str = "/accounts/login/"):
    return client.post(url, {"username": username, "password": password})


@pytest.mark.django_db
def test_login_is_refused_after_repeated_failures_even_with_the_right_password(
    owner: User, teammate: User, settings
) -> None:
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 5
    client = Client()
    for _ in range(4):
        response = log_in(client, owner.username, "wrong")
        assert response.status_code == 200
        assert "correct username and password" in response.content.decode()
    assert log_in(client, owner.username, "wrong").status_code == 429  # the fifth locks
    refused = log_in(client, owner.username, PASSWORD)
    assert "Too many failed attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # The lock is on that name from that address: a teammate still gets in.
    assert log_in(Client(), teammate.username, PASSWORD).status_code == 302
    # So does the same person from another address.
    elsewhere = Client(REMOTE_ADDR="10.0.0.9")
    assert log_in(elsewhere, owner.username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_successful_login_forgets_earlier_failures(owner: User, settings) -> None:
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 3
    client = Client()
    for _ in range(2):
        log_in(client, owner.username, "wrong")
    assert log_in(client, owner.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        log_in(client, owner.username, "wrong")
    assert log_in(client, owner.username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_admin_login_is_throttled_too(staff: User, settings) -> None:
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 3
    client = Client()
    for _ in range(3):
        log_in(client, staff.username, "wrong", url="/admin/login/")
    refused = log_in(client, staff.username, PASSWORD, url="/admin/login/")
    assert "Too many failed attempts" in refused.content.decode()
    assert log_in(client, staff.username, PASSWORD).status_code == 429  # shared count


# --- submission limits, before anything goes upstream ---


def submit(client: Client, prompt: str, key: str, htmx: bool = False):
    form = {"prompt": prompt, "model": "uni-1", "aspect_ratio": "1:1", "idempotency_key": key}
    return client.post("/", form, headers={"HX-Request": "true"} if htmx else {})


@pytest.mark.django_db
def test_a_person_over_the_submission_rate_is_refused_plainly(
    owner_client: Client, owner: User, teammate: User, settings
) -> None:
    settings.LUMAWEB_SUBMIT_PER_MINUTE = 3
    for number in range(3):
        assert submit(owner_client, f"fox {number}", f"k{number}").status_code == 302
    refused = submit(owner_client, "one fox too many", "k3")
    assert refused.status_code == 400
    assert "3 jobs in the last minute" in refused.content.decode()
    in_place = submit(owner_client, "one fox too many", "k4", htmx=True)
    assert "3 jobs in the last minute" in in_place.content.decode()
    assert Generation.objects.filter(created_by=owner).count() == 3
    assert not Generation.objects.filter(prompt="one fox too many").exists()
    # A repeat of a job already made is no new job: it finds the first one, not the limit.
    assert submit(owner_client, "fox 0", "k0").status_code == 302
    # The limit is per person, and a minute later it has passed.
    teammate_client = Client()
    teammate_client.force_login(teammate)
    assert submit(teammate_client, "their fox", "t0").status_code == 302
    Generation.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    assert submit(owner_client, "one fox too many", "k5").status_code == 302


@pytest.mark.django_db
def test_a_daily_budget_stops_a_person_until_midnight(
    owner_client: Client, owner: User, settings
) -> None:
    settings.LUMAWEB_SUBMIT_PER_MINUTE = 0
    settings.LUMAWEB_DAILY_JOB_BUDGET = 2
    assert submit(owner_client, "a", "b1").status_code == 302
    assert submit(owner_client, "b", "b2").status_code == 302
    refused = submit(owner_client, "c", "b3")
    assert refused.status_code == 400
    assert "today&#x27;s budget of 2 jobs" in refused.content.decode()
    assert Generation.objects.count() == 2
    Generation.objects.update(created_at=timezone.now() - timedelta(days=1))
    assert submit(owner_client, "c", "b4").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_parallel_submissions_at_the_limit_make_exactly_the_limit(owner: User, settings) -> None:
    settings.LUMAWEB_SUBMIT_PER_MINUTE = 3
    # Enough at once that, without the lock, several pass the check before any job is recorded.
    presses = 16
    clients = [Client() for _ in range(presses)]
    for client in clients:
        client.force_login(owner)
    together = threading.Barrier(presses, timeout=30)

    def press_generate(number: int) -> int:
        together.wait()
        try:
            return submit(clients[number], f"parallel {number}", f"p{number}").status_code
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(presses) as pool:
        statuses = sorted(pool.map(press_generate, range(presses)))
    assert statuses == [302] * 3 + [400] * (presses - 3)
    assert Generation.objects.filter(created_by=owner).count() == 3


# --- the API key stays on the server ---

API_KEY = "luma-api-canary-" + secrets.token_hex(16)


@pytest.mark.django_db(transaction=True)
def test_the_api_key_appears_in_no_page_log_error_admin_view_or_stored_request(
    settings, owner: User, staff: User, run_worker, caplog, capfd, tmp_path: Path
) -> None:
    settings.LUMA_AGENTS_API_KEY = API_KEY
    # What the client sends as its bearer token.
    settings.LUMA_PROVIDERS = {
        name: {**config, "api_key": API_KEY} for name, config in settings.LUMA_PROVIDERS.items()
    }
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "django", "generations"):
        caplog.set_level(logging.DEBUG, logger=name)
    person = Client()
    person.force_login(owner)
    # A success, a moderated failure, a refusal, an outcome unknown and a refused poll.
    submit(person, "a lighthouse at dusk", "s1")
    submit(person, "flagged [fail:content_moderated]", "s2")
    run_worker(lambda: Generation.objects.filter(state__in=["completed", "failed"]).count() == 2)
    sim_fault("502", method="POST", path="/generations", after=True)
    submit(person, "lost reply", "s3")
    run_worker(lambda: Generation.objects.filter(state=State.UNKNOWN).count() == 1)
    sim_fault("401", method="GET", path="/generations")
    sim_fault("403", method="GET", path="/generations")
    submit(person, "polled through refusals", "s4")
    run_worker(lambda: Generation.objects.filter(state__in=["completed", "failed"]).count() == 3)
    run_worker(lambda: not Output.objects.filter(archive_state="pending").exists())
    assert SimGeneration.objects.count() == 4

    pages: dict[str, str] = {}
    admin_client = Client()
    admin_client.force_login(staff)
    urls = ["/", "/gallery/", "/review/", "/metrics", "/healthz", "/admin/", "/nowhere"]
    for generation in Generation.objects.all():
        urls += [generation.get_absolute_url(), reverse("generation-card", args=[generation.uuid])]
        urls.append(reverse("admin:generations_generation_change", args=[generation.pk]))
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        rows = model._default_manager.values_list("pk", flat=True) if model._meta.managed else []
        for pk in rows[:5]:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[pk]))
    for url in urls:
        response = admin_client.get(url, follow=True)
        assert response.status_code in (200, 404, 503), f"{url}: {response.status_code}"
        pages[url] = response.content.decode(errors="replace")
    stored = tmp_path / "dump.json"
    # django_rq's admin model has no table; everything else is dumped.
    unmanaged = ["--exclude", "django_rq"] if apps.is_installed("django_rq") else []
    call_command("dumpdata", *unmanaged, "--output", str(stored), verbosity=0)
    captured = capfd.readouterr()

    places = {
        **{f"page {url}": html for url, html in pages.items()},
        "log records": caplog.text,
        "stdout and stderr": captured.out + captured.err,
        "every stored row (dumpdata)": stored.read_text(),
    }
    leaks = [place for place, text in places.items() if API_KEY in text]
    assert len(places) > 20
    assert leaks == []
    # The search would have found it: the key did go upstream, as the bearer token.
    assert "Missing or invalid" not in caplog.text
    figures.record(
        "api_key_search",
        jobs_submitted=4,
        jobs_terminal=Generation.objects.exclude(state__in=["draft", "queued"]).count(),
        places_searched=len(places),
        pages_searched=len(pages),
        leaks=len(leaks),
    )


# --- uploads: judged by their bytes, stored under names we make ---

PAGE = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"/>'


def png_with_text(text: bytes) -> bytes:
    """A valid PNG that carries `text` in a tEXt chunk right after its header: a polyglot."""
    image = png(size=(8, 8))
    chunk = b"tEXt" + b"Comment\x00" + text
    text_chunk = struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return image[:33] + text_chunk + image[33:]  # signature (8) + IHDR (25), then ours


POLYGLOT = png_with_text(b"<html><script>alert(document.cookie)</script></html>")


@pytest.mark.parametrize(
    ("mode", "name", "data", "declared", "message"),
    [
        ("layering", "page.png", PAGE, "image/png", "web page markup (<!doctype>)"),
        ("layering", "vector.png", SVG, "image/png", "web page markup (<svg>)"),
        ("layering", "script.png", b"alert(document.cookie)//", "image/png", "not an image"),
        ("layering", "gif.png", b"GIF89a=alert(document.cookie)//", "image/png", "not an image"),
        ("layering", "polyglot.png", POLYGLOT, "image/png", "web page markup (<html>)"),
        ("layering", "photo.png", png(), "text/html", "photo.png is a web page, not an image."),
        ("layering", "photo.png", png(), "image/svg+xml", "is an SVG drawing"),
        (
            "layering",
            "notes.txt",
            b"my notes",
            "text/plain",
            "notes.txt is a text file, not an image.",
        ),
        ("video_edit", "clip.mp4", PAGE, "video/mp4", "web page markup (<!doctype>)"),
    ],
)
@pytest.mark.django_db
def test_a_page_or_script_dressed_as_media_is_refused_on_its_field(
    owner_client: Client, mode: str, name: str, data: bytes, declared: str, message: str
) -> None:
    upload = SimpleUploadedFile(name, data, content_type=declared)
    form = {"mode": mode, "prompt": "x", "idempotency_key": "u", "source": upload}
    response = owner_client.post("/", {**form, "auto_controls": "on"})
    assert response.status_code == 400
    [error] = response.context["form"].errors["source"]
    assert error.startswith(name), error
    assert message in error, error
    assert not Generation.objects.exists()
    assert not Input.objects.exists()


def test_the_polyglot_is_an_image_a_probe_alone_would_accept() -> None:
    """So the refusal above is the markup check's doing, not the image decoder's."""
    assert media_probe.probe_image(POLYGLOT, max_pixels=100).mime_type == "image/png"


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    """A form as a browser would send it, with the file name exactly as given (the test
    client would take only its last path component)."""
    boundary = "lumaweb-" + secrets.token_hex(8)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="source"; filename="{filename}"'
        "\r\nContent-Type: image/png\r\n\r\n"
    )
    parts.append(head.encode() + data + b"\r\n")
    return b"".join([*parts, f"--{boundary}--\r\n".encode()]), boundary


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd.png",
        "..\\..\\x.png",
        "/etc/passwd.png",
        "C:\\Windows\\win.png",
        "nul\x00byte.png",
        "x" * 300 + ".png",
        "fotografía de un búho 日本.png",
        "<img src=x onerror=alert(document.cookie)>.png",
        "<>",
        "....",
    ],
)
@pytest.mark.django_db
def test_an_upload_is_stored_under_a_name_we_make_and_shown_escaped(
    owner_client: Client, settings, filename: str
) -> None:
    body, boundary = multipart(
        {"mode": "layering", "prompt": "split it", "idempotency_key": "n"}, filename, png()
    )
    response = owner_client.post(
        "/", body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 302
    item = Input.objects.get()
    assert item.file.name == f"inputs/{item.uuid}/source.png"
    stored = Path(item.file.path).resolve()
    assert stored.is_relative_to(Path(settings.MEDIA_ROOT).resolve() / "inputs")
    assert stored.read_bytes() == png()
    assert not set(item.original_name) & {"/", "\\", "\x00", "<", ">"}
    assert 0 < len(item.original_name) <= 100
    page = owner_client.get(item.generation.get_absolute_url()).content.decode()
    assert item.original_name in page  # shown, as the person will recognise it
    assert "<img src=x" not in page


# --- stored media is never served as a page ---

INLINE = {".png": "image/png", ".mp4": "video/mp4", ".webp": "image/webp"}


@pytest.mark.parametrize(
    "stored",
    [
        "inputs/{uuid}/page.html",
        "inputs/{uuid}/page.HTM",
        "outputs/{uuid}/0.svg",
        "outputs/{uuid}/0.xhtml",
        "outputs/{uuid}/0.js",
        "inputs/{uuid}/no-extension",
        "outputs/{uuid}/0.png",
        "outputs/{uuid}/0.PNG",
        "outputs/{uuid}/0.mp4",
        "outputs/{uuid}/0-thumb.webp",
    ],
)
@pytest.mark.django_db
def test_stored_media_is_sent_as_its_kind_never_as_a_page(
    owner_client: Client, owner: User, settings, stored: str
) -> None:
    """Whatever a stored file holds (here a page and an SVG with scripts), it is sent as the
    image or video its name says, or else as bytes to download; never for a browser to run."""
    generation, _ = start_generation(owner, schema.GenerationRequest(prompt="kept"))
    name = default_storage.save(stored.format(uuid=generation.uuid), ContentFile(PAGE + SVG))
    generation.outputs.create(
        index=0,
        kind="image",
        url="https://cdn.test/0",
        url_expires_at=timezone.now(),
        file=name,
        archive_state=ArchiveState.ARCHIVED,
    )
    url = reverse("media", args=[name])
    download = reverse("generation-download", args=[generation.uuid, 0])
    inline = INLINE.get(Path(name).suffix.lower())
    for accel in ("", "x-accel", "x-sendfile"):  # Django sends it, or nginx / Apache
        settings.LUMAWEB_MEDIA_ACCEL = accel
        shown = [
            owner_client.get(url),
            owner_client.get(url, headers={"Range": "bytes=0-9"}),
            owner_client.get(url, headers={"If-Modified-Since": http_date(time.time() + 3600)}),
        ]
        downloaded = owner_client.get(download)
        for response in [*shown, downloaded]:
            assert response.status_code in (200, 206, 304)
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["Content-Type"] == (inline or "application/octet-stream")
            attachment = response.get("Content-Disposition", "").startswith("attachment;")
            assert attachment == (response is downloaded or inline is None)


# --- CSRF: every state change needs the token the page's htmx sends ---


class Markup(HTMLParser):
    """A page's tags with their attributes, and each <script>'s attributes and inline text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self.in_script = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        if tag == "script":
            self.scripts.append((attributes, ""))
            self.in_script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script:
            attributes, text = self.scripts[-1]
            self.scripts[-1] = (attributes, text + data.strip())


def htmx_csrf_header(html: str) -> dict[str, str]:
    """The headers the page tells htmx to send with every request (hx-headers on <body>)."""
    [body] = [attributes for tag, attributes in Markup(html).tags if tag == "body"]
    return json.loads(body["hx-headers"])  # type: ignore[no-any-return]


def app_routes() -> list[str]:
    """Every route of ours that a browser's cookie authenticates. The simulators' APIs (sim/)
    stand in for upstreams, bearer-token authenticated like the real ones; /mcp takes a bearer
    token and never a cookie (tests/test_mcp_tokens.py); an upstream's hook and an input's
    public link carry their own signatures (tests/test_proxy.py, tests/test_dream_machine.py).
    With the RQ backend, django_rq's admin model is a link to its dashboard with no table
    behind it."""
    routes = [r for r in all_url_patterns(get_resolver()) if "(?P" not in r]
    outside = ("sim/", "admin/django_rq/", "hooks/", "public/")
    return [r for r in routes if not r.startswith(outside) and r != "mcp"]


def failed_job(user: User) -> Generation:
    request = {"prompt": "csrf", "type": "image", "model": "uni-1"}
    return Generation.objects.create(
        created_by=user,
        kind="image",
        model="uni-1",
        prompt="csrf",
        request=request,
        state=State.FAILED,
        failure_code="generation_failed",
    )


CSRF_REFUSED = b"This form is out of date"  # templates/403_csrf.html


@pytest.mark.django_db
def test_every_state_change_needs_the_csrf_token_htmx_sends(staff: User, settings) -> None:
    settings.LUMAWEB_SUBMIT_PER_MINUTE = 0  # the walk makes many jobs
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    token_header = htmx_csrf_header(client.get("/").content.decode())
    assert list(token_header) == ["X-CSRFToken"]
    form = urlencode(
        {
            "mode": "image",
            "prompt": "sent with the token",
            "model": "uni-1",
            "aspect_ratio": "1:1",
            "idempotency_key": "csrf",
            "starred": "1",
            "action": "review",
        }
    )

    def send(method: str, url: str, headers: dict[str, str]) -> Any:
        client.force_login(staff)  # a walked logout must not end the walk
        return client.generic(
            method,
            url,
            form,
            content_type="application/x-www-form-urlencoded",
            headers={"HX-Request": "true", **headers},
        )

    answered: dict[tuple[str, str], int] = {}
    for route in app_routes():
        if "<uuid:uuid>" in route:  # a job of its own, as one of them deletes it
            route = route.replace("<uuid:uuid>", str(failed_job(staff).uuid))
        # No such admin object: any POST confirms an admin delete, of this very user, say.
        url = concrete(route.replace("<path:object_id>", "0"))
        for method in ("POST", "DELETE"):
            bare = send(method, url, {})
            assert bare.status_code == 403, f"{method} {url} without the token"
            assert CSRF_REFUSED in bare.content, f"{method} {url} without the token"
            sent = send(method, url, token_header)
            assert CSRF_REFUSED not in sent.content, f"{method} {url} with the token"
            answered[method, resolve(urlsplit(url).path).view_name] = sent.status_code
    assert len(answered) > 40
    # With the token, the app's own state changes went through.
    for name in ("home", "create-options", "generation-star", "generation-delete", "triage-act"):
        assert answered["POST", name] == 200, name
    assert answered["POST", "logout"] == 302
    assert Generation.objects.filter(prompt="sent with the token").exists()


# --- a strict CSP that every page keeps to ---


def archived() -> bool:
    return not Output.objects.filter(archive_state="pending").exists()


def check_page_keeps_to_the_policy(url: str, response: Any) -> None:
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy, url
    assert "unsafe-eval" not in policy, url
    assert "script-src 'self'" in policy, url
    assert "style-src 'self'" in policy, url
    page = Markup(response.content.decode())
    # Nothing inline is allowed, so no script needs a nonce: each is a file of our own.
    for attributes, text in page.scripts:
        source = urlsplit(attributes.get("src", ""))
        assert text == "", f"{url}: inline script {text[:80]!r}"
        assert source.path, f"{url}: a script with no source"
        assert source.netloc in ("", "testserver"), f"{url}: script from {source.netloc}"
    for tag, attributes in page.tags:
        assert tag != "style", f"{url}: a <style> element"
        for name, value in attributes.items():
            assert not name.startswith(("on", "hx-on")), f"{url}: <{tag} {name}>"
            assert name != "style", f"{url}: <{tag} style={value!r}>"
            assert not value.strip().lower().startswith("javascript:"), f"{url}: <{tag} {name}>"


@pytest.mark.django_db(transaction=True)
def test_no_page_has_inline_script_style_or_handlers(owner: User, staff: User, run_worker) -> None:
    person = Client()
    person.force_login(owner)
    picture = SimpleUploadedFile("in.png", png(), content_type="image/png")
    person.post("/", {"mode": "layering", "prompt": "split", "source": picture})
    job = Generation.objects.get()  # with an upload and layers, so every part of a page shows
    run_worker(lambda: terminal(job)() and archived())
    assert job.state == State.COMPLETED
    broken = failed_job(owner)
    admin_client = Client()
    admin_client.force_login(staff)
    checked: set[str] = set()
    urls = [f"/?mode={mode}" for mode in MODES]
    urls += [concrete(route.replace("<uuid:uuid>", str(job.uuid))) for route in app_routes()]
    urls += [
        reverse("admin:generations_generation_change", args=[pk]) for pk in (job.pk, broken.pk)
    ]
    pages = [(admin_client, url) for url in urls]
    pages += [(Client(), "/accounts/login/"), (Client(), "/admin/login/")]
    for client, url in pages:
        response = client.get(url)
        if response["Content-Type"].startswith("text/html") and response.content:
            check_page_keeps_to_the_policy(url, response)
            if response.status_code == 200:
                checked.add(resolve(urlsplit(url).path).view_name)
    main = {"home", "gallery", "generation-detail", "generation-card", "triage", "login"}
    assert main | {"admin:index", "admin:generations_generation_change"} <= checked


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_pages_cause_no_csp_violation_in_a_browser(
    page: Page, owner: User, staff: User, run_worker
) -> None:
    job, _ = start_generation(owner, schema.GenerationRequest(prompt="a quiet harbour"))
    broken, _ = start_generation(
        owner, schema.GenerationRequest(prompt="no [fail:content_moderated]")
    )
    run_worker(lambda: terminal(job)() and terminal(broken)() and archived())
    # Recorded from before any page script runs (Playwright's init scripts bypass the CSP).
    page.add_init_script(
        "window.cspViolations = [];"
        "document.addEventListener('securitypolicyviolation', e =>"
        " window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));"
    )
    page.goto("/accounts/login/")
    assert page.evaluate("window.cspViolations") == []
    browser_log_in(page, staff)
    for url in [
        "/",
        "/?mode=video_reframe",
        "/gallery/",
        job.get_absolute_url(),
        "/review/",
        "/admin/",
        reverse("admin:generations_generation_change", args=[broken.pk]),
    ]:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.cspViolations") == [], url
    # The `page` fixture then fails the test on any console error, CSP reports included.


# --- no server-side fetch of a URL someone supplied ---


@pytest.fixture
def listener() -> Iterator[tuple[str, list[Any]]]:
    """An HTTP server on 127.0.0.1 that records every connection made to it."""
    connections: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def setup(self) -> None:
            connections.append(self.client_address)
            super().setup()

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(png())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", connections
    server.shutdown()
    server.server_close()


@pytest.mark.django_db(transaction=True)
def test_an_image_url_in_a_request_goes_upstream_as_is_and_is_never_fetched(
    owner: User, staff: User, run_worker, listener: tuple[str, list[Any]], tmp_path: Path
) -> None:
    base, connections = listener
    # The forms take no URL (people upload, or pick from the gallery); a request body with one
    # comes from the create_generation command, and a retry or remix copies it.
    fields = [f for form in MODE_FORMS.values() for f in form.base_fields.values()]
    assert not [field for field in fields if isinstance(field, forms.URLField)]
    body = {
        "prompt": "in the style of these",
        "type": "image_edit",
        "source": {"url": f"{base}/source.png"},
        "image_ref": [{"url": f"{base}/reference.png"}],
    }
    (tmp_path / "request.json").write_text(json.dumps(body))
    command = ["--user", owner.username, "--json", str(tmp_path / "request.json")]
    call_command("create_generation", *command, stdout=io.StringIO())
    job = Generation.objects.get()
    run_worker(lambda: terminal(job)() and archived())
    assert job.state == State.COMPLETED
    sent = SimGeneration.objects.get(pk=job.upstream_id).request
    assert (sent["source"], sent["image_ref"]) == (body["source"], body["image_ref"])
    viewer = Client()
    viewer.force_login(staff)
    for url in [
        job.get_absolute_url(),
        reverse("generation-card", args=[job.uuid]),
        reverse("admin:generations_generation_change", args=[job.pk]),
        "/gallery/",
    ]:
        response = viewer.get(url)
        assert response.status_code == 200
    assert f"{base}/reference.png" in viewer.get(job.get_absolute_url()).content.decode()
    assert connections == []
    # The listener does see a fetch when there is one.
    assert httpx.get(f"{base}/source.png").status_code == 200
    assert len(connections) == 1


@pytest.mark.parametrize("where", ["x", "gallery", "javascript:alert(1)", "//evil.test/"])
def test_a_way_back_that_is_no_path_on_this_site_goes_to_the_default(
    owner: User, staff: User, where: str
) -> None:
    """Found from outside: `next=x` on a POST that redirects was a 500 after the action was done
    (a bare word passed the host check, and `redirect` took it for a URL pattern's name)."""
    own = piece(owner, "a starred kite")
    person, reviewer = Client(), Client()
    person.force_login(owner)
    reviewer.force_login(staff)
    starred = person.post(f"/g/{own.uuid}/star", {"starred": "1", "next": where})
    assert starred.status_code == 302
    assert starred["Location"] == own.get_absolute_url()
    reviewed = reviewer.post(f"/review/{own.uuid}", {"action": "refresh", "next": where})
    assert reviewed.status_code == 302
    assert reviewed["Location"] == "/review/"
