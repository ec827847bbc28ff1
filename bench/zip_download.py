"""Bulk download in constant memory: a board of large files streamed as one ZIP, with the peak RSS
of the process that serves it read from /proc (VmHWM after a reset), never a stopwatch.

    .venv/bin/python bench/zip_download.py --gb 2     (alone: its own database and media in /tmp)

The files are sparse (no disk is used, reading them gives zeros), so a 2 GB board costs nothing
to set up. bench/run.py measures the same board through gunicorn (`measure` with the web workers'
process ids); alone, the download runs through Django's test client in this very process.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402

FILES = 8


@dataclass
class ZipMeasure:
    files: int
    gigabytes: float  # the archive's size
    rss_growth_mb: float  # the largest peak-RSS growth among the serving processes
    complete: bool  # as many bytes as Content-Length announced


def make_board(gigabytes: float, files: int = FILES) -> str:
    """A board of `files` archived videos of `gigabytes` in all; its download address."""
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.utils import timezone

    from generations.models import ArchiveState, Board, Generation, State

    owner, _ = User.objects.get_or_create(username="zip-bench")
    board = Board.objects.create(name=f"{gigabytes:g} GB board", created_by=owner)
    size = int(gigabytes * 2**30) // files
    pieces = []
    for n in range(files):
        prompt = f"a long video, part {n + 1}"
        generation = Generation.objects.create(
            created_by=owner, kind="video", model="ray-3.2", prompt=prompt,
            request={"prompt": prompt, "type": "video"}, state=State.COMPLETED,
        )  # fmt: skip
        name = f"outputs/{generation.uuid}/0.mp4"
        path = Path(settings.MEDIA_ROOT) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.truncate(size)
        generation.outputs.create(
            index=0, kind="video", url="https://cdn.test/x.mp4", url_expires_at=timezone.now(),
            archive_state=ArchiveState.ARCHIVED, file=name, size_bytes=size,
        )  # fmt: skip
        pieces.append(generation)
    board.add(pieces, owner)
    return f"/boards/{board.uuid}/download"


def measure(download: Callable[[], tuple[int, int]], pids: list[int], files: int) -> ZipMeasure:
    """Run `download` (returning the bytes received and announced) while watching `pids`."""
    start = {pid: load.reset_peak(pid) for pid in pids}
    received, announced = download()
    growth = max(load.peak_kb(pid) - rss for pid, rss in start.items()) / 1024
    return ZipMeasure(files, received / 2**30, growth, received == announced)


def in_process(url: str) -> tuple[int, int]:
    """Download `url` through Django's test client, keeping nothing of it."""
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username="zip-bench"))
    response = client.get(url, headers={"Host": "localhost"})
    received = 0
    for chunk in response.streaming_content:  # type: ignore[attr-defined]
        received += len(chunk)
    return received, int(response["Content-Length"])


def over_http(client: httpx.Client, url: str) -> tuple[int, int]:
    """Download `url` from a running server (bench/run.py's gunicorn), keeping nothing of it."""
    received = 0
    with client.stream("GET", url, timeout=600) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_raw():
            received += len(chunk)
        return received, int(answer.headers["Content-Length"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0, help="the board's size")
    parser.add_argument("--files", type=int, default=FILES)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lumaweb-zip-") as workdir:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "MEDIA"))},
            "LUMAWEB_VAR_DIR": workdir,
            "DJANGO_SETTINGS_MODULE": "lumaweb.settings",
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env,
            check=True,
        )  # fmt: skip
        os.environ.update(env)
        import django

        django.setup()
        url = make_board(args.gb, args.files)
        result = measure(lambda: in_process(url), [os.getpid()], args.files)
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
