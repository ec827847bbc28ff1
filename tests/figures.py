"""The reliability tests write down what they measured, for docs/reliability.md."""

import json
import os
from pathlib import Path

from django.conf import settings

FIGURES_DIR = Path(
    os.environ.get("LUMAWEB_FIGURES_DIR", Path(__file__).parent.parent / "test-artifacts")
)


def record(name: str, **figures: object) -> dict[str, object]:
    """Write one test's figures (jobs, terminal, duplicates, 5xx, …) as JSON; print them."""
    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    entry = {"test": name, "database": database, "tasks": settings.TASKS_BACKEND, **figures}
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / f"{name}-{database}-{settings.TASKS_BACKEND}.json").write_text(
        json.dumps(entry, indent=2, sort_keys=True) + "\n"
    )
    print(f"figures {name}: {json.dumps(entry, sort_keys=True)}")
    return entry
