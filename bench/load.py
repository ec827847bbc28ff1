"""The load generators and process probes the benchmark uses: wrk, polling viewers, RSS peaks."""

import html
import http.client
import os
import re
import resource
import shutil
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit


@dataclass
class Throughput:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def combine(runs: list[Throughput]) -> Throughput:
    """Several equal-length runs of one URL as one: mean rate, median p50, worst p99."""
    return Throughput(
        rps=statistics.fmean(run.rps for run in runs),
        p50_ms=statistics.median(run.p50_ms for run in runs),
        p99_ms=max(run.p99_ms for run in runs),
        errors=sum(run.errors for run in runs),
    )


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile by nearest rank: always one of `values`, so never beyond the slowest
    (the `statistics.quantiles` default extrapolates past it on a few samples)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * q // 100)]


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("bench: wrk is missing. Install it: apt-get install -y wrk")
    return path


RENDER_SCRIPT = Path(__file__).with_name("render.lua")


def wrk(
    url: str,
    headers: dict[str, str],
    *,
    seconds: float,
    connections: int,
    threads: int = 2,
    rendered: bool = False,
) -> Throughput:
    """Closed-loop load on one URL; requests/s, p50 and p99 from wrk's latency distribution.

    `rendered`: each request gets its own address (bench/render.lua), so none is a page-cache hit.
    """
    command = [
        require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
        "--timeout", "10s",
    ]  # fmt: skip
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    if rendered:  # addresses unique across threads and runs: render=<this run>-<thread>-<n>
        command[1:1] = ["-s", str(RENDER_SCRIPT)]
        command += ["--", uuid.uuid4().hex]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors:.*?(\d+)\s+timeout", out):
        errors += int(match.group(1))
    return Throughput(rps, p50, p99, errors)


DATA_POLL = re.compile(r'data-poll="([^"]+)"')


def poll_like_htmx(
    browser: "Browser",
    job: str,
    state: str,
    *,
    until: float,
    every: float = 1.0,
    phase: float = 0.0,
    done: Callable[[str], bool] | None = None,
) -> list[tuple[float, int, str]]:
    """Poll for one running card every `every` seconds from `phase` in, as a page's poller does
    (static/js/app.js: `/poll?seen=<uuid>:<state it shows>`).

    A 204 swaps nothing; a changed card comes back with the state it now shows (`data-poll`),
    which the next poll sends; a card without one is no longer watched, and `done(body)` stops
    too. Returns (wall-clock time the answer arrived, status, body) for each request.
    """
    seen = []
    next_at = time.monotonic() + phase
    while time.monotonic() < until:
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += every
        answer = browser.get("/poll", params={"seen": f"{job}:{state}"}, headers=HTMX)
        seen.append((time.time(), answer.status, answer.text))
        if done and done(answer.text):
            break
        if answer.status == 200:
            watched = DATA_POLL.search(answer.text)
            if watched is None:
                break
            state = html.unescape(watched.group(1))
    return seen


HTMX = {"HX-Request": "true"}


@dataclass(frozen=True)
class Answer:
    status: int
    text: str


class Browser:
    """One person's browser: GETs on one kept-alive connection, as a page and its poller send
    them, through the standard library's `http.client`.

    A person's browser runs on their own machine, but the benchmark's people share the server's
    two cores: they must cost little, or the server is measured short of the cores a real team
    leaves it. (With httpx, 300 people took 0.4-0.7 of the cores and fell behind their own pace;
    with `http.client`, about 0.15; docs/benchmarks.md, thirteenth pass.)

    A request whose kept-alive connection failed before any answer came is sent again once on a
    new connection: gunicorn closes a connection idle for its keep-alive (2 s) just as a request
    arrives on it, and that request meets a closed connection or, its bytes unread, a reset.
    Browsers resend then (Chromium's `ShouldResendRequest`: a reused connection, no response
    yet), so a person never sees it; a new connection's failure, or one after the answer began,
    they do (an `OSError` or `http.client.HTTPException`). `resent` counts what was sent again,
    so a report can say what it did not show."""

    def __init__(self, base: str, headers: dict[str, str], timeout: float = 30.0) -> None:
        address = urlsplit(base)
        self.host, self.port = address.hostname or "127.0.0.1", address.port
        self.headers = headers
        self.timeout = timeout
        self.connection: http.client.HTTPConnection | None = None
        self.resent = 0

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *_: object) -> None:
        self._close()

    def get(
        self, path: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        url = f"{path}{'&' if '?' in path else '?'}{urlencode(params)}" if params else path
        headers = {**self.headers, **(headers or {})}
        reused = self.connection is not None
        try:
            try:
                response = self._send(url, headers)
            except ConnectionError:
                if not reused:
                    raise
                self._close()
                self.resent += 1
                response = self._send(url, headers)
            text = response.read().decode()
        except BaseException:
            self._close()
            raise
        if response.will_close:
            self._close()
        return Answer(response.status, text)

    def _close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def _send(self, url: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, self.timeout)
        self.connection.request("GET", url, headers=headers)
        return self.connection.getresponse()


# --- memory: the kernel's peak RSS ("VmHWM"), reset before the measured step ---


def reset_peak(pid: int) -> int:
    """Reset the process's peak RSS to its current RSS (Linux 4.0+); return that RSS in KB."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status_kb(pid, "VmRSS")


def peak_kb(pid: int) -> int:
    return _status_kb(pid, "VmHWM")


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} for process {pid}")


def cpu_seconds(pids: list[int]) -> float:
    """The user and system CPU time these processes have used, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


def own_cpu_seconds() -> float:
    """This process's user and system CPU time (all its threads), in seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found
