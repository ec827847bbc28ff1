"""docs/deploy.md, followed on this machine: a fresh PostgreSQL database, Redis, gunicorn and two
RQ workers started with the doc's own commands, then a person in Chromium.

`make test-scaleout` runs it (it needs PostgreSQL and Redis, like the other scale-out tests). It
uses its own database, dropped after, and Redis database 12 (the scale-out run uses 13).
"""

import os
import re
import secrets
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import redis
from django.contrib.auth.models import User
from playwright.sync_api import Browser, expect
from psycopg import sql

from tests.conftest import ROOT, Processes, checked_page, free_port, log_in

pytestmark = [pytest.mark.system, pytest.mark.scaleout, pytest.mark.browser]

DOC = ROOT / "docs" / "deploy.md"
REDIS_DB = 12
VENV_BIN = Path(sys.executable).parent  # "with the virtualenv activated"


def doc_command(process: str) -> list[str]:
    """The command docs/deploy.md's process table gives for `process` (web, worker, …)."""
    row = re.search(rf"^\| {process} \| `([^`]+)` \|", DOC.read_text(), re.MULTILINE)
    assert row, f"docs/deploy.md lists no command for the {process} process"
    return shlex.split(row.group(1))


@pytest.fixture
def database_url(settings) -> Iterator[str]:
    """A new, empty database on the scale-out run's PostgreSQL server; dropped afterwards."""
    server = settings.DATABASES["default"]
    assert server["ENGINE"] == "django.db.backends.postgresql", (
        "run with DATABASE_URL=postgres://… (make test-scaleout)"
    )
    name = f"lumaweb_deploy_{secrets.token_hex(4)}"
    where = {"host": server["HOST"], "port": server["PORT"], "user": server["USER"]}

    def run(statement: sql.Composed) -> None:
        with psycopg.connect(dbname="postgres", autocommit=True, **where) as admin:
            admin.execute(statement)

    run(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgres://{server['USER']}@{server['HOST']}:{server['PORT']}/{name}"
    finally:
        run(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def redis_url(settings) -> Iterator[str]:
    """The scale-out run's Redis server, another database, empty before and after."""
    url = urlsplit(settings.REDIS_URL)._replace(path=f"/{REDIS_DB}").geturl()
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def test_deploy_md_followed_on_this_machine_serves_a_person_end_to_end(
    browser: Browser, database_url: str, redis_url: str, processes: Processes, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    metrics_token = secrets.token_urlsafe(16)
    # "Settings for production", in a shell of its own; no key, so the built-in simulator, and
    # no TLS proxy here, so neither SECURE_COOKIES nor CSRF_TRUSTED_ORIGINS.
    env = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "TASKS_BACKEND": "rq",
        "REDIS_URL": redis_url,
        "METRICS_TOKEN": metrics_token,
        "LUMA_SIMULATOR": "1",
        "PORT": str(port),
        "LUMAWEB_VAR_DIR": str(tmp_path / "var"),
    }
    # "First start": the schema, the static files, the first person.
    first_start = [
        ["python", "manage.py", "migrate", "--no-input"],
        ["python", "manage.py", "collectstatic", "--no-input"],
        ["python", "manage.py", "ensure_superuser"],
    ]
    person = {"DJANGO_SUPERUSER_USERNAME": "olivia", "DJANGO_SUPERUSER_PASSWORD": "pass-word-123"}
    for command in first_start:
        subprocess.run(command, cwd=ROOT, env={**env, **person}, check=True)  # noqa: S603

    # "Processes": gunicorn as the doc writes it (on a free port), and a worker per queue.
    web = doc_command("web")
    assert "127.0.0.1:8000" in web, web
    web[web.index("127.0.0.1:8000")] = f"127.0.0.1:{port}"
    server = processes.start("gunicorn", web, env)
    workers = [processes.start(name, doc_command(name), env) for name in ("worker", "bulk worker")]
    processes.wait_until_serving(server, f"{url}/healthz")

    with checked_page(browser, url) as page:
        log_in(page, User(username="olivia"))
        page.evaluate("window.notReloaded = true")
        prompt = "A harbour at dawn, deployed by the book"
        page.fill("textarea[name=prompt]", prompt)
        page.click("button:has-text('Generate')")
        card = page.locator(".card", has_text=prompt)
        expect(card.locator(".badge")).to_be_visible()  # on its way: not finished yet
        expect(card).to_have_attribute("data-state", "completed", timeout=90_000)
        expect(card.locator("img.media")).to_be_visible()
        assert page.evaluate("window.notReloaded") is True

        page.click("nav >> text=Gallery")
        page.locator(".card", has_text=prompt).locator("[data-card-link]").click()
        expect(page.locator(".detail__prompt")).to_have_text(prompt)
        image = page.locator("#detail-media img.media")
        expect(image).to_be_visible()
        # Its width and height attributes give it a box before it arrives: wait until it has loaded.
        expect(image).to_have_js_property("complete", True)
        expect(image).not_to_have_js_property("naturalWidth", 0)  # loaded, not broken

    health = httpx.get(f"{url}/healthz")
    assert health.status_code == 200, health.text
    assert health.json() == {
        "database": "ok",
        "worker": "ok",
        "upstream": "simulator",
        "providers": {"agents": "simulator", "dream_machine": "simulator", "proxy": "simulator"},
        "provider_names": {
            "agents": "Luma Agents API",
            "dream_machine": "Luma Dream Machine API",
            "proxy": "Luma proxy",
        },
        "status": "ok",
    }
    metrics = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
    assert "lumaweb_workers_alive 2\n" in metrics.text, metrics.text
    assert 'lumaweb_jobs{state="completed"} 1\n' in metrics.text
    assert all(worker.poll() is None for worker in workers), "a worker died"
