"""Fill the database with N synthetic generations, for benchmarks and demos; never calls Luma.

Every kind, state and person, with lineage (edits, animations, extensions, reframes, layers,
remixes, retries), stars, events and archived outputs. The outputs share a handful of small real
media files rendered once under MEDIA_ROOT/outputs/seed/, so deleting one seeded piece removes
the files the other seeded pieces show: this is a benchmark and demo data set, not a backup.

Rows go in with bulk_create in batches. Their ids are assigned here, oldest first, so that
lineage can point backwards and the keyset order (-created_at, -id) matches the id order. The
prompt search index follows, as for any row: SQLite's FTS5 triggers fire on each insert.
"""

import random
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from generations import renditions
from generations.models import (
    ArchiveState,
    EventKind,
    Generation,
    GenerationEvent,
    Lineage,
    Output,
    Star,
    State,
)
from generations.providers.agents import schema
from generations.simulators import media as sim_media

PEOPLE = ("ana", "ben", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jules", "kofi")
SUBJECTS = (
    "a lighthouse", "a red fox", "an old harbour", "a glass greenhouse", "a mountain cabin",
    "a koi pond", "a neon street", "a desert highway", "a paper boat", "a snowy forest",
    "a city rooftop", "a vintage car", "a hot air balloon", "a sleeping cat", "a cathedral",
    "a waterfall", "a space station", "a market stall", "a tram", "an orchard",
)  # fmt: skip
MOODS = (
    "at dusk", "in the rain", "at golden hour", "under the northern lights", "in thick fog",
    "at midnight", "in spring", "after a storm", "in winter light", "at sunrise",
)  # fmt: skip
STYLES = (
    "cinematic", "watercolour", "35mm film", "isometric", "oil painting", "studio photo",
    "low poly", "ink sketch", "anamorphic", "documentary",
)  # fmt: skip
# Share of each kind among new pieces (the rest of a row's shape follows from its kind).
KINDS = (("image", 45), ("image_edit", 12), ("video", 25), ("video_edit", 6),
         ("video_reframe", 5), ("layering", 7))  # fmt: skip
IMAGE_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:2")
VIDEO_RATIOS = ("16:9", "9:16", "1:1")
TRANSIENT = ("rate_limited", "generation_failed", "output_not_found")
PERMANENT = ("content_moderated", "invalid_request", "image_too_large", "corrupt_input")
ACTIVE_NEWEST = 6  # the newest rows are unfinished jobs: a team watching a few at a time
POOL = 500  # lineage points at one of the last POOL finished pieces of its medium


@dataclass
class Media:
    """Stored file names of one sample output, shared by every seeded row that shows it."""

    kind: str
    fields: dict[str, Any]
    layer: dict[str, Any] | None = None


@dataclass
class Pools:
    """Completed rows so far, by medium, for lineage to point at."""

    images: list[Generation] = field(default_factory=list)
    videos: list[Generation] = field(default_factory=list)
    failed: list[Generation] = field(default_factory=list)


class Command(BaseCommand):
    help = (
        "Add N synthetic generations (all kinds, states and people, archived outputs, lineage, "
        "stars) for benchmarks and demos. Never calls Luma."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("count", type=int, help="How many generations to add.")
        parser.add_argument("--batch", type=int, default=2000)
        parser.add_argument("--days", type=float, default=365.0, help="How far back they go.")
        parser.add_argument("--seed", type=int, default=8, help="Random seed (same data again).")

    def handle(self, *args: Any, **options: Any) -> None:
        count = options["count"]
        if count < 1:
            raise CommandError("count must be at least 1.")
        started = time.monotonic()
        next_id = (Generation.objects.aggregate(top=Max("id"))["top"] or 0) + 1
        # Seeding again adds new rows (new uuids), the same ones for the same seed and start.
        rng = random.Random(f"{options['seed']}-{next_id}")
        people = _people()
        media = _sample_media()
        pools = Pools()
        now = timezone.now() - timedelta(minutes=1)
        span = timedelta(days=options["days"])
        step = span / count
        batch = max(1, options["batch"])
        made = 0
        while made < count:
            size = min(batch, count - made)
            rows = [
                _generation(
                    rng,
                    pk=next_id + made + n,
                    created_at=now - span + step * (made + n),
                    person=rng.choice(people),
                    pools=pools,
                    active=made + n >= count - ACTIVE_NEWEST,
                )
                for n in range(size)
            ]
            with transaction.atomic():
                Generation.objects.bulk_create(rows)
                _link_retries(rows)
                Output.objects.bulk_create(_outputs(rng, rows, media))
                GenerationEvent.objects.bulk_create(_events(rows))
                Star.objects.bulk_create(_stars(rng, rows, people), ignore_conflicts=True)
            made += size
            for pool in (pools.images, pools.videos, pools.failed):
                del pool[:-POOL]
            if options["verbosity"] > 1:
                self.stdout.write(f"  {made}/{count}")
        _reset_sequences()
        seconds = time.monotonic() - started
        self.stdout.write(f"Seeded {count} generations in {seconds:.1f} s.")


def _reset_sequences() -> None:
    """Explicit ids leave PostgreSQL's id sequence behind; move it past them (SQLite needs not)."""
    statements = connection.ops.sequence_reset_sql(no_style(), [Generation])
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _people() -> list[Any]:
    users = get_user_model()
    people = []
    for name in PEOPLE:
        user, created = users.objects.get_or_create(
            username=name, defaults={"email": f"{name}@example.com"}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        people.append(user)
    return people


# --- the rows ---


def _prompt(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(MOODS)}, {rng.choice(STYLES)}"


def _weighted_kind(rng: random.Random) -> str:
    kinds, weights = zip(*KINDS, strict=True)
    return rng.choices(kinds, weights)[0]


def _generation(
    rng: random.Random,
    *,
    pk: int,
    created_at: datetime,
    person: Any,
    pools: Pools,
    active: bool,
) -> Generation:
    retried = pools.failed.pop() if pools.failed and rng.random() < 0.03 else None
    if retried is not None:
        kind, parent, lineage, request = retried.kind, retried, Lineage.RETRY, retried.request
    else:
        kind = _weighted_kind(rng)
        parent, lineage, request = _request(rng, kind, pools)
    row = Generation(
        id=pk,
        uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
        created_by=person,
        parent=parent,
        lineage=lineage,
        kind=kind,
        model=request["model"],
        prompt=request["prompt"],
        aspect_ratio=request.get("aspect_ratio") or "",
        request=request,
        upstream_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        created_at=created_at,
        submitted_at=created_at + timedelta(seconds=1),
    )
    if retried is not None:
        retried.retried_as_id = pk  # saved with its own batch, or by _link_retries
        row.auto_retry = 1 if retried.failure_code in TRANSIENT else 0
    if active:
        # No poll is scheduled (next_poll_at stays empty): a running worker leaves them alone.
        row.state = rng.choice([State.QUEUED, State.PROCESSING])
        row.started_at = row.submitted_at if row.state == State.PROCESSING else None
        return row
    row.started_at = created_at + timedelta(seconds=3)
    row.finished_at = created_at + timedelta(seconds=rng.uniform(14, 60))
    row.poll_count = rng.randint(5, 25)
    roll = rng.random()
    if roll < 0.9:
        row.state = State.COMPLETED
        (pools.videos if kind in schema.VIDEO_TYPES else pools.images).append(row)
    elif roll < 0.985:
        row.state = State.FAILED
        row.failure_code = rng.choice(TRANSIENT + PERMANENT)
        row.failure_reason = "The generation failed."
        pools.failed.append(row)
    else:
        row.state = State.UNKNOWN
        row.failure_code = "outcome_unknown"
        row.failure_reason = "Luma did not answer in time; it may or may not have the job."
        row.upstream_id = None
    return row


def _request(
    rng: random.Random, kind: str, pools: Pools
) -> tuple[Generation | None, str, dict[str, Any]]:
    """A wire request as the forms build it, and the piece it was made from (if any)."""
    prompt = _prompt(rng)
    recent_images, recent_videos = pools.images, pools.videos
    if kind in ("image", "video") and rng.random() < 0.05:
        pool = recent_images if kind == "image" else recent_videos
        remixed = [g for g in pool[-50:] if g.kind == kind]
        if remixed:
            original = rng.choice(remixed)
            return original, Lineage.REMIX, {**original.request, "prompt": prompt}
    if kind == "image":
        request: dict[str, Any] = {
            "prompt": prompt,
            "type": "image",
            "model": rng.choice(["uni-1", "uni-1-max"]),
            "aspect_ratio": rng.choice(IMAGE_RATIOS),
        }
        if rng.random() < 0.2:
            request["style"] = rng.choice(schema.STYLES)
        return None, "", request
    if kind == "image_edit" and recent_images:
        parent = rng.choice(recent_images)
        return parent, Lineage.EDIT, {
            "prompt": prompt, "type": "image_edit", "model": "uni-1",
            "source": {"generation_id": parent.upstream_id},
        }  # fmt: skip
    if kind == "layering" and recent_images:
        parent = rng.choice(recent_images)
        return parent, Lineage.LAYERS, {
            "prompt": "Split this image into its layers.", "type": "layering", "model": "uni-1",
            "source": {"generation_id": parent.upstream_id}, "layering": {"resolution": "1k"},
        }  # fmt: skip
    if kind == "video_edit" and recent_videos:
        parent = rng.choice(recent_videos)
        return parent, Lineage.EDIT, {
            "prompt": prompt, "type": "video_edit", "model": schema.VIDEO_MODEL,
            "source": {"generation_id": parent.upstream_id},
            "video": {"edit": {"strength": rng.choice(schema.VIDEO_EDIT_STRENGTHS)}},
        }  # fmt: skip
    if kind == "video_reframe" and recent_videos:
        parent = rng.choice(recent_videos)
        return parent, Lineage.REFRAME, {
            "prompt": prompt, "type": "video_reframe", "model": schema.VIDEO_MODEL,
            "aspect_ratio": "9:16", "source": {"generation_id": parent.upstream_id},
            "video": {"resolution": "720p"},
        }  # fmt: skip
    video: dict[str, Any] = {"duration": rng.choice(["5s", "10s"]), "resolution": "720p"}
    request = {
        "prompt": prompt,
        "type": "video",
        "model": schema.VIDEO_MODEL,
        "aspect_ratio": rng.choice(VIDEO_RATIOS),
        "video": video,
    }
    parent, lineage = None, ""
    if recent_images and rng.random() < 0.3:
        parent, lineage = rng.choice(recent_images), Lineage.ANIMATE
    elif recent_videos and rng.random() < 0.1:
        parent, lineage = rng.choice(recent_videos), Lineage.EXTEND
    if parent is not None:
        video["start_frame"] = {"generation_id": parent.upstream_id}
        video["duration"] = "5s"  # a start frame is for 5-second videos only
    # A kind whose source pool was still empty falls back to a plain video.
    return parent, lineage, request


def _link_retries(rows: list[Generation]) -> None:
    """A failure retried by a row of a later batch learns of it here."""
    ids = {row.id for row in rows}
    for row in rows:
        if row.lineage == Lineage.RETRY and row.parent_id not in ids:
            Generation.objects.filter(pk=row.parent_id).update(retried_as_id=row.id)


def _outputs(
    rng: random.Random, rows: list[Generation], media: dict[str, list[Media]]
) -> list[Any]:
    outputs = []
    expired = timezone.now() - timedelta(days=1)
    for row in rows:
        if row.state != State.COMPLETED:
            continue
        if row.kind == "layering":
            samples = media["layers"]
        else:
            pool = media["video" if row.kind in schema.VIDEO_TYPES else "image"]
            samples = [rng.choice(pool)]
        for index, sample in enumerate(samples):
            failed = rng.random() < 0.003
            outputs.append(
                Output(
                    generation_id=row.id,
                    index=index,
                    kind=sample.kind,
                    url=f"https://storage.example.invalid/{row.upstream_id}/{index}",
                    url_expires_at=expired,
                    layer=sample.layer,
                    archive_attempts=1 if not failed else 6,
                    **(
                        {"archive_state": ArchiveState.FAILED, "archive_error": "Link expired."}
                        if failed
                        else {
                            "archive_state": ArchiveState.ARCHIVED,
                            "archived_at": row.finished_at,
                            **sample.fields,
                        }
                    ),
                )
            )
    return outputs


def _events(rows: list[Generation]) -> list[GenerationEvent]:
    events = []
    for row in rows:
        events.append(
            GenerationEvent(
                generation_id=row.id,
                at=row.created_at,
                kind=EventKind.CREATED,
                state=State.DRAFT,
                data=row.request,
            )
        )
        if row.finished_at:
            kind = EventKind.STATE if row.state != State.UNKNOWN else EventKind.UNKNOWN
            events.append(
                GenerationEvent(
                    generation_id=row.id,
                    at=row.finished_at,
                    kind=kind,
                    state=row.state,
                    data={"state": row.state, "failure_code": row.failure_code or None},
                )
            )
    return events


def _stars(rng: random.Random, rows: list[Generation], people: list[Any]) -> list[Star]:
    return [
        Star(user=rng.choice(people), generation_id=row.id, created_at=row.created_at)
        for row in rows
        if row.state == State.COMPLETED and rng.random() < 0.04
    ]


# --- the shared sample media ---


def _sample_media() -> dict[str, list[Media]]:
    """Render a handful of real outputs with their thumbnails once; reuse them afterwards."""
    media: dict[str, list[Media]] = {"image": [], "video": [], "layers": []}
    with tempfile.TemporaryDirectory(prefix="lumaweb-seed-") as workdir:
        work = Path(workdir)
        for n, ratio in enumerate(IMAGE_RATIOS):
            data = sim_media.render_image(f"{SUBJECTS[n]} {MOODS[n]}", aspect_ratio=ratio)
            media["image"].append(_sample(work, f"image-{n}", "png", data, "image/png"))
        for n, ratio in enumerate(VIDEO_RATIOS):
            data = sim_media.render_video(
                f"{SUBJECTS[n + 5]} {MOODS[n + 5]}", aspect_ratio=ratio, seconds=2, long_side=256
            )
            media["video"].append(_sample(work, f"video-{n}", "mp4", data, "video/mp4"))
        layers = sim_media.render_layers(sim_media.render_image(SUBJECTS[0], aspect_ratio="4:3"))
        for n, (data, layer) in enumerate(layers):
            sample = _sample(work, f"layer-{n}", "png", data, "image/png")
            sample.layer = layer
            media["layers"].append(sample)
    return media


def _sample(work: Path, stem: str, extension: str, data: bytes, mime_type: str) -> Media:
    is_video = mime_type.startswith("video/")
    base = f"outputs/seed/{stem}"
    original = work / f"{stem}.{extension}"
    original.write_bytes(data)
    (work / stem).mkdir()
    made = renditions.make(original, is_video=is_video, workdir=work / stem)
    fields: dict[str, Any] = {
        "file": _keep(f"{base}.{extension}", original),
        "mime_type": mime_type,
        "size_bytes": len(data),
        "width": made.width,
        "height": made.height,
        "duration": made.duration,
    }
    for name, path in made.files.items():
        fields[name] = _keep(f"{base}-{path.name}", path)
    return Media("video" if is_video else "image", fields)


def _keep(name: str, path: Path) -> str:
    """Store a sample under a fixed name, replacing an earlier seed's copy."""
    if default_storage.exists(name):
        default_storage.delete(name)
    with path.open("rb") as handle:
        return default_storage.save(name, File(handle))
