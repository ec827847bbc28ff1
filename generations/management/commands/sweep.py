"""Re-enqueue orphaned jobs once (for cron in deployments without the built-in worker loop)."""

from typing import Any

from django.core.management.base import BaseCommand

from generations.tasks import sweep


class Command(BaseCommand):
    help = "Find unfinished jobs nobody is working on and enqueue them again."

    def handle(self, *args: Any, **options: Any) -> None:
        found = sweep()
        self.stdout.write(
            f"re-enqueued {found['drafts']} drafts and {found['polls']} polls; "
            f"{found['unknown']} jobs stuck while sending marked outcome-unknown"
        )
