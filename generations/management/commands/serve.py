"""Run the whole studio in the foreground: gunicorn and the workers, stopped by one Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand


def gunicorn_command(bind: str, workers: int, threads: int) -> list[str]:
    """The web server: gunicorn, its access log on stdout without signatures (lumaweb/logs.py)."""
    return [
        sys.executable, "-m", "gunicorn", "lumaweb.wsgi:application",
        "--bind", bind,
        "--workers", str(workers),
        "--threads", str(threads),
        "--access-logfile", "-",
        "--logger-class", "lumaweb.logs.GunicornLogger",
        "--graceful-timeout", "5",
    ]  # fmt: skip


def worker_commands() -> list[list[str]]:
    """A worker per task queue: a long archive or import never holds a job's send or poll."""
    return [
        [sys.executable, "manage.py", "run_worker", "--queues", queue]
        for queue in settings.TASK_QUEUES
    ]


class Command(BaseCommand):
    help = "Start gunicorn (web) and a background worker per task queue; Ctrl-C stops them all."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--web-workers", type=int, default=int(os.environ.get("WEB_WORKERS", 2))
        )
        parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", 4)))

    def handle(self, *args: Any, **options: Any) -> None:
        bind = f"{settings.HOST}:{settings.PORT}"
        web = gunicorn_command(bind, options["web_workers"], options["threads"])
        commands = [web, *worker_commands()]
        processes = [subprocess.Popen(command) for command in commands]  # noqa: S603
        host = "127.0.0.1" if settings.HOST in {"0.0.0.0", "::"} else settings.HOST  # noqa: S104
        mode = "demo mode: the built-in Luma simulator" if settings.LUMA_SIMULATOR else "Luma API"
        self.stdout.write(
            self.style.SUCCESS(f"\nlumaweb is running at http://{host}:{settings.PORT}/")
            + f"\n  upstream: {mode}\n  health:   http://{host}:{settings.PORT}/healthz"
            "\n  press Ctrl-C to stop the web server and the workers\n"
        )
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.2)
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        if not stopping:
            sys.exit("lumaweb: a process exited on its own; stopped the others.")
