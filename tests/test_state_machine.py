"""The Generation state machine: transitions only move forward, and only one worker wins."""

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections
from django.utils import timezone

from generations.models import EventKind, Generation, State
from generations.providers.agents import schema
from generations.providers.agents.provider import as_job
from generations.providers.base import UpstreamJob
from generations.providers.http import Reply

pytestmark = pytest.mark.integration


def reply(state: str, request_id: str = "req-1", **extra: object) -> UpstreamJob:
    data = schema.Generation.model_validate(
        {
            "id": "5f0c7d2e-8a51-4c39-9a57-2f1d6f0b9e11",
            "created_at": "2026-11-21T10:00:00Z",
            "model": "uni-1",
            "type": "image",
            "state": state,
            **extra,
        }
    )
    return as_job(Reply(data, request_id))


COMPLETED = reply("completed", output=[{"type": "image", "url": "https://cdn.test/out.png"}])


@pytest.fixture
def job(owner) -> Generation:
    return Generation.objects.create(
        created_by=owner, kind="image", model="uni-1", prompt="a fox", request={"prompt": "a fox"}
    )


@pytest.fixture
def submitted(job: Generation) -> Generation:
    assert job.claim_for_submit()
    assert job.mark_submitted(reply("queued"))
    return job


def test_a_job_walks_the_happy_path(submitted: Generation) -> None:
    assert submitted.state == State.QUEUED
    assert submitted.upstream_id == "5f0c7d2e-8a51-4c39-9a57-2f1d6f0b9e11"
    assert submitted.apply_upstream(reply("processing"))
    assert submitted.state == State.PROCESSING
    assert submitted.started_at is not None
    assert submitted.apply_upstream(COMPLETED)
    assert submitted.state == State.COMPLETED
    assert submitted.finished_at is not None
    assert submitted.next_poll_at is None
    assert [o.url for o in submitted.outputs.all()] == ["https://cdn.test/out.png"]
    kinds = list(submitted.events.values_list("kind", flat=True))
    assert kinds == [EventKind.SUBMITTED, EventKind.STATE, EventKind.STATE]


def test_a_late_poll_never_moves_a_finished_job_backwards(submitted: Generation) -> None:
    assert submitted.apply_upstream(COMPLETED)
    assert not submitted.apply_upstream(reply("processing"))
    assert not submitted.apply_upstream(reply("queued"))
    submitted.refresh_from_db()
    assert submitted.state == State.COMPLETED


def test_an_out_of_order_reply_is_ignored(submitted: Generation) -> None:
    assert submitted.apply_upstream(reply("processing"))
    assert not submitted.apply_upstream(reply("queued"))
    assert Generation.objects.get(pk=submitted.pk).state == State.PROCESSING


def test_a_duplicate_poll_changes_nothing_and_logs_once(submitted: Generation) -> None:
    assert submitted.apply_upstream(COMPLETED)
    assert not submitted.apply_upstream(COMPLETED)
    assert submitted.events.filter(kind=EventKind.STATE).count() == 1
    assert submitted.outputs.count() == 1


def test_failed_replies_keep_code_and_reason(submitted: Generation) -> None:
    failed = reply("failed", failure_code="content_moderated", failure_reason="Flagged.")
    assert submitted.apply_upstream(failed)
    assert (submitted.state, submitted.failure_code) == (State.FAILED, "content_moderated")
    assert submitted.failure_reason == "Flagged."
    assert submitted.explanation.title == "Blocked by content moderation"
    assert not submitted.apply_upstream(COMPLETED)


def test_a_job_can_be_claimed_for_submission_only_once(job: Generation) -> None:
    assert job.claim_for_submit()
    again = Generation.objects.get(pk=job.pk)
    assert not again.claim_for_submit()


def test_outcome_unknown_only_from_submitting(job: Generation) -> None:
    assert not job.mark_outcome_unknown("lost")
    assert job.claim_for_submit()
    assert job.mark_outcome_unknown("lost", "req-9")
    assert job.state == State.UNKNOWN
    assert job.failure_code == "outcome_unknown"
    assert not job.mark_failed("generation_failed", "late")


def test_a_due_poll_is_claimed_once(submitted: Generation) -> None:
    due = timezone.now()
    Generation.objects.filter(pk=submitted.pk).update(next_poll_at=due)
    assert submitted.claim_poll(due, 2.0)
    assert not submitted.claim_poll(due, 2.0)
    submitted.refresh_from_db()
    assert submitted.poll_count == 1
    assert submitted.next_poll_at > timezone.now() + timedelta(seconds=1)


def test_a_late_poll_keeps_the_cadence_and_a_long_outage_does_not_bring_a_burst(
    submitted: Generation,
) -> None:
    # The worker took the poll 0.3 s late (its queue check, a busy moment): the next poll stays
    # an interval after the one that was due, so the lateness never adds up poll after poll.
    due = timezone.now() - timedelta(seconds=0.3)
    Generation.objects.filter(pk=submitted.pk).update(next_poll_at=due)
    assert submitted.claim_poll(due, 10.0)
    submitted.refresh_from_db()
    assert submitted.next_poll_at == due + timedelta(seconds=10)
    # Down for a minute: one poll now, the next an interval later, not thirty to catch up.
    due = timezone.now() - timedelta(seconds=60)
    Generation.objects.filter(pk=submitted.pk).update(next_poll_at=due)
    before = timezone.now()
    assert submitted.claim_poll(due, 2.0)
    submitted.refresh_from_db()
    assert submitted.next_poll_at >= before + timedelta(seconds=2)


def test_a_poll_for_another_time_or_a_finished_job_is_not_claimed(submitted: Generation) -> None:
    due = timezone.now()
    Generation.objects.filter(pk=submitted.pk).update(next_poll_at=due)
    assert not submitted.claim_poll(due - timedelta(seconds=5), 2.0)  # superseded
    assert submitted.apply_upstream(COMPLETED)
    assert not submitted.claim_poll(due, 2.0)  # nothing to poll any more
    assert Generation.objects.get(pk=submitted.pk).poll_count == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_submitters_never_both_win(owner) -> None:
    job = Generation.objects.create(
        created_by=owner, kind="image", model="uni-1", prompt="race", request={"prompt": "race"}
    )
    barrier = threading.Barrier(8)
    wins: list[bool] = []

    def contend() -> None:
        try:
            mine = Generation.objects.get(pk=job.pk)
            barrier.wait()
            wins.append(mine.claim_for_submit())
        finally:
            close_old_connections()

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 1
    assert len(wins) == 8
