"""Remove for good what has been in the trash longer than LUMAWEB_TRASH_DAYS (the worker's sweep
does this too; for cron in deployments without the built-in worker loop)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from generations.trash import purge_trash


class Command(BaseCommand):
    help = "Purge jobs in the trash for over LUMAWEB_TRASH_DAYS, with the files nobody else uses."

    def handle(self, *args: Any, **options: Any) -> None:
        purged = purge_trash()
        days = settings.LUMAWEB_TRASH_DAYS
        self.stdout.write(f"purged {purged} jobs deleted over {days:g} days ago")
