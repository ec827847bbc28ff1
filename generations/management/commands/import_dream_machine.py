"""Bring a Dream Machine account's existing generations into the studio's history."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from generations.providers import ProviderOff, errors
from generations.providers.dream_machine.history import PAGE_SIZE, Imported, import_history
from generations.tasks import after_import


class Command(BaseCommand):
    help = (
        "Page through the Dream Machine account's generations (LUMAAI_API_KEY) and add every one "
        "the studio does not know yet to the history, as made by --user. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="Whose history they join (username).")
        parser.add_argument("--page-size", type=int, default=PAGE_SIZE, help="Per request, 1-1000.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"There is no user {options['user']!r}.")
        if not 1 <= options["page_size"] <= 1000:
            raise CommandError("--page-size is from 1 to 1000.")

        def progress(counts: Imported) -> None:
            self.stdout.write(f"{counts.seen} seen, {counts.imported} imported so far")

        try:
            counts = import_history(
                user, after_import, page_size=options["page_size"], progress=progress
            )
        except (ProviderOff, errors.LumaError) as exc:
            raise CommandError(f"Dream Machine: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {counts.imported} imported, {counts.seen - counts.imported} already known."
            )
        )
