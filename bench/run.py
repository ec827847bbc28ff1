"""lumaweb's benchmark: the app as in production on N seeded generations, measured end to end.

    .venv/bin/python bench/run.py --n 100000        (what `make bench N=100000` runs)

Everything happens in a fresh LUMAWEB_VAR_DIR under /tmp: migrate, collectstatic, seed_gallery,
then gunicorn (whitenoise) on a free loopback port and, for the live measurements, the worker
and the built-in Luma simulator. wrk loads each URL with a logged-in session; the baseline is a
static file served by the same server, measured again just before each page so that every ratio
compares two figures taken within seconds of each other. Results go between the markers in
docs/benchmarks.md; the exit status is 1 when a target is missed.
"""

import argparse
import contextlib
import http.client
import os
import platform
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load, zip_download  # noqa: E402

if TYPE_CHECKING:
    from bench.inprocess import Changes

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
PASSWORD = "bench-" + secrets.token_urlsafe(12)
VIEWERS = 50
UPLOAD_MB = 300
ZIP_GB = 2.0
LATENCY_JOBS = 32
PAGE_POLL_SECONDS = 1.0  # a page's poller (templates/base.html: every 1s)
TEAM = 300  # the busy team: this many people browsing at once (issue #18's figure)
TEAM_SECONDS = 60.0
TEAM_CHANGE_EVERY = 0.5  # meanwhile a job changes twice a second (a finished job, a star)
X = "\N{MULTIPLICATION SIGN}"
STUDIO = "Studio page"
FIRST = "Gallery, first page"
DETAIL = "Detail page"
POLL = "One poll per page"
# The cheapest signed-in answer there is (a poll watching nothing: the session read, no other
# query, an empty 204): what every page costs before it does anything of its own.
FLOOR = "Signed in, nothing to answer (every page's floor)"
SIM_SPEED = 2.0  # a simulated image takes 7 s instead of 14


@dataclass
class Row:
    name: str
    url: str
    result: load.Throughput | None = None
    queries: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    baseline: load.Throughput | None = None  # the static file, in slices alternating with it
    ratio: float = 0.0  # the median of the slices' page / static ratios
    rendered: bool = False  # every request a new address: never a page-cache hit


@dataclass
class Target:
    what: str
    measured: str
    goal: str
    met: bool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="generations to seed")
    parser.add_argument("--seconds", type=float, default=10.0, help="wrk duration per URL")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--poll-seconds", type=float, default=60.0, help="amplification window")
    parser.add_argument("--team", type=int, default=TEAM, help="busy-team viewers")
    parser.add_argument("--keep", action="store_true", help="keep the /tmp directory")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    if args.seconds % SLICES or args.seconds < SLICES:
        parser.error(f"--seconds must be a multiple of {SLICES}: wrk runs whole-second slices")
    load.require_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="lumaweb-bench-"))
    try:
        report, targets = run(args, workdir)
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)  # noqa: S603, S607
    print(report)
    if not args.no_doc:
        write_doc(report)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")
    missed = [t for t in targets if not t.met]
    if missed:
        print("\nTARGETS MISSED:", file=sys.stderr)
        for target in missed:
            print(f"  {target.what}: {target.measured} (target {target.goal})", file=sys.stderr)
        sys.exit(1)
    print("\nall targets met")


# --- the environment ---


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env(workdir: Path, port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LUMA", "DATABASE_URL", "TASKS_BACKEND", "AWS_"))
        and key not in ("MEDIA_ROOT", "STATIC_ROOT", "DEBUG", "SECRET_KEY")
    }
    env.update(
        LUMAWEB_VAR_DIR=str(workdir / "var"),
        HOST="127.0.0.1",
        PORT=str(port),
        LOG_LEVEL="WARNING",
        LUMA_SIM_SPEED=str(SIM_SPEED),
        # One person sends every job here (the stuck one, 32 to time, the upload) within a
        # minute; the per-person limit (tested in tests/test_security.py) would refuse the upload.
        LUMAWEB_SUBMIT_PER_MINUTE="0",
        # Where Dream Machine's simulator sends its callbacks (the studio's hooks).
        LUMAWEB_PUBLIC_URL=f"http://127.0.0.1:{port}",
        DJANGO_SETTINGS_MODULE="lumaweb.settings",
    )
    return env


def manage(env: dict[str, str], *command: str) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)  # noqa: S603
    return time.monotonic() - started


@contextlib.contextmanager
def process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)  # noqa: S603
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_for(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.2)
    raise SystemExit(f"bench: {url} did not answer in {seconds:g} s")


def log_in(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    reply = client.post(
        "/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    if reply.status_code != 302:
        raise SystemExit(f"bench: could not log in ({reply.status_code})")
    return client


def cookie_header(client: httpx.Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


# --- the run ---


def run(args: argparse.Namespace, workdir: Path) -> tuple[str, list[Target]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = bench_env(workdir, port)
    os.environ.update(env)
    for key in list(os.environ):
        if key not in env:
            del os.environ[key]
    print(f"bench: {workdir}, port {port}, N={args.n}", flush=True)
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "collectstatic", "--no-input", "-v0")
    seed_seconds = manage(env, "seed_gallery", str(args.n))

    import django

    django.setup()
    from bench import inprocess
    from generations.management.commands.serve import worker_commands

    inprocess.create_user("bench", PASSWORD)
    picks = inprocess.pick_urls()
    deep = f"Gallery, page {inprocess.deep_page()} (keyset)"
    poll = {"HX-Request": "true"}
    polled = inprocess.POLLED_CARDS
    rows = [
        Row(STUDIO, "/", rendered=True),
        Row(FIRST, "/gallery/", rendered=True),
        Row(deep, picks["deep"], rendered=True),
        Row("Gallery, filtered + searched", picks["filtered"], rendered=True),
        Row(DETAIL, picks["detail"], rendered=True),
        Row(f"{POLL} ({polled} running cards, none changed)", picks["poll"], headers=poll),
        Row("One card, rendered (a card scrolled into view)", picks["card"], headers=poll,
            rendered=True),
        Row(FLOOR, "/poll?seen=", headers=poll),
    ]  # fmt: skip
    for row in rows:
        row.queries = inprocess.count_queries(row.url, row.headers, rendered=row.rendered)

    gunicorn = [
        sys.executable, "-m", "gunicorn", "lumaweb.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
        "--graceful-timeout", "5",
    ]  # fmt: skip
    with process(gunicorn, env, workdir / "gunicorn.log") as web:
        wait_for(f"{base}/accounts/login/")
        client = log_in(base, "bench")
        headers = {"Cookie": cookie_header(client)}
        for row in rows:
            answer = client.get(row.url, headers=row.headers)
            if answer.status_code not in (200, 204):
                raise SystemExit(f"bench: {row.url} answered {answer.status_code}")
        print("bench: throughput, a job changing every few ms", flush=True)
        with inprocess.changing(picks["detail"]) as changes:
            for row in rows:
                rps = measure_row(row, base, picks["static"], headers, args, changes).rps
                print(f"  {row.name}: {rps:.0f} req/s, {row.ratio:.2f}x", flush=True)
            print(f"bench: a busy team, {args.team} people for {TEAM_SECONDS:g} s", flush=True)
            changes.every = TEAM_CHANGE_EVERY
            workers = load.children(web.pid)
            started = time.monotonic(), load.cpu_seconds(workers), load.own_cpu_seconds()
            team = measure_busy_team(base, headers, picks, args.team)
            team_cpu = TeamCpu(
                time.monotonic() - started[0],  # the minute and the last answers after it
                load.cpu_seconds(workers) - started[1],
                load.own_cpu_seconds() - started[2],
            )
            writes = changes.count
        weight = page_weight(client, "/gallery/")
        with contextlib.ExitStack() as running:
            # As `make run` starts them, a worker per queue; the first sends and polls jobs.
            worker, *_ = (
                running.enter_context(process(command, env, workdir / f"worker-{n}.log"))
                for n, command in enumerate(worker_commands())
            )
            print("bench: upstream amplification", flush=True)
            amplification = measure_amplification(base, headers, args.poll_seconds)
            print("bench: completion-to-display", flush=True)
            latencies = measure_display_latency(base, headers, "agents")
            print("bench: completion-to-display with callbacks", flush=True)
            hooked = measure_display_latency(base, headers, "dream_machine")
            print("bench: upload memory", flush=True)
            upload = measure_upload(client, web.pid, worker.pid, workdir)
        print("bench: bulk download memory", flush=True)
        board_zip = zip_download.make_board(ZIP_GB)
        zipped = zip_download.measure(
            lambda: zip_download.over_http(client, board_zip),
            load.children(web.pid),
            zip_download.FILES,
        )
    report, targets = render(
        args, picks["static"], rows, amplification, {"agents": latencies, "dream_machine": hooked},
        upload, zipped, weight, seed_seconds, writes, team, team_cpu,
    )  # fmt: skip
    return report, targets


SLICES = 5
DRAIN_SECONDS = 1.0


def measure_row(
    row: Row,
    base: str,
    static: str,
    headers: dict[str, str],
    args: argparse.Namespace,
    changes: "Changes",
) -> load.Throughput:
    """The page and the static file in alternating slices of `seconds / SLICES` each: the
    page's result, kept in `row` with the static file's and their ratio.

    The VM this runs on has slow spells of several seconds (both the static file and the pages
    drop to a third); alternating puts each page slice next to a baseline slice of the same
    spell, and the median of the slices' ratios leaves out a slice split across a change.
    After a slice of rendered pages the server still works through the requests wrk had in
    flight (8 x ~150 ms); the next static slice waits for that, or it would be slowed by it.
    """
    page_headers = {**headers, **row.headers}
    warm = load.wrk(base + row.url, page_headers, seconds=2, connections=2, rendered=row.rendered)
    changes.every = 1 / max(warm.rps, 1.0)
    statics, pages = [], []
    for _ in range(SLICES):
        statics.append(
            load.wrk(
                base + static, headers, seconds=args.seconds / SLICES, connections=args.connections
            )
        )
        pages.append(
            load.wrk(
                base + row.url,
                page_headers,
                seconds=args.seconds / SLICES,
                connections=args.connections,
                rendered=row.rendered,
            )
        )
        if row.rendered:  # let the server finish the slow renders wrk left in flight
            time.sleep(DRAIN_SECONDS)
    row.baseline, row.result = load.combine(statics), load.combine(pages)
    ratios = [page.rps / still.rps for still, page in zip(statics, pages, strict=True)]
    row.ratio = statistics.median(ratios)
    return row.result


# --- a busy team: people, not a load generator ---


@dataclass
class TeamCpu:
    """Where the machine's cores went while the team browsed (`seconds`, as measured): the web
    workers' CPU time and the people's own (this process's threads, which share the machine
    with the server)."""

    seconds: float
    server: float
    people: float


@dataclass
class TeamPage:
    name: str
    seconds: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)  # what went wrong, and how often
    resent: int = 0  # sent again on a new connection, as a browser does (load.Browser)

    @property
    def errors(self) -> int:
        return self.failures.total()

    def described_errors(self) -> str:
        """`0`, or the count and its kinds: `2 (ConnectTimeout, HTTP 502)`."""
        kinds = ", ".join(f"{kind}: {n}" if n > 1 else kind for kind, n in self.failures.items())
        return f"{self.errors} ({kinds})" if kinds else "0"

    def quantile(self, q: int) -> float:
        """The q-th percentile in milliseconds."""
        return 1000 * load.percentile(self.seconds, q)


def measure_busy_team(
    base: str, headers: dict[str, str], picks: dict[str, str], people: int
) -> list[TeamPage]:
    """`people` browsing at once as a team does while its jobs change: each opens the gallery,
    a piece, the studio, the gallery filtered, in turn, every 2 to 4 s, at a new address each
    time, while their page's poller asks once a second. Latency per page as a person meets it."""
    pages = {
        FIRST: "/gallery/",
        DETAIL: picks["detail"],
        STUDIO: "/",
        "Gallery, filtered + searched": picks["filtered"],
    }
    seen = {name: TeamPage(name) for name in [*pages, POLL]}
    lock = threading.Lock()
    until = time.monotonic() + TEAM_SECONDS

    def record(name: str, browser: load.Browser, url: str, **kwargs: Any) -> None:
        started = time.monotonic()
        failure = None
        resent = browser.resent
        try:
            status = browser.get(url, **kwargs).status
            if status not in (200, 204):
                failure = f"HTTP {status}"
        except (OSError, http.client.HTTPException) as exc:  # the person sees it, and goes on
            failure = type(exc).__name__
        with lock:
            seen[name].seconds.append(time.monotonic() - started)
            seen[name].resent += browser.resent - resent
            if failure:
                seen[name].failures[failure] += 1

    def person(n: int) -> None:
        chance = random.Random(n)  # pacing, not security
        order = list(pages.items())
        chance.shuffle(order)
        time.sleep(chance.uniform(0, 2))
        with load.Browser(base, headers) as browser:
            turn = 0
            while time.monotonic() < until:
                name, url = order[turn % len(order)]
                turn += 1
                record(name, browser, url, params={"render": f"{n}-{turn}"})
                next_page = time.monotonic() + chance.uniform(2, 4)
                while time.monotonic() < min(next_page, until):
                    time.sleep(1)
                    record(POLL, browser, picks["poll"], headers=load.HTMX)

    threads = [threading.Thread(target=person, args=(n,)) for n in range(people)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return list(seen.values())


# --- upstream amplification and completion-to-display ---


@dataclass
class Amplification:
    viewers: int
    seconds: float
    interval: float
    upstream_gets: int
    viewer_requests: int
    viewer_errors: int

    @property
    def ideal(self) -> float:
        return self.seconds / self.interval

    @property
    def ratio(self) -> float:
        return self.upstream_gets / self.ideal


def measure_amplification(base: str, headers: dict[str, str], seconds: float) -> Amplification:
    from bench import inprocess

    job = inprocess.start_job("a lighthouse that never finishes [stuck]")
    inprocess.wait_until(lambda: inprocess.upstream_state(job) == "processing", 60)
    results: list[list[tuple[float, int, str]]] = [[] for _ in range(VIEWERS)]
    before = inprocess.upstream_gets(job)
    until = time.monotonic() + seconds

    def viewer(n: int) -> None:
        with load.Browser(base, headers) as browser:
            results[n] = load.poll_like_htmx(
                browser, job, "processing", until=until, phase=n / VIEWERS
            )

    threads = [threading.Thread(target=viewer, args=(n,)) for n in range(VIEWERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    gets = inprocess.upstream_gets(job) - before
    flat = [item for result in results for item in result]
    errors = sum(1 for _, status, _ in flat if status not in (200, 204))
    return Amplification(VIEWERS, seconds, inprocess.poll_interval(), gets, len(flat), errors)


COMPLETED = 'data-state="completed"'


def measure_display_latency(base: str, headers: dict[str, str], provider: str) -> list[float]:
    """Seconds from the upstream's completion to the first card poll that shows it, for jobs
    sent to `provider`: "agents" (the worker polls upstream every interval) or "dream_machine"
    (its callback makes the studio poll it at once)."""
    from bench import inprocess

    seen: dict[str, float] = {}
    until = time.monotonic() + 120

    def viewer(job: str, phase: float) -> None:
        with load.Browser(base, headers) as browser:
            answers = load.poll_like_htmx(
                browser, job, "draft", until=until, phase=phase, done=lambda body: COMPLETED in body
            )
        shown = [at for at, _, body in answers if COMPLETED in body]
        if shown:
            seen[job] = shown[0]

    jobs, threads = [], []
    for n in range(LATENCY_JOBS):
        jobs.append(inprocess.start_job(f"a red fox at dusk, take {n}", provider))
        # Watched from the start, as by the person who sent it, each page polling from its own
        # point of the second: a job lasts a whole number of seconds in the simulators, so
        # pages polling from the moment the jobs were made all asked just before the news.
        phase = PAGE_POLL_SECONDS * n / LATENCY_JOBS
        threads.append(threading.Thread(target=viewer, args=(jobs[-1], phase)))
        threads[-1].start()
        # The simulators' timings are fixed per kind: jobs sent at once would all finish at
        # once. Spread them evenly over one poll interval, as real jobs of varying length are.
        if provider == "agents":  # each at its own point of the worker's poll cycle
            inprocess.lengthen_upstream(jobs[-1], inprocess.poll_interval() * n / LATENCY_JOBS)
        else:  # a callback is planned when the job is made: send them that far apart
            time.sleep(inprocess.poll_interval() / LATENCY_JOBS)
    for thread in threads:
        thread.join()
    missing = [job for job in jobs if job not in seen]
    if missing:
        raise SystemExit(f"bench: {len(missing)} jobs never showed as completed")
    return [seen[job] - inprocess.upstream_finished_at(job) for job in jobs]


# --- upload memory ---


@dataclass
class Upload:
    size_mb: float
    web_growth_mb: float
    web_status: int
    worker_growth_mb: float
    outcome: str
    check_seconds: float

    @property
    def sent(self) -> bool:
        """The form took the file (a redirect to the studio) and the worker sent it upstream: a
        refused upload measures nothing."""
        return self.web_status == 302 and self.outcome.startswith(
            ("queued", "processing", "completed")
        )


def measure_upload(client: httpx.Client, web_pid: int, worker_pid: int, workdir: Path) -> Upload:
    """A 300 MB MP4 through the reframe form (web), then to Luma by presigned PUT (worker)."""
    from bench import inprocess

    video = workdir / "long.mp4"
    inprocess.write_padded_mp4(video, UPLOAD_MB * 1024 * 1024)
    check_seconds = inprocess.time_check_video(video)
    web_workers = load.children(web_pid)
    start_rss = {pid: load.reset_peak(pid) for pid in web_workers}
    worker_rss = load.reset_peak(worker_pid)
    page = client.get("/?mode=video_reframe")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    with video.open("rb") as handle:
        answer = client.post(
            "/",
            data={
                "mode": "video_reframe",
                "prompt": "the same shot, vertical",
                "aspect_ratio": "9:16",
                "resolution": "720p",
                "model_chooses": "on",
                "idempotency_key": key,
            },
            files={"source": ("long.mp4", handle, "video/mp4")},
            headers={"X-CSRFToken": client.cookies["csrftoken"]},
        )
    web_growth = max(load.peak_kb(pid) - rss for pid, rss in start_rss.items()) / 1024
    outcome = inprocess.wait_sent(key, 300)
    worker_growth = (load.peak_kb(worker_pid) - worker_rss) / 1024
    size_mb = video.stat().st_size / 2**20
    video.unlink()
    return Upload(
        size_mb,
        web_growth,
        answer.status_code,
        worker_growth,
        outcome,
        check_seconds,
    )


# --- page weight ---


def page_weight(client: httpx.Client, url: str) -> dict[str, int]:
    """Bytes on the wire (compressed where the server compresses) for a page and its CSS/JS."""
    accept = {"Accept-Encoding": "gzip, br"}
    sizes: dict[str, int] = {}

    def wire(path: str) -> tuple[int, str]:
        with client.stream("GET", path, headers=accept) as answer:
            raw = b"".join(answer.iter_raw())
            encoding = answer.headers.get("Content-Encoding", "identity")
        return len(raw), encoding

    html = client.get(url).text
    sizes["HTML"], encoding = wire(url)
    sizes[f"HTML encoding: {encoding}"] = 0
    assets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assets += re.findall(r'<script src="([^"]+)"', html)
    for asset in assets:
        sizes[asset], _ = wire(asset)
    return sizes


# --- the report ---


def load_average() -> str:
    """The machine's load while the run ends: other work on it shares the cores."""
    one, five, fifteen = os.getloadavg()
    return (
        f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min) on "
        f"{os.cpu_count()} cores, other work included (the machine is shared)"
    )


def machine() -> str:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 2**20:.0f} GB RAM"
    import sqlite3

    import django
    import gunicorn

    wrk_version = subprocess.run(  # noqa: S603
        [load.require_wrk(), "--version"], capture_output=True, text=True, check=False
    ).stdout.split(" Copyright")[0]
    return (
        f"{cpu or platform.processor()}, {os.cpu_count()} cores, {memory}; "
        f"{platform.platform()}; Python {platform.python_version()}, Django {django.__version__},"
        f" gunicorn {gunicorn.__version__}, SQLite {sqlite3.sqlite_version}; {wrk_version}"
    )


def render(
    args: argparse.Namespace,
    static_url: str,
    rows: list[Row],
    amp: Amplification,
    latencies: dict[str, list[float]],
    upload: Upload,
    zipped: zip_download.ZipMeasure,
    weight: dict[str, int],
    seed_seconds: float,
    writes: int,
    team: list[TeamPage],
    team_cpu: TeamCpu,
) -> tuple[str, list[Target]]:
    baselines = [row.baseline.rps for row in rows if row.baseline]
    lines = [
        f"- **Date**: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- **Machine**: {machine()}",
        f"- **Command**: `make bench N={args.n}` (`bench/run.py --n {args.n} --seconds "
        f"{args.seconds:g} --connections {args.connections}`)",
        f"- **Data**: {args.n:,} generations seeded by `seed_gallery` in {seed_seconds:.0f} s "
        "(SQLite, fresh database)",
        "- **Server**: gunicorn, 2 workers x 4 threads (`make run`'s defaults), whitenoise; "
        f"wrk, 2 threads, {args.connections} connections, {args.seconds:g} s per URL, "
        "logged-in session cookie",
        "- **Changes**: while a page is loaded, one job of the first gallery page (or the "
        "detail page's job) changes in the database once per request's time (the rate its "
        f"warm-up measured; {writes:,} changes in all), and every address is new "
        "(`bench/render.lua`): each view follows a change, as after a teammate's",
        f"- **Load on the machine**: {load_average()}",
        f"- **Baseline**: `{static_url}` through whitenoise in the same server, loaded in "
        f"{SLICES} slices of {args.seconds / SLICES:g} s alternating with each page's: "
        f"{min(baselines):.0f} to {max(baselines):.0f} req/s (a row's mean) in this run; a "
        "page's ratio is the median of its slices' page / static ratios",
        "",
        f"| request | req/s | p50 ms | p99 ms | static file alongside, req/s | {X} baseline "
        "| SQL queries |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        result, baseline = row.result, row.baseline
        assert result is not None
        assert baseline is not None
        queries = "-" if row.queries is None else str(row.queries)
        lines.append(
            f"| {row.name} | {result.rps:.0f} | {result.p50_ms:.1f} | {result.p99_ms:.1f} | "
            f"{baseline.rps:.0f} | {row.ratio:.2f} | {queries} |"
        )
    errors = sum(run.errors for row in rows for run in (row.result, row.baseline) if run)
    polled, hooked = latencies["agents"], latencies["dream_machine"]
    p95, hooked_p95 = load.percentile(polled, 95), load.percentile(hooked, 95)
    html = weight["HTML"]
    static = sum(size for name, size in weight.items() if name.startswith("/static/"))
    encoding = next(name for name in weight if name.startswith("HTML encoding"))
    lines += [
        "",
        "| live measurement | result |",
        "|---|---|",
        f"| Upstream amplification: {amp.viewers} viewers polling one unfinished job's card "
        f"every 1 s for {amp.seconds:g} s | {amp.upstream_gets} upstream GETs for the job vs "
        f"{amp.ideal:.0f} ideal (one per {amp.interval:g} s poll interval): "
        f"**{amp.ratio:.2f}{X}**; {amp.viewer_requests} card requests, "
        f"{amp.viewer_errors} errors |",
        f"| Completion-to-display, polled: {len(polled)} jobs to the Agents API, whose worker "
        f"asks every {amp.interval:g} s (simulator completion → first card poll showing it) | "
        f"median {statistics.median(polled):.2f} s, p95 {p95:.2f} s |",
        f"| Completion-to-display with callbacks: {len(hooked)} jobs to Dream Machine, whose "
        "callback makes the studio ask at once | "
        f"median {statistics.median(hooked):.2f} s, p95 {hooked_p95:.2f} s |",
        f"| Upload, web: {upload.size_mb:.0f} MB MP4 posted to the reframe form (multipart, "
        f"temp-file handler, `check_video` probe and sha256) | peak RSS growth "
        f"**{upload.web_growth_mb:.1f} MB** (HTTP {upload.web_status}; `check_video` alone took "
        f"{upload.check_seconds:.1f} s) |",
        f"| Upload, worker: the same file sent to Luma (simulator) by presigned PUT "
        f"(`AgentsClient.put_upload`) | peak RSS growth **{upload.worker_growth_mb:.1f} MB** "
        f"(job: {upload.outcome}) |",
        f"| Bulk download: a board of {zipped.files} videos streamed as one "
        f"{zipped.gigabytes:.1f} GB ZIP (`bench/zip_download.py`) | peak RSS growth of the web "
        f"workers **{zipped.rss_growth_mb:.1f} MB** (complete: {zipped.complete}) |",
        "| First gallery page, bytes on the wire without media | "
        f"**{(html + static) / 1024:.1f} KB**: HTML {html / 1024:.1f} KB "
        f"({encoding.split(': ')[1]}), CSS + JS {static / 1024:.1f} KB (whitenoise, compressed) |",
    ]
    lines += [
        "",
        f"A busy team: {args.team} people for {TEAM_SECONDS:g} s, each opening a page every "
        "2 to 4 s (gallery, a piece, the studio, a search, in turn, each at a new address) while "
        "their page polls every second and a job of the first page changes every "
        f"{TEAM_CHANGE_EVERY:g} s:",
        "",
        "| page, as a person meets it | requests | p50 ms | p95 ms | errors | resent |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {page.name} | {len(page.seconds)} | {page.quantile(50):.0f} | "
        f"{page.quantile(95):.0f} | {page.described_errors()} | {page.resent} |"
        for page in team
    ]
    lines += [
        "",
        "*Resent*: sent again on a new connection because the kept-alive one failed before any "
        "answer came, as a browser does; the time counted includes both tries.",
    ]
    lines += [
        "",
        f"Meanwhile the web workers used {team_cpu.server / team_cpu.seconds:.2f} of the "
        f"machine's {os.cpu_count()} cores and the people themselves (this process's "
        f"{args.team} threads) {team_cpu.people / team_cpu.seconds:.2f}.",
    ]
    if errors:
        lines.append(f"\n**{errors} requests failed during the load runs.**")
    by_name = {row.name: row for row in rows}

    def ratio(name: str) -> float:
        return by_name[name].ratio

    def deep_vs_first() -> float:
        """Through each one's own baseline, so a slow spell during one of them cancels out."""
        return by_name[rows[2].name].ratio / by_name[FIRST].ratio

    team_errors = sum(page.errors for page in team)
    slowest = max(page.quantile(95) for page in team)
    targets = [
        Target("studio page after a change", f"{ratio(STUDIO):.2f}{X}", f"≥ 0.08{X}",
               ratio(STUDIO) >= 0.08),
        Target("gallery first page after a change", f"{ratio(FIRST):.2f}{X}", f"≥ 0.10{X}",
               ratio(FIRST) >= 0.10),
        Target("detail page after a change", f"{ratio(DETAIL):.2f}{X}", f"≥ 0.15{X}",
               ratio(DETAIL) >= 0.15),
        Target("one poll per page", f"{ratio(rows[5].name):.2f}{X}", f"≥ 0.40{X}",
               ratio(rows[5].name) >= 0.40),
        Target("deep page vs first page", f"{deep_vs_first():.2f}{X}", f"≥ 0.90{X}",
               deep_vs_first() >= 0.9),
        Target("upstream amplification", f"{amp.ratio:.2f}", "≤ 1.1", amp.ratio <= 1.1),
        Target("completion-to-display p95, polled", f"{p95:.2f} s",
               f"≤ {amp.interval + 0.5:g} s", p95 <= amp.interval + 0.5),
        Target("completion-to-display p95, callbacks", f"{hooked_p95:.2f} s", "≤ 1 s",
               hooked_p95 <= 1),
        Target("upload RSS growth (web)", f"{upload.web_growth_mb:.1f} MB", "≤ 64 MB",
               upload.web_growth_mb <= 64 and upload.sent),
        Target("upload RSS growth (worker)", f"{upload.worker_growth_mb:.1f} MB", "≤ 64 MB",
               upload.worker_growth_mb <= 64 and upload.sent),
        Target("bulk download RSS growth", f"{zipped.rss_growth_mb:.1f} MB", "≤ 64 MB",
               zipped.rss_growth_mb <= 64 and zipped.complete),
        Target("first gallery page weight", f"{(html + static) / 1024:.1f} KB", "≤ 100 KB",
               html + static <= 100 * 1024),
        Target("load runs without errors", str(errors), "0", errors == 0),
        Target("viewer polls without errors", str(amp.viewer_errors), "0",
               amp.viewer_errors == 0),
        Target("busy team without errors", str(team_errors), "0", team_errors == 0),
        Target("busy team, slowest page p95", f"{slowest:.0f} ms", "≤ 150 ms",
               slowest <= 150),
    ]  # fmt: skip
    limits = {rows[5].name: 2, STUDIO: 8, FLOOR: 1}
    for row in rows:
        limit = limits.get(row.name, 6)
        targets.append(
            Target(f"SQL queries, {row.name}", str(row.queries), f"≤ {limit}",
                   row.queries is not None and row.queries <= limit)
        )  # fmt: skip
    lines += ["", "| target | measured | goal | |", "|---|---|---|---|"]
    lines += [
        f"| {t.what} | {t.measured} | {t.goal} | {'met' if t.met else '**MISSED**'} |"
        for t in targets
    ]
    return "\n".join(lines), targets


def write_doc(report: str) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    DOC.write_text(f"{head}{BEGIN}\n{report}\n{END}{tail}")


if __name__ == "__main__":
    main()
