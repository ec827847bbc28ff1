"""The team's generation history: every job, its outputs and every event, kept forever.

A Generation moves through one state machine. Each transition is a conditional UPDATE, so a late
or duplicated poll can never move a finished job backwards and two workers can never both submit
the same job.
"""

import json
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from generations.explanations import Explanation, explain
from generations.luma import schema


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


class Lineage(models.TextChoices):
    REMIX = "remix", "Remix of"
    EDIT = "edit", "Edit of"
    ANIMATE = "animate", "Animated from"
    EXTEND = "extend", "Extension of"
    REFRAME = "reframe", "Reframe of"
    LAYERS = "layers", "Layers of"
    RETRY = "retry", "Retry of"


class GenerationQuerySet(models.QuerySet["Generation"]):
    def active(self) -> "GenerationQuerySet":
        return self.filter(state__in=ACTIVE_STATES)

    def gallery(self) -> "GenerationQuerySet":
        return self.select_related("created_by").prefetch_related("outputs")


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
    # One token per submitted form: a double click or a browser retry finds the first job.
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, blank=True)

    kind = models.CharField(max_length=16, choices=[(t, t) for t in schema.GENERATION_TYPES])
    model = models.CharField(max_length=32)
    prompt = models.TextField()
    aspect_ratio = models.CharField(max_length=8, blank=True)
    # The request body exactly as sent upstream (inline media replaced by stored references).
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

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="gen_newest"),
            models.Index(fields=["created_by", "-created_at", "-id"], name="gen_by_person"),
            models.Index(fields=["kind", "-created_at", "-id"], name="gen_by_kind"),
            models.Index(fields=["state", "-created_at", "-id"], name="gen_by_state"),
            models.Index(
                fields=["next_poll_at"],
                name="gen_unfinished",
                condition=Q(state__in=["draft", "submitting", "queued", "processing"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.uuid}: {self.prompt[:40]}"

    def get_absolute_url(self) -> str:
        return reverse("generation-detail", args=[self.uuid])

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def explanation(self) -> Explanation:
        return explain(self.failure_code)

    @property
    def parameters(self) -> list[tuple[str, str]]:
        """The request's settings in human terms, for the detail page."""
        shown = {"prompt", "type", "model", "user_id"}
        return [
            (name.replace("_", " ").capitalize(), _human(value))
            for name, value in self.request.items()
            if name not in shown
        ]

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

    def mark_submitted(self, reply: schema.Generation, request_id: str) -> bool:
        """Record the upstream's acceptance of the job."""
        now = timezone.now()
        if not self._transition(
            [State.SUBMITTING],
            upstream_id=reply.id,
            state=State.QUEUED,
            last_request_id=request_id,
            next_poll_at=now + timedelta(seconds=settings.POLL_INTERVAL),
        ):
            return False
        self.log(EventKind.SUBMITTED, request_id=request_id, data=reply.model_dump(mode="json"))
        self.apply_upstream(reply, request_id)
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

    def mark_failed(self, code: str, reason: str, request_id: str = "") -> bool:
        """Finish the job as failed, from any unfinished state."""
        done = self._transition(
            ACTIVE_STATES,
            state=State.FAILED,
            failure_code=code,
            failure_reason=reason,
            finished_at=timezone.now(),
        )
        if done:
            self.log(EventKind.FAILED, request_id=request_id, data={"code": code, "reason": reason})
        return done

    def apply_upstream(self, reply: schema.Generation, request_id: str = "") -> bool:
        """Move to the state an upstream reply reports, never backwards; keep its outputs."""
        new_state = State(reply.state)
        lower = [s for s, rank in STATE_RANK.items() if rank < STATE_RANK[new_state]]
        now = timezone.now()
        changes: dict[str, Any] = {"state": new_state, "upstream": reply.model_dump(mode="json")}
        if new_state == State.PROCESSING:
            changes["started_at"] = now
        if new_state in TERMINAL_STATES:
            changes["finished_at"] = now
            changes["next_poll_at"] = None
        if new_state == State.FAILED:
            changes["failure_code"] = reply.failure_code or "generation_failed"
            changes["failure_reason"] = reply.failure_reason or ""
        if not self._transition([s for s in lower if s != State.DRAFT], **changes):
            return False
        if new_state == State.COMPLETED:
            self.store_outputs(reply)
        self.log(EventKind.STATE, request_id=request_id, data=reply.model_dump(mode="json"))
        return True

    def store_outputs(self, reply: schema.Generation) -> None:
        """Save (or refresh) the presigned output URLs of a completed reply."""
        expires = timezone.now() + timedelta(seconds=settings.OUTPUT_URL_TTL)
        for index, output in enumerate(reply.output):
            Output.objects.update_or_create(
                generation=self,
                index=index,
                defaults={
                    "kind": output.type,
                    "url": output.url,
                    "url_expires_at": expires,
                    "layer": output.layer.model_dump(mode="json") if output.layer else None,
                },
            )

    def claim_poll(self, interval: float) -> bool:
        """Reserve the next poll; a duplicate poller finds nothing due and stops."""
        now = timezone.now()
        # RQ's scheduler keeps whole seconds, so a poll may start up to a second early.
        early = timedelta(seconds=min(1.0, interval / 2))
        return (
            Generation.objects.filter(
                pk=self.pk, state__in=UPSTREAM_ACTIVE_STATES, next_poll_at__lte=now + early
            ).update(
                next_poll_at=now + timedelta(seconds=interval),
                last_polled_at=now,
                poll_count=F("poll_count") + 1,
            )
            == 1
        )

    def log(self, kind: str, *, request_id: str = "", data: Any = None) -> None:
        GenerationEvent.objects.create(
            generation=self, kind=kind, state=self.state, request_id=request_id, data=data
        )


def _human(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {_human(v)}" for k, v in value.items())
    if isinstance(value, list):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    return str(value)


class Output(models.Model):
    """One output of a completed job: an image, a video, or one layer."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="outputs")
    index = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16)
    url = models.TextField()
    url_expires_at = models.DateTimeField()
    layer = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "index"], name="output_per_index")
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.index} of {self.generation.uuid}"

    @property
    def is_video(self) -> bool:
        return self.kind == "video"


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    SUBMITTED = "submitted", "Accepted upstream"
    STATE = "state", "State change"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Outcome unknown"
    ERROR = "error", "Upstream error"


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
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.worker_id} seen {self.seen_at:%H:%M:%S}"

    @classmethod
    def alive(cls) -> "models.QuerySet[WorkerHeartbeat]":
        cutoff = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_TIMEOUT)
        return cls.objects.filter(seen_at__gte=cutoff)
