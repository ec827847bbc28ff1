"""Where a rendered page's time goes: run the studio, gallery and detail views in-process on an
existing database and print each view's time per request and cProfile's top entries.

    LUMAWEB_VAR_DIR=/tmp/prof/var python manage.py collectstatic; ... seed_gallery 3000   # once
    LUMAWEB_VAR_DIR=/tmp/prof/var python bench/profile_render.py [--top 25] [--repeat 20]

Every request goes to a new address and, before it, one job's prompt is written (as after a
teammate's change), so nothing a page shows can come from a cache that a change would clear.
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lumaweb.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402

from generations.models import Generation, State  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative")
    args = parser.parse_args()
    user, _ = get_user_model().objects.get_or_create(username="profiler")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    detail = Generation.objects.filter(state=State.COMPLETED).first()
    if detail is None:
        raise SystemExit("seed the database first: manage.py seed_gallery 3000")
    newest = list(Generation.objects.order_by("-created_at")[:24])
    pages = {"studio": "/", "gallery": "/gallery/", "detail": detail.get_absolute_url()}
    for name, url in pages.items():
        for n in range(3):  # warm: templates compiled, connections open
            client.get(f"{url}?warm={n}")
        profiler = cProfile.Profile()
        started = time.perf_counter()
        for n in range(args.repeat):
            changed = [detail] if name == "detail" else newest
            touch(changed[n % len(changed)], n)
            profiler.enable()
            response = client.get(f"{url}?render={n}")
            profiler.disable()
            assert response.status_code == 200, (url, response.status_code)
        per_request = (time.perf_counter() - started) / args.repeat * 1000
        print(f"\n=== {name} {url}: {per_request:.1f} ms per request (a write before each)")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
        print(out.getvalue())


def touch(generation: Generation, n: int) -> None:
    """A change the pages show (its card, its detail page), as bench/inprocess.py makes:
    the job's prompt. Its worker's bookkeeping (last_polled_at, say) is on no page."""
    Generation.objects.filter(pk=generation.pk).update(prompt=f"{generation.prompt} ({n})")


if __name__ == "__main__":
    main()
