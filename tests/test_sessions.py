"""Sessions are kept in the database and read through a cache every web process of a deployment
shares (docs/deploy.md#sessions). A logout through one process must end the cookie in all of
them, including one that has already read the session and kept it: on one machine the
processes share files under VAR_DIR; on several, Redis (SESSION_CACHE_URL, in the scale-out
run)."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from generations.management.commands.serve import gunicorn_command
from tests.conftest import ROOT, Processes, free_port, log_in_over_http

pytestmark = pytest.mark.system

NAME, PASSWORD = "olivia", "pass-word-123"
REDIS_DB = 11  # the scale-out run's other tests use 12 and 13
SET_HERE = ("LUMA", "DATABASE_URL", "SESSION_")  # the environment's own would change the test


@pytest.fixture(params=["files", pytest.param("redis", marks=pytest.mark.scaleout)])
def session_cache(request: pytest.FixtureRequest, settings) -> Iterator[dict[str, str]]:
    """The environment that picks the sessions' shared cache: the default files, or Redis."""
    if request.param == "files":
        yield {}
        return
    url = urlsplit(settings.REDIS_URL)._replace(path=f"/{REDIS_DB}").geturl()
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield {"SESSION_CACHE_URL": url}
    client.flushdb()
    client.close()


def environment(var_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    """A new process's environment: SQLite and the session files in `var_dir`, unless `extra`
    says otherwise, and nothing of this test run's that would choose for it."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(SET_HERE)}
    return {**inherited, "LUMAWEB_VAR_DIR": str(var_dir), **extra}


def deployment(var_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    """The environment of one deployment with its first person, as `make run` prepares it."""
    env = environment(var_dir, extra)
    person = {"DJANGO_SUPERUSER_USERNAME": NAME, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    first_start = (["migrate", "--no-input"], ["collectstatic", "--no-input"], ["ensure_superuser"])
    for command in first_start:
        manage = [sys.executable, "manage.py", *command, "-v0"]
        subprocess.run(manage, cwd=ROOT, env={**env, **person}, check=True)  # noqa: S603
    return env


def test_a_logout_through_one_web_process_ends_the_cookie_in_the_others(
    tmp_path: Path, processes: Processes, session_cache: dict[str, str]
) -> None:
    env = deployment(tmp_path / "var", session_cache)
    urls = []
    for n in range(2):  # two servers, as two gunicorn workers: which one answers is chosen here
        port = free_port()
        command = gunicorn_command(f"127.0.0.1:{port}", workers=1, threads=2)
        server = processes.start(f"web-{n}", command, env)
        urls.append(f"http://127.0.0.1:{port}")
        processes.wait_until_serving(server, f"{urls[-1]}/healthz")
    person = httpx.Client(base_url=urls[0], timeout=30)  # a login hashes; CI shares its cores
    copy = httpx.Client(base_url=urls[1], timeout=30)
    with person, copy:
        assert log_in_over_http(person, NAME, PASSWORD).status_code == 302
        copy.cookies.update(person.cookies)  # the cookie, copied (a stolen laptop, say)
        assert copy.get("/gallery/").status_code == 200  # the other process has read it
        token = person.cookies["csrftoken"]
        assert person.post("/accounts/logout/", data={"csrfmiddlewaretoken": token}).is_redirect
        refused = copy.get("/gallery/")
        assert refused.status_code == 302
        assert refused.headers["location"].startswith("/accounts/login/")


SQLITE, POSTGRES, REDIS = "sqlite:///x.sqlite3", "postgres://u@db.internal/x", "redis://r:6379/2"


@pytest.mark.parametrize(
    ("chosen", "engine"),
    [
        ({"DATABASE_URL": SQLITE}, "cached_db"),  # one filesystem: the files are shared
        ({"DATABASE_URL": POSTGRES}, "db"),  # web servers may be on several machines
        ({"DATABASE_URL": POSTGRES, "SESSION_CACHE_URL": REDIS}, "cached_db"),
    ],
)
def test_sessions_are_cached_only_where_every_web_process_shares_the_cache(
    tmp_path: Path, chosen: dict[str, str], engine: str
) -> None:
    env = environment(tmp_path, {"DJANGO_SETTINGS_MODULE": "lumaweb.settings", **chosen})
    code = "from django.conf import settings; print(settings.SESSION_ENGINE)"
    found = subprocess.run(  # noqa: S603 - settings as a new process reads its environment
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == f"django.contrib.sessions.backends.{engine}"
