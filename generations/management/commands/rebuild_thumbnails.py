"""Make the thumbnails, posters and previews of archived outputs again."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import Q

from generations.archive import rebuild_renditions
from generations.models import ArchiveState, Output


class Command(BaseCommand):
    help = "Rebuild thumbnails, video posters and previews of archived outputs."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--all", action="store_true", help="Rebuild every output, not only those missing some."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        outputs = Output.objects.filter(archive_state=ArchiveState.ARCHIVED)
        if not options["all"]:
            outputs = outputs.filter(
                Q(thumb="") | Q(kind="image", thumb_large="") | Q(kind="video", poster="")
            )
        done = failed = 0
        for output in outputs.iterator():
            try:
                rebuild_renditions(output)
            except Exception as exc:  # one odd file must not stop the rest
                failed += 1
                self.stderr.write(f"{output}: {exc}")
            else:
                done += 1
        self.stdout.write(f"rebuilt {done} output{'s' if done != 1 else ''}, {failed} failed")
