"""Security: production settings pass Django's deploy check, logins are throttled, submissions
are limited before anything goes upstream, and the API key never leaves the server."""

import logging
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from generations.luma.simulator.models import SimFault, SimGeneration
from generations.models import Generation, Output, State
from tests import figures

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pass-word-123"


@pytest.fixture(autouse=True)
def own_throttle_cache(settings) -> None:
    """Failed logins counted here stay here (not in var/throttle, shared by every run)."""
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"throttle-{secrets.token_hex(4)}",
        },
    }


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
    for _ in range(5):
        response = log_in(client, owner.username, "wrong")
        assert response.status_code == 200
        assert "correct username and password" in response.content.decode()
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
    assert log_in(client, staff.username, PASSWORD).status_code == 200  # shared count


@pytest.mark.django_db
def test_one_address_trying_many_names_is_throttled(owner: User, settings) -> None:
    settings.LUMAWEB_LOGIN_MAX_FAILURES = 2  # so 20 failures from one address
    client = Client()
    for number in range(20):
        log_in(client, f"guess-{number}", "wrong")
    refused = log_in(client, owner.username, PASSWORD)
    assert "Too many failed attempts" in refused.content.decode()


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


# --- the API key stays on the server ---

API_KEY = "luma-api-canary-" + secrets.token_hex(16)


@pytest.mark.django_db(transaction=True)
def test_the_api_key_appears_in_no_page_log_error_admin_view_or_stored_request(
    settings, owner: User, staff: User, run_worker, caplog, capfd, tmp_path: Path
) -> None:
    settings.LUMA_AGENTS_API_KEY = API_KEY
    settings.LUMA_API_TOKEN = API_KEY  # what the client sends as its bearer token
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "django", "generations"):
        caplog.set_level(logging.DEBUG, logger=name)
    person = Client()
    person.force_login(owner)
    # A success, a moderated failure, a refusal, an outcome unknown and a refused poll.
    submit(person, "a lighthouse at dusk", "s1")
    submit(person, "flagged [fail:content_moderated]", "s2")
    run_worker(lambda: Generation.objects.filter(state__in=["completed", "failed"]).count() == 2)
    SimFault.objects.create(kind="502", method="POST", path="/generations", after=True)
    submit(person, "lost reply", "s3")
    run_worker(lambda: Generation.objects.filter(state=State.UNKNOWN).count() == 1)
    SimFault.objects.create(kind="401", method="GET", path="/generations")
    SimFault.objects.create(kind="403", method="GET", path="/generations")
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
