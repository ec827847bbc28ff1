"""Shared fixtures: people, a fast simulator reached over HTTP, and a real task worker."""

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from signal import SIGKILL, SIGTERM
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler
from django_tasks_db.management.commands.db_worker import Worker
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from generations import providers
from generations.models import Generation
from generations.providers.agents.client import AgentsClient
from generations.simulators.clock import SimClock, clock
from generations.simulators.dream_machine import callbacks
from generations.simulators.dream_machine import views as dm_views

ROOT = Path(__file__).resolve().parent.parent
SIM_ROOT = "http://sim.test/sim"
SIM_URL = f"{SIM_ROOT}/v1"
TEST_TOKEN = "luma-api-test-token"


@pytest.fixture(autouse=True)
def fast_simulator(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test talks to the simulator through Django's WSGI app, at a thousand times speed."""
    # Dream Machine's callbacks wait in a timetable until a test hands them out (`timetable` in
    # tests/test_dream_machine.py): sent by threads of their own, each callback's hook would poll
    # its job in the middle of whatever the test is doing.
    monkeypatch.setattr(dm_views, "dispatcher", callbacks.Dispatcher(autostart=False))
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "sim.test"]
    # Tests read static files from the source tree, not a collectstatic manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.LUMA_SIM_SPEED = 1000.0
    settings.LUMA_SIM_DIR = tmp_path / "sim"
    settings.MEDIA_ROOT = tmp_path / "media"  # archived outputs and uploads
    use_simulators(settings, SIM_ROOT)
    settings.LUMAWEB_POLL_INTERVAL = 0.01
    settings.LUMA_SIM_FAULT_DELAY = 1.0
    providers.transport = httpx.WSGITransport(app=WSGIHandler())
    # In-process requests must not close the test's database connection, as Django's own
    # test client arranges for its requests.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)
    providers.transport = None


@pytest.fixture
def sim_clock() -> Iterator[SimClock]:
    """The simulators' clock held still: the test moves it on with `advance`, never sleeps."""
    clock.freeze()
    yield clock
    clock.reset()


def use_simulators(settings, root: str) -> None:
    """Point every provider at its simulator under `root` (in-process, or a live server)."""
    settings.LUMA_SIMULATOR_ROOT = root
    settings.LUMA_PROVIDERS = {
        name: {**config, "base_url": root + settings.LUMA_SIMULATOR_PATHS[name]}
        for name, config in settings.LUMA_PROVIDERS.items()
    }


@pytest.fixture
def sim_client() -> Iterator[AgentsClient]:
    """A AgentsClient talking HTTP to the simulator in-process; retries without sleeping."""
    with AgentsClient(
        SIM_URL,
        TEST_TOKEN,
        transport=httpx.WSGITransport(app=WSGIHandler()),
        sleep=lambda seconds: None,
    ) as client:
        yield client


class _SocketExposingHandler(QuietWSGIRequestHandler):
    """Lets the simulator reach the TCP socket under a request, to inject connection resets."""

    # An idle keep-alive connection lets go after this long, so the server can shut down.
    timeout = 2

    def handle(self) -> None:
        # The browser kept an idle connection open; letting it go is the point.
        with contextlib.suppress(TimeoutError):
            super().handle()

    def get_environ(self) -> dict[str, object]:
        environ = super().get_environ()
        environ["lumaweb.socket"] = self.connection
        return environ


class _JoiningServer(ThreadedWSGIServer):
    # Wait for in-flight requests (a slow injected fault) before the test's database goes away.
    daemon_threads = False
    block_on_close = True
    # socketserver's default backlog of 5 resets connections under the load tests' 120 clients.
    request_queue_size = 256


class _SimServerThread(LiveServerThread):
    server_class = _JoiningServer

    def _create_server(self, connections_override=None):  # type: ignore[no-untyped-def]
        return self.server_class(
            (self.host, self.port),
            _SocketExposingHandler,
            allow_reuse_address=False,
            connections_override=connections_override,
        )


@pytest.fixture
def live_app(transactional_db, settings) -> Iterator[str]:
    """The whole app (simulator included) on a real socket; the upstream client points at it."""
    # Static files come from the source tree (the finders), as with `runserver`.
    thread = _SimServerThread("127.0.0.1", StaticFilesHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    url = f"http://127.0.0.1:{thread.port}"
    use_simulators(settings, f"{url}/sim")
    providers.transport = None
    yield url
    thread.terminate()


def _user(username: str, **extra: bool) -> User:
    return User.objects.create_user(username, f"{username}@example.com", "pass-word-123", **extra)


@pytest.fixture
def owner(db) -> User:
    return _user("olivia")


@pytest.fixture
def teammate(db) -> User:
    return _user("tariq")


@pytest.fixture
def staff(db) -> User:
    return _user("sam", is_staff=True, is_superuser=True)


@pytest.fixture
def owner_client(owner: User) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture(autouse=True)
def empty_redis_queue() -> None:
    """With TASKS_BACKEND=rq (the scale-out run), each test starts on an empty Redis database."""
    if django_settings.TASKS_BACKEND == "rq":
        import django_rq  # installed as an app only with the RQ backend

        django_rq.get_connection("default").flushdb()


def _rq_worker_pass() -> None:
    """RQ in-process: move the deferred jobs that are due onto the queue, then run it empty."""
    import django_rq
    from django_tasks_rq.backend import Job
    from rq import SimpleWorker
    from rq.registry import ScheduledJobRegistry

    queues = [django_rq.get_queue(name, job_class=Job) for name in django_settings.TASK_QUEUES]
    for queue in queues:
        registry = ScheduledJobRegistry(queue=queue)
        # RQ keeps whole seconds: a deferred job moves once its second is over, never early.
        for job_id in registry.get_jobs_to_schedule(int(time.time()) - 1):
            queue.enqueue_job(Job.fetch(job_id, connection=queue.connection))
            registry.remove(job_id)
    worker = SimpleWorker(queues, connection=queues[0].connection, job_class=Job)
    worker.work(burst=True, logging_level="WARNING")


@pytest.fixture
def run_worker() -> Callable[..., None]:
    """Run the real task worker (database, or RQ) until `done()` holds (or fail after `timeout`)."""

    def run(done: Callable[[], bool], timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        if django_settings.TASKS_BACKEND == "rq":
            while not done():
                assert time.monotonic() < deadline, "the worker did not finish in time"
                _rq_worker_pass()
                time.sleep(0.05)
            return
        worker = Worker(
            queue_names=django_settings.TASK_QUEUES,
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="pytest",
            excluded_queue_names=[],
        )
        while not done():
            assert time.monotonic() < deadline, "the worker did not finish in time"
            worker.run()
            time.sleep(0.01)

    return run


def terminal(generation: Generation) -> Callable[[], bool]:
    def check() -> bool:
        generation.refresh_from_db()
        return generation.is_terminal

    return check


# `make test` installs Debian's chromium when absent; CHROMIUM names another build.
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright; missing Chromium is a failure, never a skip."""
    if not CHROMIUM or not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found ({CHROMIUM or 'none on PATH'}): `make tools` installs it")
    # Playwright's sync API runs an event loop in this thread; the ORM calls around it are
    # ordinary synchronous test code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def app_env(settings) -> dict[str, str]:
    """The environment of a `manage.py` (or gunicorn) subprocess on the test database, whose
    upstream is the simulator the test talks to."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database_url = f"sqlite:///{database['NAME']}"
    else:
        database_url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "LUMA_SIMULATOR_ROOT": settings.LUMA_SIMULATOR_ROOT,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }


@pytest.fixture
def worker_process(live_app: str, settings) -> Iterator[subprocess.Popen[bytes]]:
    """A real `manage.py run_worker` process on the test database, talking to the live app."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--interval", "0.05"],
        cwd=ROOT,
        env={**app_env(settings), "LUMAWEB_POLL_INTERVAL": "0.2"},
    )
    yield process
    process.terminate()
    process.wait(timeout=10)


@contextlib.contextmanager
def checked_page(
    browser: Browser, base_url: str, tolerated: Callable[[str], bool] = lambda text: False
) -> Iterator[Page]:
    """A fresh browser tab on `base_url`; any console error (a CSP violation too) fails it,
    unless `tolerated(text)` says the test expects it."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    console: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error" and not tolerated(message.text):
            console.append(message.text)

    opened.on("console", record)
    try:
        yield opened
    finally:
        context.close()
    assert console == [], f"the browser console reported errors: {console}"


@pytest.fixture
def page(browser: Browser, live_app: str) -> Iterator[Page]:
    """A fresh browser tab on the live app; any console error (a CSP violation too) fails it."""
    with checked_page(browser, live_app) as opened:
        yield opened


def log_in(page: Page, user: User) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pass-word-123")
    page.click("button[type=submit]")
    # The login page's own URL matches "**/": wait for the studio page itself.
    page.wait_for_url(lambda url: urlsplit(url).path == "/")


def log_out_and_in_elsewhere(page: Page, user: User) -> None:
    """Another tab of the same browser logs out and in again: the tabs left open now hold a
    form token that no longer matches."""
    other = page.context.new_page()
    other.goto("/")
    other.click(".topbar__user button")
    log_in(other, user)
    other.close()


def log_in_over_http(http: httpx.Client, username: str, password: str) -> httpx.Response:
    """The login form posted as a browser posts it, to a server on a real socket."""
    form = http.get("/accounts/login/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token, form
    return http.post(
        "/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{http.base_url}/accounts/login/"},
    )


def free_port() -> int:
    """A TCP port nothing listens on right now, for a server the test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Processes:
    """Servers a test starts (gunicorn, workers), each in its own process group so that its
    forked children go with it; whatever still runs at teardown is stopped, pass or fail."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[subprocess.Popen[bytes], str] = {}

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(  # noqa: S603
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.running[process] = name
        return process

    def log(self, process: subprocess.Popen[bytes]) -> str:
        return (self.logs / f"{self.running[process]}.log").read_text(errors="replace")

    def wait_until_serving(self, process: subprocess.Popen[bytes], url: str) -> None:
        """Until `url` answers at all (any status): the server has bound its port."""
        deadline = time.monotonic() + 300
        while True:
            assert process.poll() is None, f"{self.running[process]} exited:\n{self.log(process)}"
            assert time.monotonic() < deadline, f"{url} never answered:\n{self.log(process)}"
            with contextlib.suppress(httpx.TransportError):
                httpx.get(url, timeout=5)
                return
            time.sleep(0.1)

    def stop(self, process: subprocess.Popen[bytes], how: int = SIGTERM) -> None:
        """Signal the whole group, wait for its leader, then make sure no child outlives it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, how)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, SIGKILL)
        process.wait(timeout=5)
        del self.running[process]

    def stop_all(self) -> None:
        for process in list(self.running):
            self.stop(process)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    yield started
    started.stop_all()


TIERS = ("unit", "integration", "system")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test belongs to one tier (pyproject.toml's markers): its module's `pytestmark`."""
    untiered = sorted({item.nodeid.split("::")[0] for item in items if not _tiers(item)})
    if untiered:
        raise pytest.UsageError("Tests without a tier marker: " + ", ".join(untiered))


def _tiers(item: pytest.Item) -> list[str]:
    return [tier for tier in TIERS if item.get_closest_marker(tier)]
