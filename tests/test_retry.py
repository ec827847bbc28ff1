"""Retries: the automatic policy (which codes, how often, with lineage) and retries by hand.

Failures come from the simulator: prompt directives for jobs that fail upstream, queued faults
for refusals before a job is accepted. The real database worker runs everything.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from generations import retry, tasks
from generations.explanations import EXPLANATIONS, explain
from generations.models import EventKind, Generation, Lineage, State
from generations.providers.agents import schema
from generations.simulators.models import SimGeneration
from generations.submission import SubmissionRefused
from generations.tasks import start_generation, sweep
from tests.conftest import terminal
from tests.factories import sim_fault

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TRANSIENT = ["generation_failed", "output_not_found", "rate_limited"]
NEVER_RETRIED = [
    "content_moderated",
    "budget_exhausted",
    "invalid_request",
    "corrupt_input",
    "unsupported_format",
    "image_too_large",
]


@pytest.fixture(autouse=True)
def quick_retries(settings) -> None:
    settings.LUMAWEB_AUTO_RETRY_MAX = 2
    settings.LUMAWEB_AUTO_RETRY_BACKOFF = 0.01


def start(user, prompt: str) -> Generation:
    generation, created = start_generation(user, schema.GenerationRequest(prompt=prompt))
    assert created
    return generation


def idle() -> bool:
    """Nothing is left for the worker to do now (deferred tasks excluded)."""
    return not DBTaskResult.objects.ready().exists()


def chain_of(first: Generation) -> list[Generation]:
    """The job and its retries, oldest first, following `retried_as`."""
    chain = [Generation.objects.get(pk=first.pk)]
    while chain[-1].retried_as_id:
        chain.append(Generation.objects.get(pk=chain[-1].retried_as_id))
    return chain


def chain_finished(first: Generation, length: int):  # type: ignore[no-untyped-def]
    def check() -> bool:
        chain = chain_of(first)
        return len(chain) == length and all(g.is_terminal for g in chain)

    return check


@pytest.mark.parametrize("code", TRANSIENT)
def test_a_transient_failure_is_retried_automatically_up_to_the_cap(
    owner, run_worker, code: str
) -> None:
    original = start(owner, f"a harbour [fail:{code}]")
    run_worker(chain_finished(original, 3))
    run_worker(idle)
    chain = chain_of(original)
    assert Generation.objects.count() == 3, "two automatic retries, then no more"
    assert [g.state for g in chain] == [State.FAILED] * 3
    assert [g.failure_code for g in chain] == [code] * 3
    assert [g.auto_retry for g in chain] == [0, 1, 2]
    assert [g.parent_id for g in chain] == [None, chain[0].pk, chain[1].pk]
    assert [g.lineage for g in chain] == ["", Lineage.RETRY, Lineage.RETRY]
    assert chain[1].request == chain[0].request
    assert SimGeneration.objects.count() == 3
    retried = chain[0].events.get(kind=EventKind.RETRIED).data
    assert retried["retry"] == str(chain[1].uuid)
    assert retried["automatic"] is True
    assert retried["attempt"] == 1


def test_automatic_retries_count_against_nobody_s_limits(owner, run_worker, settings) -> None:
    settings.LUMAWEB_SUBMIT_PER_MINUTE = 2
    settings.LUMAWEB_DAILY_JOB_BUDGET = 2
    original = start(owner, "a harbour [fail:generation_failed]")
    run_worker(chain_finished(original, 3))
    assert Generation.objects.filter(created_by=owner).count() == 3
    # One job was pressed for, two were the policy's: the person still has one of each limit.
    _, created = start_generation(
        owner, schema.GenerationRequest(prompt="once more"), check_limits=True
    )
    assert created
    with pytest.raises(SubmissionRefused):
        start_generation(owner, schema.GenerationRequest(prompt="too many"), check_limits=True)


@pytest.mark.parametrize("code", [*NEVER_RETRIED, "some_new_code"])
def test_a_failure_that_cannot_pass_is_never_retried_automatically(
    owner, run_worker, code: str
) -> None:
    original = start(owner, f"a harbour [fail:{code}]")
    run_worker(terminal(original))
    run_worker(idle)
    assert original.state == State.FAILED
    assert original.failure_code == code
    assert original.retried_as is None
    assert Generation.objects.count() == 1
    assert SimGeneration.objects.count() == 1


def test_a_moderated_job_is_never_retried_even_with_a_generous_policy(
    owner, run_worker, settings
) -> None:
    settings.LUMAWEB_AUTO_RETRY_MAX = 10
    original = start(owner, "something forbidden [fail:content_moderated]")
    run_worker(terminal(original))
    run_worker(idle)
    assert tasks.after_failure(original) is None, "not even when asked directly"
    assert Generation.objects.count() == 1
    assert not original.events.filter(kind=EventKind.RETRIED).exists()


def test_the_cap_is_configurable(owner, run_worker, settings) -> None:
    settings.LUMAWEB_AUTO_RETRY_MAX = 0
    original = start(owner, "a harbour [fail:generation_failed]")
    run_worker(terminal(original))
    run_worker(idle)
    assert Generation.objects.count() == 1


def test_a_refusal_before_acceptance_is_retried_and_the_retry_succeeds(
    owner, run_worker, settings
) -> None:
    settings.LUMA_MAX_RETRIES = 0  # one HTTP call per submission attempt
    # Five 503s: every in-task attempt at sending the original is refused, nothing is created.
    sim_fault("503", remaining=5, method="POST", path="/generations")
    original = start(owner, "a quiet harbour")
    run_worker(chain_finished(original, 2))
    original, again = chain_of(original)
    assert original.state == State.FAILED
    assert original.failure_code == "upstream_unavailable"
    assert again.state == State.COMPLETED
    assert again.auto_retry == 1
    assert SimGeneration.objects.count() == 1, "one job upstream: nothing was paid twice"


def test_an_unknown_outcome_is_never_retried_automatically(owner, run_worker) -> None:
    sim_fault("502", method="POST", path="/generations", after=True)
    original = start(owner, "a quiet harbour")
    run_worker(terminal(original))
    run_worker(idle)
    assert original.state == State.UNKNOWN
    assert tasks.after_failure(original) is None
    assert Generation.objects.count() == 1
    assert SimGeneration.objects.count() == 1


def test_an_automatic_retry_waits_its_backoff(owner, run_worker, settings) -> None:
    settings.LUMAWEB_AUTO_RETRY_BACKOFF = 600
    original = start(owner, "a harbour [fail:generation_failed]")
    run_worker(terminal(original))
    run_worker(idle)
    scheduled = Generation.objects.get(pk=original.retried_as_id)
    assert scheduled.state == State.DRAFT, "not sent before its time"
    wait = (scheduled.submit_after - original.finished_at).total_seconds()
    assert 599 < wait < 610
    [deferred] = [
        task
        for task in DBTaskResult.objects.filter(task_path__endswith=".submit_generation")
        if task.args_kwargs["args"] == [str(scheduled.uuid)]
    ]
    assert deferred.status == "READY"
    assert deferred.run_after == scheduled.submit_after
    # The sweep leaves a deferred retry alone until it is overdue.
    assert sweep(timezone.now() + timedelta(seconds=60))["drafts"] == 0
    assert sweep(scheduled.submit_after + timedelta(minutes=5))["drafts"] == 1


def test_the_backoff_doubles_and_honours_the_upstreams_wait(settings) -> None:
    settings.LUMAWEB_AUTO_RETRY_BACKOFF = 30
    assert [retry.backoff(n) for n in (1, 2, 3)] == [30, 60, 120]
    assert retry.backoff(1, wait=45) == 45
    assert retry.backoff(2, wait=5) == 60


def test_the_submitters_card_says_a_retry_is_on_its_way(
    owner, owner_client: Client, run_worker, settings
) -> None:
    settings.LUMAWEB_AUTO_RETRY_BACKOFF = 600
    original = start(owner, "a harbour [fail:generation_failed]")
    run_worker(terminal(original))
    html = owner_client.get(f"/g/{original.uuid}/card").content.decode()
    assert "The model failed this time" in html
    assert "Retrying automatically (1 of 2)" in html
    assert f'href="/g/{original.retried_as.uuid}/"' in html
    assert "generation_failed" not in html.replace("[fail:generation_failed]", "")


def test_an_admin_retry_is_linked_and_marks_the_original_reviewed(owner, staff, run_worker) -> None:
    sim_fault("402", method="POST", path="/generations")
    original = start(owner, "a quiet harbour")
    run_worker(terminal(original))
    assert original.failure_code == "budget_exhausted"
    again, created = tasks.retry_now(original, staff)
    assert created
    run_worker(terminal(again))
    original.refresh_from_db()
    assert again.state == State.COMPLETED
    assert (again.parent, again.lineage, again.auto_retry) == (original, Lineage.RETRY, 0)
    assert again.created_by == owner, "the retry stays the submitter's job"
    assert original.retried_as == again
    assert original.reviewed_by == staff
    # The link is `retried_as`, shown beside the note (which once repeated its raw id).
    assert original.review_note == "Retried."
    assert original.events.get(kind=EventKind.RETRIED).data["by"] == staff.username


def test_a_double_click_on_retry_makes_one_retry(owner, staff, run_worker) -> None:
    original = start(owner, "a harbour [fail:invalid_request]")
    run_worker(terminal(original))
    first, created = tasks.retry_now(original, staff)
    second, created_again = tasks.retry_now(Generation.objects.get(pk=original.pk), staff)
    assert created
    assert not created_again
    assert second == first
    assert Generation.objects.count() == 2


def test_retrying_a_retry_continues_the_chain(owner, staff, run_worker, settings) -> None:
    settings.LUMAWEB_AUTO_RETRY_MAX = 0
    original = start(owner, "a harbour [fail:generation_failed]")
    run_worker(terminal(original))
    first, _ = tasks.retry_now(original, staff)
    run_worker(terminal(first))
    second, created = tasks.retry_now(first, staff)
    assert created
    assert [g.pk for g in chain_of(original)] == [original.pk, first.pk, second.pk]


@pytest.mark.parametrize("state", [State.COMPLETED, State.PROCESSING])
def test_only_failed_unknown_or_stuck_jobs_can_be_retried(owner, staff, state: str) -> None:
    generation = Generation.objects.create(
        created_by=owner, kind="image", model="uni-1", prompt="p", request={"prompt": "p"}
    )
    Generation.objects.filter(pk=generation.pk).update(state=state)
    generation.refresh_from_db()
    with pytest.raises(retry.NotRetryable):
        tasks.retry_now(generation, staff)
    assert Generation.objects.count() == 1


def test_a_stuck_job_can_be_retried(owner, staff, settings) -> None:
    settings.LUMAWEB_STUCK_AFTER = 60
    generation = Generation.objects.create(
        created_by=owner,
        kind="image",
        model="uni-1",
        prompt="p",
        request={"prompt": "p"},
        state=State.PROCESSING,
        created_at=timezone.now() - timedelta(minutes=5),
    )
    assert generation.is_stuck
    assert list(Generation.objects.stuck()) == [generation]
    again, created = tasks.retry_now(generation, staff)
    assert created
    assert again.parent == generation


# --- what the submitter reads ---

ALL_CODES = [
    *TRANSIENT,
    *NEVER_RETRIED,
    "outcome_unknown",
    "archive_failed",
    "upload_refused",
    "upstream_unavailable",
    "upstream_refused",
    "upstream_lost",
]


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_failure_code_has_a_plain_explanation_and_a_fix(code: str) -> None:
    why = explain(code)
    assert code in EXPLANATIONS
    for text in (why.title, why.advice, why.fix):
        assert len(str(text)) > 10
        assert code not in str(text), "plain words, not the raw code"


@pytest.mark.parametrize("code", ALL_CODES)
def test_the_explanation_says_whether_it_is_retried_automatically(code: str) -> None:
    """The words and the policy agree: 'retried automatically' only where it is true."""
    fix = str(explain(code).fix).lower()
    says_automatic = "retried automatically" in fix and "never retried automatically" not in fix
    assert says_automatic == retry.is_transient(code)


def test_a_prompt_that_reads_like_an_upload_reference_can_be_retried(owner) -> None:
    """Review: a prompt beginning "lumaweb-input:" is sent as written now, but its job was
    refused a retry as one whose uploads never reached Luma."""
    failed, _ = start_generation(owner, schema.GenerationRequest(prompt="lumaweb-input: a kite"))
    Generation.objects.filter(pk=failed.pk).update(state=State.FAILED)
    assert retry.retry_request(Generation.objects.get(pk=failed.pk)) is not None
