"""The team's generation history: every job, its outputs and every event, kept forever.

A Generation moves through one state machine. Each transition is a conditional UPDATE, so a late
or duplicated poll can never move a finished job backwards and two workers can never both submit
the same job.
"""

import json
import unicodedata
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from generations import providers
from generations.explanations import Explanation, explain
from generations.presigned import presigned_expiry
from generations.providers.base import UpstreamJob
from generations.providers.proxy import schema as proxy_schema


class State(models.TextChoices):
    DRAFT = "draft", "Waiting to be sent"
    SUBMITTING = "submitting", "Sending"
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Generating"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Outcome unknown"


ACTIVE_STATES = (State.DRAFT, State.SUBMITTING, State.QUEUED, State.PROCESSING)
UPSTREAM_ACTIVE_STATES = (State.QUEUED, State.PROCESSING)
TERMINAL_STATES = (State.COMPLETED, State.FAILED, State.UNKNOWN)
FAILURE_STATES = (State.FAILED, State.UNKNOWN)
# A state may only be replaced by one of higher rank: the order in which a job can really move.
STATE_RANK = {
    State.DRAFT: 0,
    State.SUBMITTING: 1,
    State.QUEUED: 2,
    State.PROCESSING: 3,
    State.COMPLETED: 4,
    State.FAILED: 4,
    State.UNKNOWN: 4,
}


class Kind(models.TextChoices):
    """What a job makes: the studio's one name for each kind, in every page and filter (each
    provider maps its own request types onto these)."""

    IMAGE = "image", "Image"
    IMAGE_EDIT = "image_edit", "Image edit"
    VIDEO = "video", "Video"
    VIDEO_EDIT = "video_edit", "Video edit"
    VIDEO_REFRAME = "video_reframe", "Reframed video"
    LAYERING = "layering", "Layers"

    @classmethod
    def label_of(cls, kind: str) -> str:
        """A kind in words ("Image edit"); a code no longer known, as it is."""
        try:
            return cls(kind).label
        except ValueError:  # not a member: no list of members is built per call
            return kind


# Jobs of one kind named for what they did, by model (Dream Machine's upscale and audio).
NAMED_FOR_THEIR_WORK = {"upscale_video": "Upscale", "add_audio": "Audio added"}


def work_label(kind: str, model: str) -> str:
    """A job's kind in words; a Dream Machine upscale or added audio is named for what it did
    (stored as a video edit, the kind budgets and filters count it as)."""
    return NAMED_FOR_THEIR_WORK.get(model) or Kind.label_of(kind)


class Lineage(models.TextChoices):
    REMIX = "remix", "Remix of"
    EDIT = "edit", "Edit of"
    ANIMATE = "animate", "Animated from"
    EXTEND = "extend", "Extension of"
    REFRAME = "reframe", "Reframe of"
    LAYERS = "layers", "Layers of"
    RETRY = "retry", "Retry of"


class Via(models.TextChoices):
    WEB = "web", "the studio"
    MCP = "mcp", "MCP"


class ArchiveState(models.TextChoices):
    PENDING = "pending", "Not archived yet"
    ARCHIVED = "archived", "Archived"
    FAILED = "failed", "Could not be archived"


# What a gallery card (templates/generations/card.html and media.html) shows of its job and of
# the job's author, retry and earlier try. A card's cache key is made of these columns
# (generations/cards.py), so a column a card starts to show belongs here; one that is missing
# costs a query per card, which the query-count tests catch.
CARD_COLUMNS = (
    *("uuid", "state", "kind", "provider", "model", "prompt", "via", "failure_code"),
    *("failure_reason", "created_at", "submitted_at", "submit_after", "deleted_at"),
    *("auto_retry", "created_by", "retried_as", "parent", "created_by__username"),
    *("retried_as__uuid", "retried_as__state", "retried_as__auto_retry"),
    *("parent__uuid", "parent__failure_code"),
)


def is_stuck(state: str, created_at: datetime, submit_after: datetime | None) -> bool:
    """Unfinished for over LUMAWEB_STUCK_AFTER (a deferred job counts from when it is due)."""
    since = max(created_at, submit_after or created_at)
    limit = timedelta(seconds=settings.LUMAWEB_STUCK_AFTER)
    return state in ACTIVE_STATES and timezone.now() - since > limit


class GenerationQuerySet(models.QuerySet["Generation"]):
    def needs_review(self) -> "GenerationQuerySet":
        """Failures nobody has reviewed and no retry has replaced."""
        return self.alive().filter(
            state__in=FAILURE_STATES, reviewed_at__isnull=True, retried_as__isnull=True
        )

    def stuck(self, now: datetime | None = None) -> "GenerationQuerySet":
        """Unreviewed jobs unfinished for over LUMAWEB_STUCK_AFTER (a deferred one: once due)."""
        cutoff = (now or timezone.now()) - timedelta(seconds=settings.LUMAWEB_STUCK_AFTER)
        return (
            self.alive()
            .filter(state__in=ACTIVE_STATES, created_at__lt=cutoff, reviewed_at__isnull=True)
            .exclude(submit_after__gt=cutoff)
        )

    def alive(self) -> "GenerationQuerySet":
        """Everything but what is in the trash."""
        return self.filter(deleted_at__isnull=True)

    def named(self, values: Iterable[object]) -> "GenerationQuerySet":
        """The jobs whose uuid is among `values` (ids from a form or a query string); a value
        that is no id at all (stale, hand-made) names none, and the others still count."""
        wanted = []
        for value in values:
            try:
                wanted.append(uuid.UUID(str(value)))
            except ValueError:
                continue
        return self.filter(uuid__in=wanted)

    def gallery(self) -> "GenerationQuerySet":
        return (
            self.alive()
            .select_related("created_by", "retried_as", "parent")
            .prefetch_related("outputs")
        )

    def cards(self) -> "GenerationQuerySet":
        """`gallery()` reading only what a card shows (CARD_COLUMNS): a gallery page's query
        compiles and loads in about half the time of one reading every column."""
        return self.gallery().only(*CARD_COLUMNS)

    def listed(self) -> "GenerationQuerySet":
        """What the gallery lists: a job an automatic retry replaced is stacked under its retry
        (whose card says so), not shown as a card of its own."""
        return self.exclude(retried_as__auto_retry__gt=0)

    def for_viewer(self, user: Any) -> "GenerationQuerySet":
        """Each row knows whether this person starred it (`is_starred`), in the same query."""
        return self.annotate(
            is_starred=Exists(Star.objects.filter(user=user, generation=OuterRef("pk")))
        )


class Generation(models.Model):
    """One job sent (or about to be sent) to Luma, with everything needed to explain it later."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="generations"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    lineage = models.CharField(max_length=16, choices=Lineage.choices, blank=True)
    # One token per submitted form: a double click or a browser retry finds the first job. Keys
    # are the person's own (unique per person), and "retry:…" is only ever written by retry.py.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 (none: no key)
    # Variations made by one Generate (2 or 4 of them) share this id: the first one's uuid.
    batch = models.UUIDField(null=True, blank=True, db_index=True)

    # Which upstream dialect (generations/providers/) this job was sent to.
    provider = models.CharField(max_length=24, default="agents")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    model = models.CharField(max_length=32)
    prompt = models.TextField()
    aspect_ratio = models.CharField(max_length=8, blank=True)
    # The request body exactly as sent upstream, in its provider's wire format (inline media
    # replaced by stored references).
    request = models.JSONField()
    upstream_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # The latest reply from upstream, verbatim.
    upstream = models.JSONField(null=True, blank=True)

    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    failure_code = models.CharField(max_length=32, blank=True)
    failure_reason = models.TextField(blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    poll_count = models.PositiveIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    last_request_id = models.CharField(max_length=64, blank=True)
    # Claimed while one worker fetches fresh output URLs, so viewers never start a second fetch.
    url_refresh_claimed_at = models.DateTimeField(null=True, blank=True)

    # Staff review of failures, and retries (generations/retry.py, generations/triage.py).
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_note = models.TextField(blank=True)
    # The retry that replaced this job; a job is retried at most once (its retry's idempotency key).
    retried_as = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Which automatic retry this job is in its chain: 0 when a person started it.
    auto_retry = models.PositiveSmallIntegerField(default=0)
    # A deferred submission (an automatic retry's backoff) is not due before this.
    submit_after = models.DateTimeField(null=True, blank=True)
    # In the trash since then, put there by this person (generations/trash.py); purged with its
    # files LUMAWEB_TRASH_DAYS later.
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Where the job was started: the studio's pages, or an agent through /mcp (generations/mcp/).
    via = models.CharField(max_length=8, choices=Via.choices, default=Via.WEB)
    # What the price table (Price) said this job would cost when it was recorded; null: no price.
    estimated_cents = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"], name="one_key_per_person"
            )
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="gen_newest"),
            models.Index(fields=["created_by", "-created_at", "-id"], name="gen_by_person"),
            models.Index(fields=["kind", "-created_at", "-id"], name="gen_by_kind"),
            models.Index(fields=["state", "-created_at", "-id"], name="gen_by_state"),
            models.Index(fields=["created_by", "finished_at"], name="gen_finished_by_person"),
            models.Index(
                fields=["next_poll_at"],
                name="gen_unfinished",
                condition=Q(state__in=["draft", "submitting", "queued", "processing"]),
            ),
            models.Index(
                fields=["-created_at", "-id"],
                name="gen_needs_review",
                condition=Q(state__in=["failed", "unknown"], reviewed_at__isnull=True),
            ),
            models.Index(
                fields=["deleted_at"], name="gen_trash", condition=Q(deleted_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.uuid}: {self.prompt[:40]}"

    def get_absolute_url(self) -> str:
        return reverse("generation-detail", args=[self.uuid])

    @property
    def holds_unsent_uploads(self) -> bool:
        """Whether its stored request still names uploads of its own by placeholder: they never
        reached its upstream (text that merely reads like one, in a prompt, is no upload)."""
        stored = json.dumps(self.request)
        return any(item.placeholder in stored for item in self.inputs.all())

    @property
    def kind_label(self) -> str:
        return work_label(self.kind, self.model)

    @cached_property
    def shown_outputs(self) -> list["Output"]:
        """Its outputs in order, as its card and media show them: those prefetched (or given
        by the page that read them, `cards.page_cards`), else read now."""
        return list(self.outputs.all())

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def is_stuck(self) -> bool:
        return is_stuck(self.state, self.created_at, self.submit_after)

    @property
    def provider_label(self) -> str:
        return providers.label(self.provider)

    @property
    def failure_said_by(self) -> str:
        """Who said a failure's words: its upstream, or "" when they are the studio's own."""
        return "" if self.failure_code in STUDIO_WORDS else self.provider_label

    @property
    def upstream_state_note(self) -> str:
        """The upstream's own word for this job's state when the studio's words leave it out."""
        if not isinstance(self.upstream, dict) or self.provider not in settings.LUMA_PROVIDERS:
            return ""
        return providers.get(self.provider).upstream_state(self.upstream)

    @property
    def explanation(self) -> Explanation:
        """Why it failed, in the words of the upstream that had it."""
        return explain(self.failure_code, self.provider)

    @cached_property
    def retry_refusal(self) -> str:
        """Why the studio did not retry this failure automatically although its kind is (the
        team's budget, say), or "". Review's rows read it in their query (triage.py)."""
        said = self.events.filter(kind=EventKind.RETRY_REFUSED).order_by("-at", "-id")
        return str(said.values_list("data__reason", flat=True).first() or "")

    @property
    def earlier_try_failure(self) -> str:
        """What went wrong with the try this retry replaces, for its card; a retry is sent to
        the upstream of its earlier try (submission.record_retry), whose columns a card's
        query does not read beyond its failure code."""
        if not self.parent:
            return ""
        title = str(explain(self.parent.failure_code, self.provider).title)
        # Inside a sentence: "failed (out of credit)", a name keeping its capitals.
        named = title.startswith(providers.display_name(self.provider))
        return title if named else title[:1].lower() + title[1:]

    @property
    def retry_note(self) -> str:
        """How this job was retried, for its card: "Retrying automatically (1 of 2)"."""
        retry = self.retried_as
        if retry is None:
            return ""
        if not retry.auto_retry:
            return "Retried by an admin"
        verb = "Retrying automatically" if retry.is_active else "Retried automatically"
        return f"{verb} ({retry.auto_retry} of {settings.LUMAWEB_AUTO_RETRY_MAX})"

    @property
    def parameters(self) -> list[tuple[str, str]]:
        """The request's settings field by field, for the detail page's full list."""
        shown = {"prompt", "user_prompt", "type", "model", "user_id", "notify_hook"}
        return [
            (_PARAMETER_NAMES.get(name) or name.replace("_", " ").capitalize(), _human(value))
            for name, value in self.request.items()
            if name not in shown
        ]

    @property
    def settings_in_words(self) -> str:
        """The request's settings as a person says them ("5 seconds, 720p, loops"), by its
        provider; "" when the provider has no such reading."""
        return providers.settings_in_words(self.provider, self.request)

    @property
    def request_pretty(self) -> str:
        return json.dumps(self.request, indent=2, ensure_ascii=False)

    # --- transitions: each one a conditional UPDATE that reports whether it happened ---

    def _transition(self, allowed_from: Any, **changes: Any) -> bool:
        updated = (
            Generation.objects.filter(pk=self.pk, state__in=list(allowed_from)).update(**changes)
            == 1
        )
        if updated:
            self.refresh_from_db()
        return updated

    def claim_for_submit(self) -> bool:
        """Take the job for sending; only one worker ever wins."""
        return self._transition([State.DRAFT], state=State.SUBMITTING, submitted_at=timezone.now())

    def release_submit(self) -> bool:
        """Give a claimed job back: the upstream certainly did not receive it."""
        return self._transition([State.SUBMITTING], state=State.DRAFT)

    def mark_submitted(self, reply: UpstreamJob) -> bool:
        """Record the upstream's acceptance of the job."""
        now = timezone.now()
        if not self._transition(
            [State.SUBMITTING],
            upstream_id=reply.id,
            state=State.QUEUED,
            last_request_id=reply.request_id,
            next_poll_at=now + timedelta(seconds=settings.LUMAWEB_POLL_INTERVAL),
        ):
            return False
        self.log(EventKind.SUBMITTED, request_id=reply.request_id, data=reply.raw)
        self.apply_upstream(reply)
        return True

    def mark_outcome_unknown(self, reason: str, request_id: str = "") -> bool:
        """The request may or may not have created a job upstream: hold it for review."""
        done = self._transition(
            [State.SUBMITTING],
            state=State.UNKNOWN,
            failure_code="outcome_unknown",
            failure_reason=reason,
            finished_at=timezone.now(),
            last_request_id=request_id,
        )
        if done:
            self.log(EventKind.UNKNOWN, request_id=request_id, data={"reason": reason})
        return done

    def mark_failed(
        self, code: str, reason: str, request_id: str = "", *, never_sent: bool = False
    ) -> bool:
        """Finish the job as failed, from any unfinished state.

        What never reached an upstream costs nothing (budgets and Usage count it so): a draft
        no worker has taken, or a job its upstream refused when it was sent (`never_sent`). One
        being sent keeps its estimate, as the upstream may still accept it; one no price row
        priced keeps having no estimate (Usage counts those).
        """
        unsent = Q(estimated_cents__isnull=False)
        if not never_sent:
            unsent &= Q(state=State.DRAFT)
        cost = Case(When(unsent, then=Value(Decimal(0))), default=F("estimated_cents"))
        done = self._transition(
            ACTIVE_STATES,
            state=State.FAILED,
            failure_code=code,
            failure_reason=reason,
            finished_at=timezone.now(),
            estimated_cents=cost,
        )
        if done:
            self.log(EventKind.FAILED, request_id=request_id, data={"code": code, "reason": reason})
        return done

    def apply_upstream(self, reply: UpstreamJob) -> bool:
        """Move to the state an upstream reply reports, never backwards; keep its outputs."""
        new_state = State(reply.state)
        lower = [s for s, rank in STATE_RANK.items() if rank < STATE_RANK[new_state]]
        now = timezone.now()
        changes: dict[str, Any] = {"state": new_state, "upstream": reply.raw}
        if new_state == State.PROCESSING:
            changes["started_at"] = now
        if new_state in TERMINAL_STATES:
            changes["finished_at"] = now
            changes["next_poll_at"] = None
        if new_state == State.FAILED:
            changes["failure_code"] = reply.failure_code or "generation_failed"
            changes["failure_reason"] = reply.failure_reason
        if not self._transition([s for s in lower if s != State.DRAFT], **changes):
            return False
        if new_state == State.COMPLETED:
            self.store_outputs(reply)
        self.log(EventKind.STATE, request_id=reply.request_id, data=reply.raw)
        return True

    def store_outputs(self, reply: UpstreamJob) -> None:
        """Save (or refresh) the presigned output URLs of a completed reply."""
        expires = timezone.now() + timedelta(seconds=settings.LUMAWEB_OUTPUT_URL_TTL)
        for index, output in enumerate(reply.outputs):
            Output.objects.update_or_create(
                generation=self,
                index=index,
                defaults={
                    "kind": output.kind,
                    "url": output.url,
                    "url_expires_at": presigned_expiry(output.url, expires),
                    "layer": output.layer,
                },
            )

    def claim_poll(self, due: datetime, interval: float) -> bool:
        """Reserve the poll scheduled for `due`; a duplicate or superseded poller finds the job
        scheduled for another time and stops.

        The next poll is an interval after `due`, not after now: a poll the worker takes a little
        late does not push every later one back (the delay would add up to most of an interval
        within a few polls, and a finished job would wait that much longer to show). After an
        outage longer than an interval, the cadence starts again from now instead of catching up.
        """
        now = timezone.now()
        step = timedelta(seconds=interval)
        following = due + step if due + step > now else now + step
        return (
            Generation.objects.filter(
                pk=self.pk, state__in=UPSTREAM_ACTIVE_STATES, next_poll_at=due
            ).update(
                next_poll_at=following,
                last_polled_at=now,
                poll_count=F("poll_count") + 1,
            )
            == 1
        )

    # --- staff review: whoever marks it first wins; the events keep every note ---

    def mark_reviewed(self, user: Any, note: str = "") -> bool:
        """Record that a person looked at this job and dealt with it."""
        done = Generation.objects.filter(pk=self.pk, reviewed_at__isnull=True).update(
            reviewed_at=timezone.now(), reviewed_by=user, review_note=note
        )
        if done:
            self.refresh_from_db()
            self.log(EventKind.REVIEWED, data={"by": user.get_username(), "note": note})
        return done == 1

    def reopen(self, user: Any) -> bool:
        """Put a reviewed job back on the list of failures to review."""
        done = Generation.objects.filter(pk=self.pk, reviewed_at__isnull=False).update(
            reviewed_at=None, reviewed_by=None, review_note=""
        )
        if done:
            self.refresh_from_db()
            self.log(EventKind.REOPENED, data={"by": user.get_username()})
        return done == 1

    def refresh_upstream(self, reply: UpstreamJob) -> None:
        """Keep a fresh reply for a finished job without moving it: the reply, renewed URLs."""
        Generation.objects.filter(pk=self.pk).update(
            upstream=reply.raw, last_request_id=reply.request_id
        )
        self.refresh_from_db()
        if self.state == State.COMPLETED and reply.state == "completed":
            self.store_outputs(reply)
        self.log(EventKind.REFRESHED, request_id=reply.request_id, data=reply.raw)

    def log(self, kind: str, *, request_id: str = "", data: Any = None) -> None:
        GenerationEvent.objects.create(
            generation=self, kind=kind, state=self.state, request_id=request_id, data=data
        )


# Request fields whose own names say little to people (the proxy dialect's).
_PARAMETER_NAMES = {
    "image_url": "Start image",
    "image_end_url": "End image",
    "expand_prompt": "Gateway improves the prompt",
}
# How a media reference reads on the detail page (whose Inputs section shows the media itself).
_REFERENCE_WORDS = {
    "generation_id": "a piece from the gallery",
    "file_id": "an upload",
    "url": "a file by its link",  # an image or a video, picked or given
    "data": "an inline image",
}


def _human(value: Any) -> str:
    if isinstance(value, str) and (word := _prefix_word(value)):
        return word
    url = value.get("url") if isinstance(value, dict) else None
    if isinstance(url, str) and (word := _prefix_word(url)):  # an upload kept as a URL
        return word
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict) and value.get("type") == "generation":  # Dream Machine's
        return _REFERENCE_WORDS["generation_id"]
    if isinstance(value, dict) and (ref := next((k for k in _REFERENCE_WORDS if k in value), "")):
        return _REFERENCE_WORDS[ref]
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {_human(v)}" for k, v in value.items())
    if (
        isinstance(value, list)
        and value
        and all(isinstance(item, dict) and item.keys() == {"key"} for item in value)
    ):  # Dream Machine's concepts: the camera moves by name
        return ", ".join(str(item["key"]).replace("_", " ") for item in value)
    if isinstance(value, list):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    return str(value)


def _prefix_word(value: str) -> str:
    return next((w for p, w in _REFERENCE_PREFIXES.items() if value.startswith(p)), "")


def media_url(name: str) -> str:
    """The protected address of a file in our storage (media_views.media sends it)."""
    return reverse("media", args=[name])


# An output's stored files: the original and its renditions.
OUTPUT_FILES = ("file", "thumb", "thumb_large", "poster", "preview")


class Output(models.Model):
    """One output of a completed job: an image, a video, or one layer."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="outputs")
    index = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16)
    url = models.TextField()
    url_expires_at = models.DateTimeField()
    layer = models.JSONField(null=True, blank=True)

    # Our own copy (generations/archive.py): the upstream URL dies an hour after it is issued.
    archive_state = models.CharField(
        max_length=16, choices=ArchiveState.choices, default=ArchiveState.PENDING
    )
    archive_attempts = models.PositiveSmallIntegerField(default=0)
    archive_next_at = models.DateTimeField(null=True, blank=True)
    archive_error = models.TextField(blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(max_length=255, blank=True)
    mime_type = models.CharField(max_length=64, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    thumb = models.FileField(max_length=255, blank=True)  # WebP for the grid
    thumb_large = models.FileField(max_length=255, blank=True)  # WebP for the detail page
    poster = models.FileField(max_length=255, blank=True)  # videos: a frame, WebP
    preview = models.FileField(max_length=255, blank=True)  # videos: short, small, muted MP4

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "index"], name="output_per_index")
        ]
        indexes = [
            models.Index(
                fields=["archive_next_at"],
                name="output_unarchived",
                condition=Q(archive_state="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.index} of {self.generation.uuid}"

    @property
    def is_video(self) -> bool:
        return self.kind == "video"

    @property
    def is_archived(self) -> bool:
        return self.archive_state == ArchiveState.ARCHIVED

    @property
    def url_is_fresh(self) -> bool:
        """The presigned URL outlives a page showing it, by LUMAWEB_URL_SAFETY_MARGIN at least."""
        margin = timedelta(seconds=settings.LUMAWEB_URL_SAFETY_MARGIN)
        return self.url_expires_at > timezone.now() + margin

    @property
    def needs_refresh(self) -> bool:
        """Neither our copy nor a fresh presigned URL: a page must wait for a new one."""
        return not self.is_archived and not self.url_is_fresh

    def src(self, rendition: str = "original") -> str:
        """The address a page may use for this output, or "" when there is none safe to show.

        `rendition` is "thumb" (grid), "large" (detail page), "poster", "preview" or "original".
        Archived: our own copy (a missing rendition falls back to the original where that works).
        Not archived: the presigned URL while it is fresh, never one about to die.
        """
        if self.is_archived:
            chosen = {
                "thumb": self.thumb,
                "large": self.thumb_large,
                "poster": self.poster,
                "preview": self.preview,
                "original": self.file,
            }[rendition]
            if chosen.name:
                return media_url(chosen.name)
            still = rendition in ("poster", "thumb", "large")
            return "" if self.is_video and still else media_url(self.file.name)
        # Stills of a video exist only once archived; a presigned URL only while it is fresh.
        if not self.url_is_fresh or (self.is_video and rendition in ("poster", "thumb", "large")):
            return ""
        return self.url

    @property
    def stored_files(self) -> list[str]:
        return [name for field in OUTPUT_FILES if (name := getattr(self, field).name)]

    def claim_archive(self, lease: float) -> bool:
        """Take this output for archiving until `lease` seconds from now; one worker wins."""
        now = timezone.now()
        claimed = Output.objects.filter(
            Q(archive_next_at__isnull=True) | Q(archive_next_at__lte=now),
            pk=self.pk,
            archive_state=ArchiveState.PENDING,
        ).update(
            archive_next_at=now + timedelta(seconds=lease),
            archive_attempts=F("archive_attempts") + 1,
        )
        if claimed:
            self.refresh_from_db()
        return claimed == 1


class Star(models.Model):
    """One person's mark on a piece they like; the gallery can show only those."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stars"
    )
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="stars")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "generation"], name="one_star_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ★ {self.generation_id}"


def fold_name(name: str) -> str:
    """A board's name as names are compared: "éclair" is "Éclair", a fullwidth S an S. Folded
    here, not by the database, whose case folding may be ASCII's only (SQLite)."""
    return unicodedata.normalize("NFKC", name).casefold()


class Board(models.Model):
    """A named set of pieces the team shares: a project, a client, a campaign."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=80)
    # The name folded (fold_name), unique: two boards whose names differ only in case or width
    # could not be told apart where pieces are put on them, even when made at the same instant.
    folded_name = models.TextField(unique=True, editable=False)
    archived = models.BooleanField(default=False)
    # Shown on the list of boards; without one, the board's newest piece stands in.
    cover = models.ForeignKey(
        Generation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="boards"
    )
    created_at = models.DateTimeField(default=timezone.now)
    pieces = models.ManyToManyField(Generation, through="BoardPiece", related_name="boards")

    class Meta:
        ordering = ["archived", "name", "id"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.folded_name = fold_name(self.name)
        if (fields := kwargs.get("update_fields")) is not None and "name" in fields:
            kwargs["update_fields"] = {*fields, "folded_name"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("board", args=[self.uuid])

    def add(self, generations: Any, user: Any) -> int:
        """Put pieces on the board (those already there stay as they were); how many were new."""
        present = set(self.entries.values_list("generation_id", flat=True))
        new = [
            BoardPiece(board=self, generation=g, added_by=user)
            for g in generations
            if g.pk not in present
        ]
        BoardPiece.objects.bulk_create(new, ignore_conflicts=True)
        return len(new)

    def remove(self, generations: Any) -> int:
        """Take pieces off the board (they stay in the gallery); how many were on it."""
        removed, _ = self.entries.filter(generation__in=generations).delete()
        Board.objects.filter(pk=self.pk, cover__in=generations).update(cover=None)
        return removed

    def can_edit(self, user: Any) -> bool:
        """Renaming and archiving: whoever made the board, or staff. Anyone adds and removes."""
        return bool(user.is_staff or self.created_by_id == user.pk)


class BoardPiece(models.Model):
    """One piece on one board: who put it there, and when."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="entries")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="+")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["board", "generation"], name="one_entry_per_piece")
        ]

    def __str__(self) -> str:
        return f"{self.generation_id} on {self.board_id}"


class Price(models.Model):
    """What one job of a provider, model and kind is estimated to cost, in US cents.

    A blank option matches any value; the most specific row wins (generations/spend.py).
    Luma publishes no prices for every model, so the seeded rows are estimates to correct here.
    """

    provider = models.CharField(max_length=24, default="agents")
    model = models.CharField(max_length=32)
    kind = models.CharField(max_length=16)
    resolution = models.CharField(max_length=16, blank=True, help_text="Blank: any resolution.")
    duration = models.CharField(max_length=16, blank=True, help_text="Blank: any duration.")
    cents = models.DecimalField(
        max_digits=10,
        decimal_places=3,
        validators=[MinValueValidator(0)],
        help_text="US cents per job (100 = $1).",
    )

    class Meta:
        ordering = ["provider", "model", "kind", "resolution", "duration"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "model", "kind", "resolution", "duration"],
                name="one_price_per_option",
            )
        ]

    def __str__(self) -> str:
        options = " ".join(o for o in (self.resolution, self.duration) if o)
        return f"{self.provider} {self.model} {self.kind} {options}".strip()


class PersonBudget(models.Model):
    """One person's monthly budget in US dollars, instead of LUMAWEB_PERSON_MONTHLY_BUDGET_USD."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="budget"
    )
    monthly_usd = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(0)],
        help_text="0: no limit.",
    )

    def __str__(self) -> str:
        return f"{self.user} ${self.monthly_usd}/month"


def input_path(instance: "Input", filename: str) -> str:
    return f"inputs/{instance.uuid}/{filename}"


class Input(models.Model):
    """A file someone uploaded for a job (a source, reference or frame), kept with its job.

    The bytes live in Django's storage, never as base64 in the database; `file_id` is the
    upstream Files API id once sent.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # A purged job leaves behind the inputs other jobs still use (their retries and remixes
    # refer to the same upstream file): those are kept, with no job (generations/trash.py).
    generation = models.ForeignKey(
        Generation, null=True, blank=True, on_delete=models.SET_NULL, related_name="inputs"
    )
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    role = models.CharField(max_length=24)
    file = models.FileField(upload_to=input_path, max_length=255)
    original_name = models.CharField(max_length=255)
    mime_type = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    file_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.role}: {self.original_name}"

    @staticmethod
    def made_by(user_id: int) -> Q:
        """Uploads that are this person's to send or reuse: theirs, or their jobs' own copies
        (a Remix copies a teammate's upload under the new job, its uploader kept)."""
        return Q(uploaded_by=user_id) | Q(generation__created_by=user_id)

    @property
    def placeholder(self) -> str:
        """What the stored request says until the upload has an upstream file id."""
        return f"{INPUT_PLACEHOLDER}{self.uuid}"

    @property
    def is_video(self) -> bool:
        return self.mime_type.startswith("video/")


INPUT_PLACEHOLDER = "lumaweb-input:"
# Failures whose words the studio writes itself (a cancel, a job the upstream forgot, an answer
# it could not read), not an upstream's.
STUDIO_WORDS = frozenset(
    ("cancelled", "upstream_lost", "outcome_unknown", "output_not_found", "upload_refused")
)
# A reference a request stores as a plain string (the proxy dialect's image fields).
_REFERENCE_PREFIXES = {
    INPUT_PLACEHOLDER: "an upload",
    proxy_schema.PIECE_REFERENCE: "a piece from the gallery",
    "data:": "an inline image",
}


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    SUBMITTED = "submitted", "Accepted upstream"
    STATE = "state", "State change"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Outcome unknown"
    ERROR = "error", "Upstream error"
    ARCHIVE_FAILED = "archive_failed", "Archiving failed"
    RETRIED = "retried", "Retried"
    RETRY_REFUSED = "retry_refused", "Not retried automatically"
    REVIEWED = "reviewed", "Reviewed"
    REOPENED = "reopened", "Reopened"
    REFRESHED = "refreshed", "Refreshed from upstream"
    HOOK = "hook", "Notified by upstream"
    TRASHED = "trashed", "Moved to the trash"
    RESTORED = "restored", "Restored from the trash"


class GenerationEvent(models.Model):
    """The history of a job: every request, reply, state change and error."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    state = models.CharField(max_length=16, choices=State.choices)
    request_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%H:%M:%S}"


class UpstreamCallCount(models.Model):
    """Counts of calls to the upstream by endpoint and status, for /metrics."""

    endpoint = models.CharField(max_length=64)
    status = models.CharField(max_length=16)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "status"], name="one_count_per_call")
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.status}: {self.count}"

    @classmethod
    def record(cls, endpoint: str, status: str) -> None:
        updated = cls.objects.filter(endpoint=endpoint, status=status).update(count=F("count") + 1)
        if not updated:
            obj, created = cls.objects.get_or_create(
                endpoint=endpoint, status=status, defaults={"count": 1}
            )
            if not created:
                cls.objects.filter(pk=obj.pk).update(count=F("count") + 1)


class WorkerHeartbeat(models.Model):
    """A running worker says it is alive; /healthz reads this."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    # The task queues it takes work from, separated by commas (`run_worker --queues` writes
    # them). A row written by a worker from before there were queues took "default" only.
    queues = models.CharField(max_length=255, db_default="default")
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.worker_id} seen {self.seen_at:%H:%M:%S}"

    @classmethod
    def alive(cls) -> "models.QuerySet[WorkerHeartbeat]":
        cutoff = timezone.now() - timedelta(seconds=settings.LUMAWEB_WORKER_HEARTBEAT_TIMEOUT)
        return cls.objects.filter(seen_at__gte=cutoff)

    @classmethod
    def queues_unserved(cls) -> list[str]:
        """The task queues no live worker takes work from, in settings' order."""
        served = {q for row in cls.alive().values_list("queues", flat=True) for q in row.split(",")}
        return [queue for queue in settings.TASK_QUEUES if queue not in served]


class AccessTokenQuerySet(models.QuerySet["AccessToken"]):
    def active(self) -> "AccessTokenQuerySet":
        return self.filter(revoked_at__isnull=True)


class AccessToken(models.Model):
    """A person's personal access token for the MCP endpoint (generations/mcp/), never a login.

    The token is shown once when made; only its SHA-256 digest is kept (it is 256 random bits,
    so a slow password hash would add nothing but a cost on every call). `key_id`, the public
    part of the token, finds the row; the digests are compared in constant time.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens"
    )
    name = models.CharField(max_length=80)
    key_id = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = AccessTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def shown_as(self) -> str:
        """How the token is recognised once its secret is gone: its public start."""
        return f"{TOKEN_PREFIX}{self.key_id}_…"

    def revoke(self, by: Any) -> bool:
        """Stop the token working; whoever revokes it first is recorded."""
        done = AccessToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=by
        )
        if done:
            self.refresh_from_db()
        return done == 1


TOKEN_PREFIX = "lwmcp_"  # noqa: S105 (not a secret: the public start of every token)


class ProviderBalance(models.Model):
    """An upstream account's balance as last read (generations/credits.py), in US cents."""

    provider = models.CharField(max_length=24, unique=True)
    cents = models.FloatField()
    read_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.provider}: {self.cents:.0f}¢"

    @property
    def label(self) -> str:
        return providers.label(self.provider)

    @property
    def dollars(self) -> str:
        return f"${self.cents / 100:,.2f}"

    @property
    def is_low(self) -> bool:
        return self.cents < settings.LUMAWEB_CREDITS_FLOOR


class BalanceReading(models.Model):
    """Every balance the worker reads (generations/credits.py), kept so that the balance's fall
    over a period can be set against the estimated spend of the same period (the drift)."""

    provider = models.CharField(max_length=24)
    cents = models.FloatField()
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["provider", "read_at"], name="balance_reading_at")]

    def __str__(self) -> str:
        return f"{self.provider}: {self.cents:.0f}¢ at {self.read_at:%Y-%m-%d %H:%M}"
