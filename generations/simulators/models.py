"""The simulator's own state, in the database so that it survives restarts and spans processes."""

import uuid
from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone


class SimGeneration(models.Model):
    """A simulated job; its state is a function of the clock and its planned timings."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    type = models.CharField(max_length=16)
    model = models.CharField(max_length=16)
    request = models.JSONField()
    queued_seconds = models.FloatField()
    processing_seconds = models.FloatField()
    # What the job will end as: completed, failed, or stuck (processing forever).
    outcome = models.CharField(max_length=16, default="completed")
    failure_code = models.CharField(max_length=32, blank=True)
    failure_reason = models.TextField(blank=True)
    # Length of the output video, so that chained video edits can be checked against 18 s.
    video_seconds = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return f"sim {self.type} {self.id}"

    def state_at(self, now: datetime) -> str:
        elapsed = (now - self.created_at).total_seconds()
        if elapsed < self.queued_seconds:
            return "queued"
        if elapsed < self.queued_seconds + self.processing_seconds or self.outcome == "stuck":
            return "processing"
        return self.outcome

    @property
    def finishes_at(self) -> datetime:
        return self.created_at + timedelta(seconds=self.queued_seconds + self.processing_seconds)


class SimOutput(models.Model):
    """A rendered output file of a completed simulated job."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    generation = models.ForeignKey(SimGeneration, on_delete=models.CASCADE, related_name="outputs")
    index = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16)
    mime_type = models.CharField(max_length=64)
    filename = models.CharField(max_length=64)
    layer = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "index"], name="sim_output_per_index")
        ]

    def __str__(self) -> str:
        return self.filename


class SimFile(models.Model):
    """A file uploaded through the simulated Files API."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    mime_type = models.CharField(max_length=127)
    size_bytes = models.BigIntegerField()
    filename = models.CharField(max_length=255, blank=True)
    purpose = models.CharField(max_length=16, default="input")
    user_id = models.CharField(max_length=256, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Set once the bytes are in: ingest finishes (ready or failed) at ready_at.
    uploaded = models.BooleanField(default=False)
    ready_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)
    video_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"sim file {self.id}"

    def state_at(self, now: datetime) -> str:
        if self.deleted_at:
            return "deleted"
        if not self.uploaded or self.ready_at is None or now < self.ready_at:
            return "pending"
        return "failed" if self.failure_reason else "ready"


class SimFault(models.Model):
    """An injected fault: the next `remaining` matching calls misbehave as `kind` says."""

    # The customer (a hash of the bearer token) whose calls this fault strikes.
    owner = models.CharField(max_length=64, db_index=True, default="")
    kind = models.CharField(max_length=16)
    remaining = models.PositiveIntegerField(default=1)
    method = models.CharField(max_length=8, blank=True)
    path = models.CharField(max_length=128, blank=True)
    # Faults marked `after` strike once the call has done its work (the job exists).
    after = models.BooleanField(default=False)
    delay = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} x{self.remaining}"


class SimCall(models.Model):
    """One API call, kept for a minute for the requests-per-minute limit."""

    owner = models.CharField(max_length=64)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["owner", "at"], name="sim_call_window")]

    def __str__(self) -> str:
        return f"{self.owner[:8]} at {self.at}"


class DreamGeneration(models.Model):
    """A simulated Dream Machine job; like SimGeneration, its state follows the clock."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    generation_type = models.CharField(max_length=16)
    model = models.CharField(max_length=16, blank=True)
    request = models.JSONField()
    queued_seconds = models.FloatField()
    processing_seconds = models.FloatField()
    # completed, failed, or stuck (dreaming forever).
    outcome = models.CharField(max_length=16, default="completed")
    failure_reason = models.TextField(blank=True)
    # What the job costs in US cents, and whether a failure has given it back.
    cost = models.FloatField(default=0)
    refunded = models.BooleanField(default=False)
    # The rendered asset (a file in LUMA_SIM_DIR), once completed and asked for.
    asset = models.CharField(max_length=80, blank=True)
    # Long side in pixels of a video output, so that an upscale is really larger.
    long_side = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"dream {self.generation_type} {self.id}"

    def state_at(self, now: datetime) -> str:
        elapsed = (now - self.created_at).total_seconds()
        if elapsed < self.queued_seconds:
            return "queued"
        if elapsed < self.queued_seconds + self.processing_seconds or self.outcome == "stuck":
            return "dreaming"
        return self.outcome

    @property
    def dreaming_at(self) -> datetime:
        return self.created_at + timedelta(seconds=self.queued_seconds)

    @property
    def finishes_at(self) -> datetime:
        return self.created_at + timedelta(seconds=self.queued_seconds + self.processing_seconds)


class DreamAccount(models.Model):
    """A Dream Machine customer's credit, in US cents."""

    owner = models.CharField(max_length=64, unique=True)
    balance = models.FloatField()

    def __str__(self) -> str:
        return f"{self.owner[:8]}: {self.balance:.0f}¢"
