"""The submit and poll tasks keep the rules a refusal or a lost reply could break."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from generations.models import EventKind, Generation, Input, State
from generations.providers.agents import schema
from generations.simulators.models import SimFile, SimGeneration
from generations.tasks import (
    BULK,
    archive_outputs,
    import_in_background,
    poll_generation,
    start_generation,
    submit_generation,
)
from tests.conftest import ROOT, terminal
from tests.factories import png, sim_fault

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def submitted(owner) -> Generation:
    """A job Luma has accepted and (the simulator's clock held still) keeps queued."""
    generation, _ = start_generation(owner, schema.GenerationRequest(prompt="a quiet harbour"))
    submit_generation.call(str(generation.uuid))
    generation.refresh_from_db()
    assert generation.state == State.QUEUED
    return generation


def test_a_poll_refused_with_retry_after_waits_as_long_as_told(owner, settings, sim_clock) -> None:
    settings.LUMA_MAX_RETRIES = 0  # the refusal reaches the task, not the client's own wait
    generation = submitted(owner)
    due = timezone.now()
    Generation.objects.filter(pk=generation.pk).update(next_poll_at=due)
    sim_fault("429", method="GET", path="/generations/")  # the simulator says Retry-After: 1
    before = timezone.now()
    poll_generation.call(str(generation.uuid), due.isoformat())
    generation.refresh_from_db()
    assert generation.events.filter(kind=EventKind.ERROR).count() == 1
    # The usual next poll is 0.01 s away in tests; the upstream asked for a whole second.
    assert generation.next_poll_at >= before + timedelta(seconds=1)


@pytest.mark.parametrize("state", [State.COMPLETED, State.FAILED, State.UNKNOWN])
def test_a_finished_job_is_never_claimed_for_a_poll(owner, sim_clock, state: State) -> None:
    generation = submitted(owner)
    due = timezone.now()
    Generation.objects.filter(pk=generation.pk).update(state=state, next_poll_at=due)
    assert not generation.claim_poll(due, 2.0)
    generation.refresh_from_db()
    assert generation.poll_count == 0


def test_an_upload_whose_outcome_is_unknown_is_sent_again_not_left_unknown(
    owner, run_worker
) -> None:
    generation, _ = start_generation(owner, schema.GenerationRequest(prompt="from a sketch"))
    Input.objects.create(
        generation=generation,
        uploaded_by=owner,
        role="source",
        file=default_storage.save(f"inputs/{generation.uuid}/in.png", ContentFile(png())),
        original_name="in.png",
        mime_type="image/png",
        size_bytes=len(png()),
        sha256="x",
    )
    # The file is stored upstream, but its reply is lost: uploading again charges nothing.
    sim_fault("500", method="POST", path="/files", after=True)
    submit_generation.call(str(generation.uuid))
    generation.refresh_from_db()
    assert generation.state == State.DRAFT, "given back to be sent again, not 'outcome unknown'"
    assert SimFile.objects.count() == 1
    assert SimGeneration.objects.count() == 0
    run_worker(terminal(generation))
    assert generation.state == State.COMPLETED
    assert SimGeneration.objects.count() == 1
    assert generation.inputs.get().file_id


def test_a_task_backend_that_cannot_wait_is_refused_at_the_start(tmp_path) -> None:
    # Polls are scheduled for a time (`run_after`); Django's immediate backend cannot wait, so
    # every job would fail at its first poll. The start says so instead.
    env = {
        **os.environ,
        "TASKS_BACKEND": "immediate",
        "LUMAWEB_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "lumaweb.settings",
    }
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode != 0
    assert "TASKS_BACKEND must be db (the default) or rq" in started.stderr


def test_the_long_work_has_a_queue_of_its_own_and_a_worker_names_only_real_queues() -> None:
    # Archives and imports take minutes; on the default queue they would hold every send and
    # poll behind them (tests/test_reliability.py runs the workers `make run` starts).
    assert archive_outputs.queue_name == import_in_background.queue_name == BULK
    assert submit_generation.queue_name == poll_generation.queue_name == "default"
    with pytest.raises(CommandError, match="--queues takes default and bulk, not 'fast'"):
        call_command("run_worker", queues="default,fast")
    with pytest.raises(CommandError, match="not 'nothing'"):
        call_command("run_worker", queues=",")
