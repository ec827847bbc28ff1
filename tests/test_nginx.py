"""Debian's nginx in front of gunicorn, configured with docs/deploy.md's own nginx blocks.

`make test` installs nginx when it is missing (`make tools`); a missing nginx fails, never
skips. The scale-out pass runs this (gunicorn on the test's PostgreSQL database). Clients come
from two loopback addresses (127.0.0.2, 127.0.0.3), so the app can tell them apart only by what
nginx forwards.
"""

import os
import re
import secrets
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User

from tests.conftest import ROOT, Processes, app_env, free_port, log_in_over_http
from tests.factories import png

pytestmark = [pytest.mark.system, pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]

DOC = ROOT / "docs" / "deploy.md"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PASSWORD = "pass-word-123"


def doc_location(path: str) -> str:
    """The `location <path> { … }` block that docs/deploy.md gives for nginx."""
    blocks = "\n".join(re.findall(r"```nginx\n(.*?)```", DOC.read_text(), re.DOTALL))
    found = re.search(rf"^( *)location {re.escape(path)} \{{\n.*?^\1\}}", blocks, re.M | re.S)
    assert found, f"docs/deploy.md gives no nginx `location {path}` block"
    return found.group(0)


@dataclass
class Site:
    url: str
    media_root: Path


@pytest.fixture
def site(settings, processes: Processes, tmp_path: Path) -> Site:
    """gunicorn with LUMAWEB_MEDIA_ACCEL=x-accel behind nginx, both on free ports."""
    assert Path(NGINX).exists(), (
        "nginx is missing: `make tools` installs it (apt-get install nginx)"
    )
    app_port, port = free_port(), free_port()
    media_root = Path(settings.MEDIA_ROOT)
    media_root.mkdir(parents=True, exist_ok=True)
    env = {
        **app_env(settings),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "LUMAWEB_MEDIA_ACCEL": "x-accel",
        "LUMAWEB_PROXY_COUNT": "1",  # nginx appends the client's address to X-Forwarded-For
        "LUMAWEB_LOGIN_MAX_FAILURES": "3",
        "LUMAWEB_VAR_DIR": str(tmp_path / "var"),
    }
    collect = [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"]
    subprocess.run(collect, cwd=ROOT, env=env, check=True)  # noqa: S603
    gunicorn = [sys.executable, "-m", "gunicorn", "lumaweb.wsgi", "-w", "2"]
    web = processes.start("gunicorn", [*gunicorn, "-b", f"127.0.0.1:{app_port}"], env)
    processes.wait_until_serving(web, f"http://127.0.0.1:{app_port}/healthz")

    app = doc_location("/").replace("http://127.0.0.1:8000", f"http://127.0.0.1:{app_port}")
    protected = doc_location("/protected-media/").replace(
        "/srv/lumaweb/var/media/", f"{media_root}/"
    )
    temp = tmp_path / "nginx"
    temp.mkdir()
    # As root, nginx's workers would drop to `nobody`, who cannot read pytest's private temp dir.
    user = "user root;" if os.geteuid() == 0 else ""
    (temp / "nginx.conf").write_text(
        f"""
{user}
daemon off;
worker_processes 1;
pid {temp}/nginx.pid;
error_log {temp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {temp}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        {app}
        {protected}
    }}
}}
"""
    )
    nginx = processes.start("nginx", [NGINX, "-p", str(temp), "-c", str(temp / "nginx.conf")], env)
    url = f"http://127.0.0.1:{port}"
    processes.wait_until_serving(nginx, f"{url}/healthz")
    return Site(url, media_root)


def client_from(site: Site, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=site.url, transport=transport, timeout=60)


def test_archived_media_needs_a_login_and_is_sent_by_nginx(site: Site, owner: User) -> None:
    name = f"outputs/{uuid.uuid4()}/0.png"
    image = png(size=(40, 30))
    (site.media_root / name).parent.mkdir(parents=True)
    (site.media_root / name).write_bytes(image)

    with client_from(site, "127.0.0.2") as stranger:
        refused = stranger.get(f"/media/{name}")
        assert refused.status_code == 302
        assert "/accounts/login/" in refused.headers["Location"]
        # The internal location is nginx's alone: no browser reaches it directly.
        assert stranger.get(f"/protected-media/{name}").status_code == 404

    with client_from(site, "127.0.0.2") as person:
        assert log_in_over_http(person, owner.username, PASSWORD).status_code == 302
        sent = person.get(f"/media/{name}")
    assert sent.status_code == 200
    assert sent.content == image
    assert sent.headers["Content-Type"] == "image/png"
    # gunicorn answered with an empty body and the hand-off header; nginx sent the file from
    # disk (its ETag is "<mtime>-<size>" in hex), kept the app's caching rule once, and never
    # let the hand-off header out.
    stat = (site.media_root / name).stat()
    assert sent.headers["ETag"] == f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'
    assert sent.headers["Cache-Control"] == "private, max-age=86400"
    assert "X-Accel-Redirect" not in sent.headers


def test_the_client_address_reaches_the_login_throttle_through_nginx(
    site: Site, owner: User
) -> None:
    with client_from(site, "127.0.0.2") as guesser:
        # Refused twice with the form again; the third failure reaches the limit (3 here) and
        # axes answers it with its lockout page (429).
        refused = [
            log_in_over_http(guesser, owner.username, "wrong-guess").status_code for _ in range(3)
        ]
        assert refused == [200, 200, 429]
        locked = log_in_over_http(guesser, owner.username, PASSWORD)
        assert locked.status_code != 302, "the guessing address is locked out, right password too"
    # The same name from another address is not locked: nginx told the app who is who.
    with client_from(site, "127.0.0.3") as person:
        assert log_in_over_http(person, owner.username, PASSWORD).status_code == 302
