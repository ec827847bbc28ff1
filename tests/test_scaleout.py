"""Scale-out mode for real: PostgreSQL, Redis (the RQ backend) and several worker processes.

`make test` runs these in its second pass, with DATABASE_URL=postgres://… and TASKS_BACKEND=rq
(`make test-scaleout`); under the default SQLite settings they are deselected (`-m "not
scaleout"` in pyproject.toml), and run anyway they fail rather than skip.
"""

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db.models import Count

from generations.models import (
    ArchiveState,
    EventKind,
    Generation,
    GenerationEvent,
    Output,
    State,
    UpstreamCallCount,
)
from generations.providers.agents import schema
from generations.simulators.models import SimGeneration
from generations.tasks import start_generation
from tests import figures

pytestmark = [pytest.mark.system, pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]

JOBS = 200
WORKERS = 2
STALL = 300  # seconds without one job finished or archived: the workers are stuck
ROOT = Path(__file__).resolve().parent.parent
# RQ's log line when a worker starts a job: "<queue>: generations.tasks.… (<job id>)".
STARTED = re.compile(r"(?:default|bulk): (\S+?)\(.*\) \(([0-9A-Za-z]{32})\)$")


@pytest.fixture(autouse=True)
def scale_out_services(settings) -> None:
    """These tests are about PostgreSQL and Redis: on anything else they fail, never skip."""
    engine = settings.DATABASES["default"]["ENGINE"]
    assert engine == "django.db.backends.postgresql", (
        f"run with DATABASE_URL=postgres://… (make test-scaleout), not {engine}"
    )
    assert settings.TASKS_BACKEND == "rq", "run with TASKS_BACKEND=rq (make test-scaleout)"


def database_url(settings) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def start_workers(live_app: str, settings, logs: Path, count: int) -> list[subprocess.Popen[bytes]]:
    """`count` real `manage.py run_worker` processes, each taking both Redis queues, on one
    database."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(settings),
        "TASKS_BACKEND": "rq",
        "LUMA_SIMULATOR_ROOT": settings.LUMA_SIMULATOR_ROOT,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        # RQ's scheduler keeps whole seconds: a poll started early waits for its time.
        "LUMAWEB_POLL_INTERVAL": "2",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    processes = []
    for number in range(count):
        log = (logs / f"worker-{number}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "run_worker"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return processes


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def started_jobs(log: Path) -> list[tuple[str, str]]:
    """(task, RQ job id) for every job this worker started, from its log."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if match := STARTED.search(line.strip()):
            found.append((match.group(1), match.group(2)))
    return found


def test_two_rq_workers_share_a_queue_of_200_jobs_and_do_each_one_once(
    live_app: str, settings, owner, tmp_path: Path
) -> None:
    for number in range(JOBS):
        start_generation(owner, schema.GenerationRequest(prompt=f"harbour number {number}"))
    assert Generation.objects.filter(state=State.DRAFT).count() == JOBS

    workers = start_workers(live_app, settings, tmp_path, WORKERS)
    try:
        # Not a stopwatch: the run may take as long as a busy machine needs, as long as it
        # keeps moving. It fails when nothing was finished or archived for STALL seconds.
        progress = (JOBS, 0)
        moved_at = time.monotonic()
        while progress != (0, JOBS):
            assert time.monotonic() - moved_at < STALL, (
                f"no progress for {STALL} s: {progress[0]} jobs unfinished, "
                f"{progress[1]} of {JOBS} outputs archived"
            )
            assert all(worker.poll() is None for worker in workers), "a worker died"
            time.sleep(0.5)
            now = (
                Generation.objects.exclude(state__in=[State.COMPLETED]).count(),
                Output.objects.filter(archive_state=ArchiveState.ARCHIVED).count(),
            )
            if now != progress:
                progress, moved_at = now, time.monotonic()
    finally:
        stop(workers)

    # Upstream: one job per request, never a second POST for the same row.
    assert SimGeneration.objects.count() == JOBS
    assert Generation.objects.values("upstream_id").distinct().count() == JOBS
    posts = UpstreamCallCount.objects.filter(endpoint="POST /generations")
    assert sum(posts.values_list("count", flat=True)) == JOBS
    submitted_twice = (
        GenerationEvent.objects.filter(kind=EventKind.SUBMITTED)
        .values("generation")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    assert submitted_twice == 0
    # Storage: one original per output, and none written a second time under another name.
    originals = sorted((settings.MEDIA_ROOT / "outputs").glob("*/0*.*"))
    originals = [path for path in originals if "-" not in path.stem]
    assert len(originals) == JOBS, [path.name for path in originals if path.stem != "0"][:5]
    assert Output.objects.values("sha256").exclude(sha256="").count() == JOBS

    # Both processes worked the queue, and no RQ job ran in both (or twice in one).
    per_worker = [started_jobs(tmp_path / f"worker-{n}.log") for n in range(WORKERS)]
    runs = Counter(job_id for jobs in per_worker for _, job_id in jobs)
    tasks = Counter(task for jobs in per_worker for task, _ in jobs)
    duplicates = sum(1 for n in runs.values() if n > 1)
    assert all(len(jobs) > 0 for jobs in per_worker), [len(jobs) for jobs in per_worker]
    # More submit tasks than jobs is fine: the sweep re-enqueues drafts still waiting in a long
    # queue, and the extra tasks find the job already claimed (claim_for_submit) and do nothing.
    assert tasks["generations.tasks.submit_generation"] >= JOBS
    assert tasks["generations.tasks.archive_outputs"] >= JOBS
    assert duplicates == 0
    figures.record(
        "scaleout_two_rq_workers",
        jobs_submitted=JOBS,
        jobs_terminal=Generation.objects.filter(state__in=[State.COMPLETED]).count(),
        upstream_jobs=SimGeneration.objects.count(),
        duplicates=duplicates + submitted_twice,
        rq_jobs_per_worker=[len(jobs) for jobs in per_worker],
        tasks=dict(tasks),
        outputs_archived=len(originals),
    )
