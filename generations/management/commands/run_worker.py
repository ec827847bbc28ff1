"""Run the background worker for the configured task backend, with heartbeat and sweep."""

import os
import socket
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection
from django.db.utils import DatabaseError
from django.utils import timezone

from generations.credits import refresh_balances
from generations.models import WorkerHeartbeat
from generations.tasks import sweep

HEARTBEAT_EVERY = 5.0


class Command(BaseCommand):
    help = "Run the task worker (database or RQ backend), its heartbeat and the periodic sweep."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--interval", type=float, default=0.25, help="Seconds between queue checks when idle."
        )
        parser.add_argument(
            "--queues",
            default=",".join(settings.TASK_QUEUES),
            help="The queues to take tasks from, separated by commas (default: all of them: "
            "%(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        queues = [queue.strip() for queue in options["queues"].split(",") if queue.strip()]
        unknown = [queue for queue in queues if queue not in settings.TASK_QUEUES]
        if unknown or not queues:
            raise CommandError(
                f"--queues takes {' and '.join(settings.TASK_QUEUES)}, "
                f"not {','.join(unknown) or 'nothing'!r}."
            )
        worker_id = f"{socket.gethostname()}-{os.getpid()}"[:64]
        threading.Thread(
            target=self.keep_alive, args=(worker_id, queues), daemon=True, name="heartbeat"
        ).start()
        self.stdout.write(
            f"worker {worker_id} started ({settings.TASKS_BACKEND} backend, "
            f"queues: {', '.join(queues)})"
        )
        if settings.TASKS_BACKEND == "rq":
            # Jobs run in this process, not in a fork per job: the heartbeat thread above makes
            # HTTP calls and imports on its own, and a fork taken while it held an import lock
            # left the job waiting on that lock until RQ's 600 s timeout (seen under load:
            # `import httpcore` in httpx's transport).
            call_command(
                "rqworker",
                *queues,
                job_class="django_tasks_rq.backend.Job",
                worker_class="rq.SimpleWorker",
                with_scheduler=True,
            )
        else:
            call_command(
                "db_worker",
                interval=options["interval"],
                queue_name=",".join(queues),
                worker_id=worker_id,
                reload=False,
                startup_delay=False,
            )

    def keep_alive(self, worker_id: str, queues: list[str]) -> None:
        """Beat every few seconds, sweep every LUMAWEB_SWEEP_INTERVAL; errors never kill it."""
        last_sweep = 0.0
        # The default queue's workers sweep; under `make run` the bulk worker would only sweep
        # again at the same moment.
        sweeps = "default" in queues
        while True:
            try:
                close_old_connections()
                WorkerHeartbeat.objects.update_or_create(
                    worker_id=worker_id,
                    defaults={
                        "hostname": socket.gethostname(),
                        "pid": os.getpid(),
                        "queues": ",".join(queues),
                        "seen_at": timezone.now(),
                    },
                )
                if sweeps and time.monotonic() - last_sweep >= settings.LUMAWEB_SWEEP_INTERVAL:
                    sweep()
                    refresh_balances()
                    last_sweep = time.monotonic()
            except DatabaseError as exc:
                self.stderr.write(f"heartbeat: {exc}")
                connection.close()
            time.sleep(min(HEARTBEAT_EVERY, settings.LUMAWEB_SWEEP_INTERVAL))
