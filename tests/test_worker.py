"""Background work end to end: the real database worker, the tasks, the simulator over HTTP."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generations.models import EventKind, Generation, State, UpstreamCallCount
from generations.providers.agents import schema
from generations.simulators.models import SimGeneration
from generations.submission import upstream_user_id
from generations.tasks import poll_interval, start_generation, sweep
from tests.conftest import terminal
from tests.factories import drop_queued_tasks, nothing_queued, sim_fault

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def start(user, prompt: str = "a quiet harbour at dawn", **fields: object) -> Generation:
    generation, created = start_generation(user, schema.GenerationRequest(prompt=prompt, **fields))
    assert created
    return generation


def test_a_job_is_sent_polled_and_completed_by_the_worker(owner, run_worker, sim_clock) -> None:
    generation = start(owner, aspect_ratio="3:2")
    # Upstream time stands still: the job is sent, then polled while Luma still has it queued.
    run_worker(lambda: Generation.objects.get(pk=generation.pk).poll_count >= 1)
    generation.refresh_from_db()
    assert generation.state == State.QUEUED
    sim_clock.advance(60)
    run_worker(terminal(generation))
    assert generation.state == State.COMPLETED
    [output] = generation.outputs.all()
    assert output.kind == "image"
    assert output.url_expires_at > timezone.now() + timedelta(minutes=59)
    sent = SimGeneration.objects.get(pk=generation.upstream_id)
    assert sent.request == {
        "prompt": "a quiet harbour at dawn",
        "type": "image",
        "model": "uni-1",
        "aspect_ratio": "3:2",
        "user_id": upstream_user_id(owner),
    }
    assert generation.request == sent.request
    calls = dict(UpstreamCallCount.objects.values_list("endpoint", "count").filter(status="ok"))
    assert calls["POST /generations"] == 1
    assert calls["GET /generations/{id}"] == generation.poll_count


def test_the_user_id_sent_upstream_is_opaque_and_stable(owner, teammate) -> None:
    first = upstream_user_id(owner)
    assert first == upstream_user_id(owner)
    assert first != upstream_user_id(teammate)
    assert owner.username not in first
    assert owner.email not in first


def test_a_moderated_job_fails_with_its_code_and_reason(owner, run_worker) -> None:
    generation = start(owner, prompt="something forbidden [fail:content_moderated]")
    run_worker(terminal(generation))
    assert generation.state == State.FAILED
    assert generation.failure_code == "content_moderated"
    assert "moderation" in generation.failure_reason


def test_an_upstream_refusal_fails_the_job_plainly_without_retrying(owner, run_worker) -> None:
    generation = start(owner, prompt="wide", type="video", model="ray-3.2", aspect_ratio="3:1")
    run_worker(terminal(generation))
    assert generation.state == State.FAILED
    assert generation.failure_code == "invalid_request"
    assert "not available on ray-3.2" in generation.failure_reason
    assert not SimGeneration.objects.exists()
    assert generation.events.filter(kind=EventKind.ERROR).count() == 1


def test_a_submit_refused_with_503_is_retried_and_creates_one_upstream_job(
    owner, run_worker
) -> None:
    sim_fault("503", remaining=4, method="POST", path="/generations")
    generation = start(owner)
    run_worker(terminal(generation))
    assert generation.state == State.COMPLETED
    assert SimGeneration.objects.count() == 1


def test_a_submit_with_an_unknown_outcome_is_held_and_never_resent(owner, run_worker) -> None:
    sim_fault("502", method="POST", path="/generations", after=True)
    generation = start(owner)
    run_worker(terminal(generation))
    assert generation.state == State.UNKNOWN
    assert generation.failure_code == "outcome_unknown"
    assert SimGeneration.objects.count() == 1
    sweep(timezone.now() + timedelta(hours=1))
    run_worker(nothing_queued)
    generation.refresh_from_db()
    assert generation.state == State.UNKNOWN
    assert SimGeneration.objects.count() == 1


def test_poll_errors_are_survived(owner, run_worker) -> None:
    sim_fault("500", remaining=6, method="GET")
    generation = start(owner)
    run_worker(terminal(generation))
    assert generation.state == State.COMPLETED
    assert generation.events.filter(kind=EventKind.ERROR).exists()


def test_a_job_upstream_forgot_fails_as_lost(owner, run_worker) -> None:
    generation = start(owner, prompt="slow [stuck]")
    run_worker(lambda: Generation.objects.get(pk=generation.pk).state == State.PROCESSING)
    SimGeneration.objects.all().delete()
    run_worker(terminal(generation))
    assert generation.failure_code == "upstream_lost"


def test_the_sweep_picks_up_an_orphaned_job(owner, run_worker) -> None:
    generation = start(owner, prompt="orphan [stuck]")
    run_worker(lambda: Generation.objects.get(pk=generation.pk).state == State.PROCESSING)
    # The worker dies: its queued polls are lost, and the job's next poll is long overdue.
    drop_queued_tasks()
    long_ago = timezone.now() - timedelta(minutes=10)
    Generation.objects.filter(pk=generation.pk).update(next_poll_at=long_ago)
    generation.refresh_from_db()
    assert SimGeneration.objects.filter(pk=generation.upstream_id).update(outcome="completed")
    found = sweep()
    assert found["polls"] == 1
    assert sweep()["polls"] == 0, "a second sweep must not enqueue the same job again"
    run_worker(terminal(generation))
    assert generation.state == State.COMPLETED


def test_the_sweep_sends_a_draft_nobody_enqueued(owner, run_worker) -> None:
    request = schema.GenerationRequest(prompt="forgotten")
    generation = Generation.objects.create(
        created_by=owner,
        kind="image",
        model="uni-1",
        prompt="forgotten",
        request=request.to_wire(),
        created_at=timezone.now() - timedelta(minutes=5),
    )
    assert sweep()["drafts"] == 1
    run_worker(terminal(generation))
    assert generation.state == State.COMPLETED


def test_the_sweep_marks_a_job_stuck_while_sending_as_unknown(owner) -> None:
    generation = start(owner)
    assert generation.claim_for_submit()
    Generation.objects.filter(pk=generation.pk).update(
        submitted_at=timezone.now() - timedelta(hours=1)
    )
    assert sweep()["unknown"] == 1
    generation.refresh_from_db()
    assert generation.state == State.UNKNOWN


def test_polling_backs_off_for_long_jobs(owner, settings) -> None:
    settings.LUMAWEB_POLL_INTERVAL = 2.0
    settings.LUMAWEB_POLL_INTERVAL_MAX = 10.0
    settings.LUMAWEB_POLL_BACKOFF_AFTER = 60.0
    generation = start(owner)
    now = generation.created_at
    assert poll_interval(generation, now + timedelta(seconds=30)) == 2.0
    assert poll_interval(generation, now + timedelta(seconds=120)) == pytest.approx(4.0)
    assert poll_interval(generation, now + timedelta(hours=1)) == 10.0
    # Found from outside (a creative): a job still running 17 hours on overflowed the doubling,
    # and its every poll (the sweep's, Review's Refresh) failed in the worker, for good.
    assert poll_interval(generation, now + timedelta(days=9)) == 10.0


def test_a_repeated_idempotency_key_finds_the_first_job(owner) -> None:
    request = schema.GenerationRequest(prompt="once")
    first, created = start_generation(owner, request, idempotency_key="k-1")
    again, created_again = start_generation(owner, request, idempotency_key="k-1")
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert Generation.objects.count() == 1
