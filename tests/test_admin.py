"""Admin review of failed jobs: the admin's list, filters and detail, its actions, the triage page.

Failures that matter to an action are made by the simulator (prompt directives, queued faults)
and the real worker; rows for the list and its filters are written straight to the database.
"""

from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from generations.models import EventKind, Generation, Output, State, UpstreamCallCount
from generations.providers.agents import schema
from generations.tasks import start_generation
from generations.templatetags.gallery import datetime_attr
from tests.conftest import terminal
from tests.factories import sim_fault

pytestmark = pytest.mark.integration

CHANGELIST = reverse("admin:generations_generation_changelist")
TRIAGE = reverse("triage")


def change_url(generation: Generation) -> str:
    return reverse("admin:generations_generation_change", args=[generation.pk])


def act_url(generation: Generation) -> str:
    return reverse("triage-act", args=[generation.uuid])


@pytest.fixture
def staff_client(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def make(user: User, state: str = State.FAILED, **fields: object) -> Generation:
    """A job written straight to the database, for lists and filters."""
    prompt = str(fields.pop("prompt", "a lighthouse"))
    defaults: dict[str, object] = {
        "kind": "image",
        "model": "uni-1",
        "request": {"prompt": prompt, "type": fields.get("kind", "image")},
    }
    if state == State.FAILED:
        defaults["failure_code"] = "generation_failed"
    return Generation.objects.create(
        created_by=user, prompt=prompt, state=state, **{**defaults, **fields}
    )


def start(user: User, prompt: str) -> Generation:
    generation, created = start_generation(user, schema.GenerationRequest(prompt=prompt))
    assert created
    return generation


def listed(response) -> list[Generation]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get("Location")
    return list(response.context["cl"].result_list)


def post_action(client: Client, action: str, *jobs: Generation, note: str = ""):  # type: ignore[no-untyped-def]
    return client.post(
        CHANGELIST,
        {
            "action": action,
            "_selected_action": [job.pk for job in jobs],
            "index": 0,
            "note": note,
        },
        follow=True,
    )


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(message) for message in response.context["messages"]]


# --- the list ---


@pytest.mark.django_db
def test_the_list_shows_the_columns_that_matter(
    staff_client: Client, owner: User, teammate: User
) -> None:
    done = make(owner, State.COMPLETED, prompt="a lighthouse at dusk, wide and calm")
    Output.objects.create(
        generation=done,
        index=0,
        kind="image",
        url="http://sim.test/out.png",
        url_expires_at=timezone.now() + timedelta(hours=1),
    )
    make(teammate, prompt="forbidden", failure_code="content_moderated")
    html = staff_client.get(CHANGELIST).content.decode()
    # Luma's link dies within the hour: the list shows our copy or says it has none yet.
    assert "http://sim.test/out.png" not in html
    assert '<span class="admin-thumb admin-thumb--none">Not archived</span>' in html
    assert "a lighthouse at dusk, wide and calm" in html
    assert "tariq" in html
    assert "olivia" in html
    assert '<span title="Blocked by content moderation">content_moderated</span>' in html
    for header in ("prompt", "kind", "model", "state", "failure", "age", "reviewed"):
        assert f">{header.capitalize()}<" in html or f">{header}<" in html.lower()


@pytest.mark.django_db
def test_the_filters_find_failures_by_every_dimension(
    staff_client: Client, owner: User, teammate: User, settings
) -> None:
    settings.LUMAWEB_STUCK_AFTER = 600
    old = timezone.now() - timedelta(days=3)
    day = timezone.localtime(old).replace(hour=0, minute=0, second=0, microsecond=0)
    moderated = make(owner, failure_code="content_moderated")
    budget = make(teammate, failure_code="budget_exhausted", created_at=old)
    video = make(owner, kind="video", model="ray-3.2", failure_code="rate_limited", auto_retry=1)
    reviewed = make(owner, reviewed_at=timezone.now(), reviewed_by=owner)
    stuck = make(owner, State.PROCESSING, created_at=timezone.now() - timedelta(hours=1))
    fine = make(owner, State.COMPLETED)
    cases = {
        "failure_code=content_moderated": [moderated],
        "state__exact=failed&failure_code=budget_exhausted": [budget],
        "kind__exact=video": [video],
        "model=ray-3.2": [video],
        f"created_by__id__exact={teammate.pk}": [budget],
        "review=yes": [reviewed],
        "review=needs": [moderated, budget, video],
        "stuck=yes": [stuck],
        "retries=auto": [video],
        "state__exact=completed": [fine],
        urlencode({"created_at__gte": day, "created_at__lt": day + timedelta(days=1)}): [budget],
    }
    for query, expected in cases.items():
        found = listed(staff_client.get(f"{CHANGELIST}?{query}"))
        assert sorted(g.pk for g in found) == sorted(g.pk for g in expected), query


@pytest.mark.django_db
def test_the_failure_code_filter_names_each_cause(staff_client: Client, owner: User) -> None:
    make(owner, failure_code="budget_exhausted")
    html = staff_client.get(CHANGELIST).content.decode()
    assert "Out of credit (budget_exhausted)" in html


@pytest.mark.django_db
def test_search_finds_by_prompt_luma_id_our_id_and_person(
    staff_client: Client, owner: User, teammate: User
) -> None:
    harbour = make(owner, prompt="a quiet harbour", upstream_id="5f0c7d2e-luma")
    forest = make(teammate, prompt="a misty forest")
    for query, expected in [
        ("harbour", harbour),
        ("5f0c7d2e-luma", harbour),
        (str(forest.uuid), forest),
        ("tariq", forest),
    ]:
        assert listed(staff_client.get(CHANGELIST, {"q": query})) == [expected], query


@pytest.mark.django_db
def test_the_list_queries_do_not_grow_with_the_jobs(
    staff_client: Client, owner: User, teammate: User, django_assert_max_num_queries
) -> None:
    def add(count: int) -> None:
        for n in range(count):
            job = make(owner if n % 2 else teammate, State.COMPLETED, prompt=f"job {n}")
            Output.objects.create(
                generation=job,
                index=0,
                kind="image",
                url=f"http://sim.test/{n}.png",
                url_expires_at=timezone.now() + timedelta(hours=1),
            )
            make(owner, failure_code="rate_limited", retried_as=job)

    add(3)
    with django_assert_max_num_queries(14):
        assert len(listed(staff_client.get(CHANGELIST))) == 6
    add(30)
    with django_assert_max_num_queries(14):
        assert len(listed(staff_client.get(CHANGELIST))) == 66


# --- one job's page ---


@pytest.mark.django_db(transaction=True)
def test_the_detail_shows_the_request_every_reply_and_the_timeline(
    staff_client: Client, owner: User, run_worker
) -> None:
    job = start(owner, "something forbidden [fail:content_moderated]")
    run_worker(terminal(job))
    response = staff_client.get(change_url(job))
    html = response.content.decode()
    assert "Blocked by content moderation" in html
    assert "never retried automatically" in html
    assert "Suggested fix:" in html
    assert "The prompt or an input was flagged by content moderation." in html
    assert "&quot;prompt&quot;: &quot;something forbidden [fail:content_moderated]&quot;" in html
    assert "&quot;failure_code&quot;: &quot;content_moderated&quot;" in html
    assert job.upstream_id in html
    assert job.last_request_id
    assert job.last_request_id in html
    for event in ("Created", "Accepted upstream", "State change"):
        assert f"<td>{event}</td>" in html
    assert f'<div class="readonly">{job.poll_count}</div>' in html
    assert 'name="_save"' not in html, "nothing on the page is edited"
    assert f'action="{act_url(job)}"' in html
    assert 'value="retry"' in html
    assert f"/?remix={job.uuid}" in html


@pytest.mark.django_db(transaction=True)
def test_the_detail_previews_inputs_and_outputs(
    staff_client: Client, owner: User, run_worker
) -> None:
    first = start(owner, "a lighthouse")
    run_worker(terminal(first))
    request = schema.GenerationRequest(
        prompt="make it night", type="image_edit", source={"generation_id": first.upstream_id}
    )
    edit, _ = start_generation(owner, request)
    run_worker(terminal(edit))
    assert edit.state == State.COMPLETED
    html = staff_client.get(change_url(edit)).content.decode()
    [output] = edit.outputs.all()
    shown = output.src()  # our copy once archived, Luma's link only while it is fresh
    assert shown
    assert f'<img src="{shown.replace("&", "&amp;")}" alt="output 0">' in html
    assert "<th>source</th><td>generation id</td>" in html
    assert f'<a href="{change_url(first)}">a lighthouse</a>' in html


@pytest.mark.django_db
def test_jobs_cannot_be_added_or_deleted_in_the_admin(staff_client: Client, owner: User) -> None:
    job = make(owner)
    assert staff_client.get(f"{CHANGELIST}add/").status_code == 403
    assert staff_client.get(f"{change_url(job)}../delete/").status_code == 403
    staff_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [job.pk]})
    assert Generation.objects.filter(pk=job.pk).exists()


# --- actions on many jobs ---


@pytest.mark.django_db(transaction=True)
def test_bulk_retry_makes_one_retry_per_job_even_when_sent_twice(
    staff_client: Client, staff: User, owner: User, run_worker
) -> None:
    jobs = [start(owner, f"job {n} [fail:invalid_request]") for n in range(2)]
    done = start(owner, "fine")
    run_worker(lambda: all(terminal(job)() for job in [*jobs, done]))
    response = post_action(staff_client, "retry_jobs", *jobs, done)
    assert messages_of(response) == [
        "2 jobs retried (the originals are marked reviewed); 1 job could not be retried: "
        "only failed, unknown or stuck jobs can be."
    ]
    again = post_action(staff_client, "retry_jobs", *jobs)
    assert "2 jobs had been retried already" in messages_of(again)[0]
    assert Generation.objects.count() == 5
    for job in jobs:
        job.refresh_from_db()
        assert job.retried_as is not None
        assert job.retried_as.parent == job
        assert job.reviewed_by == staff


@pytest.mark.django_db
def test_bulk_mark_reviewed_keeps_the_note_and_reopen_undoes_it(
    staff_client: Client, staff: User, owner: User
) -> None:
    jobs = [make(owner), make(owner, failure_code="budget_exhausted")]
    response = post_action(staff_client, "mark_reviewed", *jobs, note="Topped up the account.")
    assert messages_of(response) == ["2 jobs marked reviewed."]
    for job in jobs:
        job.refresh_from_db()
        assert (job.reviewed_by, job.review_note) == (staff, "Topped up the account.")
        assert job.events.get(kind=EventKind.REVIEWED).data == {
            "by": "sam",
            "note": "Topped up the account.",
        }
    assert listed(staff_client.get(CHANGELIST, {"review": "needs"})) == []
    response = post_action(staff_client, "reopen_jobs", jobs[0])
    assert messages_of(response) == ["1 job reopened."]
    assert listed(staff_client.get(CHANGELIST, {"review": "needs"})) == [jobs[0]]
    assert Generation.objects.get(pk=jobs[0].pk).review_note == ""


@pytest.mark.django_db(transaction=True)
def test_bulk_refresh_asks_in_the_background_never_in_the_request(
    staff_client: Client, owner: User, run_worker
) -> None:
    done = start(owner, "fine")
    running = start(owner, "slow [stuck]")
    run_worker(lambda: terminal(done)() and Generation.objects.get(pk=running.pk).upstream_id)
    unknown = make(owner, State.UNKNOWN, failure_code="outcome_unknown")
    DBTaskResult.objects.all().delete()
    gets = UpstreamCallCount.objects.filter(endpoint="GET /generations/{id}")
    before = dict(gets.values_list("status", "count"))
    response = post_action(staff_client, "refresh_jobs", done, running, unknown)
    text = messages_of(response)[0]
    assert "Asking Luma Agents API (simulator) in the background. (1 job)" in text
    assert "Asking Luma Agents API (simulator) now; the answer shows in a moment. (1 job)" in text
    assert "nothing to ask. (1 job)" in text
    assert before
    assert dict(gets.values_list("status", "count")) == before, "no call in the request"
    paths = sorted(task.task_path.rsplit(".", 1)[1] for task in DBTaskResult.objects.ready())
    assert paths == ["poll_generation", "refresh_generation"]
    run_worker(lambda: done.events.filter(kind=EventKind.REFRESHED).exists())


# --- actions on one job (the change page and the triage page share them) ---


@pytest.mark.django_db(transaction=True)
def test_retry_from_the_change_page_returns_there_and_a_double_click_makes_one(
    staff_client: Client, owner: User, run_worker
) -> None:
    sim_fault("402", method="POST", path="/generations")
    job = start(owner, "a quiet harbour")
    run_worker(terminal(job))
    form = {"action": "retry", "next": change_url(job)}
    first = staff_client.post(act_url(job), form)
    second = staff_client.post(act_url(job), form)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == change_url(job)
    assert Generation.objects.count() == 2
    job.refresh_from_db()
    page = staff_client.get(change_url(job)).content.decode()
    assert "Retry sent." in page
    assert "It was already retried" in page
    assert "Reviewed by sam" in page
    # Found from outside: its review note was "Retried as 3561ecd9-…", an id beside the link.
    assert job.review_note == "Retried."
    run_worker(terminal(job.retried_as))
    assert job.retried_as.state == State.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_refresh_of_a_finished_job_renews_its_output_urls_without_moving_it(
    staff_client: Client, owner: User, run_worker
) -> None:
    job = start(owner, "a lighthouse")
    run_worker(terminal(job))
    Output.objects.filter(generation=job).update(url="http://sim.test/expired.png")
    response = staff_client.post(act_url(job), {"action": "refresh"}, follow=True)
    assert messages_of(response) == ["Refreshed: Luma Agents API (simulator) says completed."]
    [output] = job.outputs.all()
    assert "/sim/v1/outputs/" in output.url
    job.refresh_from_db()
    assert job.state == State.COMPLETED
    assert job.events.filter(kind=EventKind.REFRESHED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_refresh_of_a_running_job_polls_it_now(
    staff_client: Client, owner: User, run_worker
) -> None:
    job = start(owner, "slow [stuck]")
    run_worker(lambda: Generation.objects.get(pk=job.pk).state == State.PROCESSING)
    Generation.objects.filter(pk=job.pk).update(next_poll_at=timezone.now() + timedelta(hours=1))
    DBTaskResult.objects.all().delete()
    polls = Generation.objects.get(pk=job.pk).poll_count
    staff_client.post(act_url(job), {"action": "refresh"})
    run_worker(lambda: Generation.objects.get(pk=job.pk).poll_count > polls)


@pytest.mark.django_db
def test_refresh_of_a_job_luma_never_named_says_so(staff_client: Client, owner: User) -> None:
    job = make(owner, State.UNKNOWN, failure_code="outcome_unknown")
    response = staff_client.post(act_url(job), {"action": "refresh"}, follow=True)
    assert messages_of(response) == [
        "Luma Agents API (simulator) never gave us an id for this job, so there is nothing to ask."
    ]


@pytest.mark.django_db
def test_review_and_reopen_one_job(staff_client: Client, staff: User, owner: User) -> None:
    job = make(owner)
    done = staff_client.post(act_url(job), {"action": "review", "note": " checked "}, follow=True)
    assert messages_of(done) == ["Marked reviewed."]
    job.refresh_from_db()
    assert (job.reviewed_by, job.review_note) == (staff, "checked")
    again = staff_client.post(act_url(job), {"action": "review"}, follow=True)
    assert messages_of(again) == ["It was already reviewed."]
    staff_client.post(act_url(job), {"action": "reopen"})
    job.refresh_from_db()
    assert job.reviewed_at is None
    assert [e.kind for e in job.events.all()] == [EventKind.REVIEWED, EventKind.REOPENED]


@pytest.mark.django_db
def test_an_action_only_returns_to_a_local_page(staff_client: Client, owner: User) -> None:
    job = make(owner)
    response = staff_client.post(
        act_url(job), {"action": "review", "next": "https://evil.example/"}
    )
    assert response["Location"] == TRIAGE
    assert staff_client.post(act_url(job), {"action": "explode"}).status_code == 400


@pytest.mark.django_db
def test_an_htmx_action_answers_with_the_jobs_row(staff_client: Client, owner: User) -> None:
    job = make(owner)
    response = staff_client.post(
        act_url(job), {"action": "review", "note": "seen"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.strip().startswith(f'<li class="triage-job" id="job-{job.uuid}"')
    assert "Reviewed by sam" in html
    assert "Marked reviewed." in html
    assert 'value="reopen"' in html


@pytest.mark.django_db
def test_recently_reviewed_follows_each_action_without_a_reload(
    staff_client: Client, owner: User
) -> None:
    # Left open before: the list changed only on a reload (putting the job there would have
    # given the page two elements of one id).
    earlier, job = make(owner, prompt="reviewed before"), make(owner, prompt="just now")
    staff_client.post(act_url(earlier), {"action": "review"})
    page = staff_client.get(TRIAGE).content.decode()
    assert f'id="reviewed-{earlier.uuid}"' in page
    assert f'id="job-{job.uuid}"' in page
    htmx = {"HX-Request": "true"}
    html = staff_client.post(act_url(job), {"action": "review"}, headers=htmx).content.decode()
    assert html.strip().startswith(f'<li class="triage-job" id="job-{job.uuid}"')
    listed = html.split('id="triage-reviewed"')[1]
    assert 'id="triage-reviewed" hx-swap-oob="true"' in html
    assert listed.index(f'id="reviewed-{job.uuid}"') < listed.index(f'id="reviewed-{earlier.uuid}"')
    assert "Marked reviewed." not in listed  # the note is the acted row's alone
    # Reopen from the list: that row changes in place, under its own id.
    reopen = {"action": "reopen", "prefix": "reviewed"}
    html = staff_client.post(act_url(earlier), reopen, headers=htmx).content.decode()
    assert html.strip().startswith(f'<li class="triage-job" id="reviewed-{earlier.uuid}"')
    assert f'hx-target="#reviewed-{earlier.uuid}"' in html
    assert "Reopened." in html


@pytest.mark.django_db
def test_what_was_just_done_says_just_now_in_the_review_page_and_the_admin(
    staff_client: Client, owner: User
) -> None:
    job = make(owner)
    row = staff_client.post(act_url(job), {"action": "review"}, headers={"HX-Request": "true"})
    assert f'{datetime_attr(job.created_at)}">just now</time>' in row.content.decode()
    assert "Reviewed by sam just now" in row.content.decode()
    assert '<td class="field-age">just now</td>' in staff_client.get(CHANGELIST).content.decode()
    assert "Reviewed by sam just now." in staff_client.get(change_url(job)).content.decode()


# --- the triage page ---


@pytest.mark.django_db
def test_the_triage_page_groups_unreviewed_failures_by_cause(
    staff_client: Client, owner: User, teammate: User
) -> None:
    make(owner, failure_code="budget_exhausted", prompt="first broke")
    make(teammate, failure_code="budget_exhausted", prompt="second broke")
    make(owner, failure_code="content_moderated", prompt="flagged")
    make(owner, failure_code="content_moderated", prompt="old news", reviewed_at=timezone.now())
    make(owner, State.UNKNOWN, failure_code="outcome_unknown", prompt="lost reply")
    its_retry = make(owner, State.COMPLETED, prompt="fine")
    make(owner, failure_code="generation_failed", prompt="retried already", retried_as=its_retry)
    response = staff_client.get(TRIAGE)
    html = response.content.decode()
    groups = [group["code"] for group in response.context["groups"]]
    assert groups == ["budget_exhausted", "content_moderated", "outcome_unknown"]
    assert response.context["needing_total"] == 4
    assert "Out of credit" in html
    assert "Top up the Luma Agents API account" in html
    assert "never retried automatically" in html
    assert "Retry anyway" in html, "an unknown outcome warns before resending"
    assert "retried already" not in html.split('id="stuck-title"')[0]
    budget = response.context["groups"][0]
    assert budget["total"] == 2
    in_admin = listed(staff_client.get(budget["admin_url"]))
    assert {g.prompt for g in in_admin} == {"first broke", "second broke"}
    job = budget["jobs"][0]
    assert f'href="/?remix={job.uuid}"' in html
    assert f'href="{change_url(job)}"' in html
    # Found from outside: the prompt led to the admin's form, not to the piece.
    assert f'<a href="{job.get_absolute_url()}">{job.prompt}</a>' in html


@pytest.mark.django_db
def test_the_triage_counts_are_by_code_model_person_and_day_and_link_to_the_admin(
    staff_client: Client, owner: User, teammate: User
) -> None:
    yesterday = timezone.now() - timedelta(days=1)
    for _ in range(2):
        make(owner, failure_code="rate_limited", created_at=yesterday)
    make(owner, failure_code="rate_limited", model="uni-1-max", created_at=yesterday)
    make(teammate, failure_code="rate_limited", created_at=yesterday)
    make(owner, failure_code="rate_limited")
    make(owner, failure_code="rate_limited", created_at=timezone.now() - timedelta(days=30))
    counts = staff_client.get(TRIAGE).context["counts"]
    rows = [(r["day"], r["model"], r["created_by__username"], r["n"]) for r in counts]
    today, before = timezone.localdate(), timezone.localdate(yesterday)
    assert rows == [
        (today, "uni-1", "olivia", 1),
        (before, "uni-1", "olivia", 2),
        (before, "uni-1", "tariq", 1),
        (before, "uni-1-max", "olivia", 1),
    ]
    linked = listed(staff_client.get(counts[1]["admin_url"]))
    assert len(linked) == 2
    assert {(g.created_by, g.model, g.failure_code) for g in linked} == {
        (owner, "uni-1", "rate_limited")
    }


@pytest.mark.django_db
def test_stuck_jobs_show_with_refresh_and_retry(
    staff_client: Client, owner: User, settings
) -> None:
    settings.LUMAWEB_STUCK_AFTER = 600
    stuck = make(
        owner,
        State.PROCESSING,
        prompt="never ends",
        upstream_id="u-1",
        created_at=timezone.now() - timedelta(hours=2),
    )
    make(owner, State.PROCESSING, prompt="just started")
    make(
        owner,
        State.DRAFT,
        prompt="waiting its backoff",
        created_at=timezone.now() - timedelta(hours=1),
        submit_after=timezone.now() + timedelta(minutes=1),
    )
    response = staff_client.get(TRIAGE)
    assert response.context["stuck"] == [stuck]
    section = response.content.decode().split('id="stuck-title"')[1].split("counts-title")[0]
    assert "unfinished for over 10 minutes" in section
    assert "never ends" in section
    assert 'value="refresh"' in section
    assert 'value="retry"' in section


@pytest.mark.django_db
def test_the_head_counts_every_stuck_job_not_only_those_listed(
    staff_client: Client, owner: User, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found in a reread: the head counted the list, which stops at LIST_LIMIT.
    from generations import triage

    monkeypatch.setattr(triage, "LIST_LIMIT", 2)
    settings.LUMAWEB_STUCK_AFTER = 600
    for n in range(3):
        make(owner, State.PROCESSING, created_at=timezone.now() - timedelta(hours=2, minutes=n))
    response = staff_client.get(TRIAGE)
    assert len(response.context["stuck"]) == 2
    assert "<strong>3</strong> stuck" in response.content.decode()
    failed = make(owner)
    act = staff_client.post(act_url(failed), {"action": "review"}, headers={"HX-Request": "true"})
    assert "<strong>3</strong> stuck" in act.content.decode()


@pytest.mark.django_db
def test_the_triage_page_queries_do_not_grow(
    staff_client: Client, owner: User, teammate: User, django_assert_max_num_queries, settings
) -> None:
    settings.LUMAWEB_STUCK_AFTER = 60
    old = timezone.now() - timedelta(hours=1)

    def add(count: int) -> None:
        for n in range(count):
            person = owner if n % 2 else teammate
            make(person, failure_code=["rate_limited", "budget_exhausted"][n % 2])
            make(person, reviewed_at=timezone.now(), reviewed_by=person)
            make(person, State.PROCESSING, created_at=old)

    add(2)
    with django_assert_max_num_queries(12):
        staff_client.get(TRIAGE)
    add(20)
    with django_assert_max_num_queries(12):
        assert staff_client.get(TRIAGE).context["needing_total"] == 22


# --- who may see all this ---


@pytest.mark.django_db
def test_people_who_are_not_staff_cannot_reach_the_admin_or_the_triage_page(
    client: Client, owner_client: Client, owner: User
) -> None:
    job = make(owner)
    assert owner_client.get(TRIAGE).status_code == 403
    assert owner_client.post(act_url(job), {"action": "retry"}).status_code == 403
    admin = owner_client.get(CHANGELIST)
    assert admin.status_code == 302
    assert urlsplit(admin["Location"]).path == reverse("admin:login")
    assert "Review" not in owner_client.get("/").content.decode().split("</nav>")[0]
    anonymous = client.get(TRIAGE)
    assert anonymous.status_code == 302
    assert urlsplit(anonymous["Location"]).path == reverse("login")
    assert Generation.objects.count() == 1


@pytest.mark.django_db
def test_staff_without_the_change_permission_cannot_triage(owner: User) -> None:
    helper = User.objects.create_user("hal", "hal@example.com", "pass-word-123", is_staff=True)
    client = Client()
    client.force_login(helper)
    assert client.get(TRIAGE).status_code == 403
    assert client.post(act_url(make(owner)), {"action": "review"}).status_code == 403
    # Left open before: the top bar offered them a Review link that led to a 403.
    nav = client.get("/").content.decode().split("</nav>")[0]
    assert "Review" not in nav
    assert "Admin" in nav  # the admin shows them what they may do there
    helper.user_permissions.add(Permission.objects.get(codename="change_generation"))
    nav = client.get("/").content.decode().split("</nav>")[0]
    assert f'<a href="{TRIAGE}">Review</a>' in nav
    assert client.get(TRIAGE).status_code == 200


@pytest.mark.django_db
def test_staff_see_a_review_link(staff_client: Client) -> None:
    nav = staff_client.get("/").content.decode().split("</nav>")[0]
    assert f'<a href="{TRIAGE}">Review</a>' in nav


@pytest.mark.django_db
def test_a_review_note_too_long_is_refused_and_comes_back_to_shorten(
    staff_client: Client, owner: User
) -> None:
    """Found from outside: a 3,000-character note was kept whole and filled the screen."""
    job = make(owner)
    long_note = "checked " * 100  # 800 characters
    row = staff_client.post(
        act_url(job), {"action": "review", "note": long_note}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "A note holds at most 500 characters (this one has 799): nothing was marked." in row
    assert f'value="{long_note.strip()}"' in row  # what was typed, to shorten
    assert 'maxlength="500"' in row
    job.refresh_from_db()
    assert job.reviewed_at is None
    # Found from outside (an attacker) too: a NUL was stored (PostgreSQL would refuse it).
    nul = staff_client.post(
        act_url(job), {"action": "review", "note": "a\x00b"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "A note cannot hold a NUL character: nothing was marked." in nul
    job.refresh_from_db()
    assert job.reviewed_at is None


@pytest.mark.django_db
def test_a_failure_is_explained_in_the_words_of_the_upstream_that_had_the_job(
    staff_client: Client, owner: User, settings
) -> None:
    # Left open last stop: a gateway's lost job said "Luma forgot this job", and the fix for a
    # Dream Machine job whose key was refused said to check LUMA_AGENTS_API_KEY.
    settings.LUMA_PROVIDERS = {
        **settings.LUMA_PROVIDERS,
        "proxy": {**settings.LUMA_PROVIDERS["proxy"], "name": "Acme Gateway"},
    }
    lost = make(owner, provider="proxy", failure_code="upstream_lost", prompt="gone")
    said = owner_view(owner, lost)
    assert "Acme Gateway forgot this job" in said
    assert "Acme Gateway no longer knows this job" in said
    assert "Luma" not in lost.explanation.title + lost.explanation.advice + lost.explanation.fix
    refused = make(owner, provider="dream_machine", failure_code="upstream_refused")
    assert "LUMAAI_API_KEY" in refused.explanation.fix
    assert "LUMA_AGENTS_API_KEY" not in refused.explanation.fix
    group = triage_group(staff_client, "upstream_refused")
    assert "Luma Dream Machine API refused our credentials" in group
    assert "Check LUMAAI_API_KEY and" in group, "a group of one upstream's jobs names its key"
    make(owner, provider="agents", failure_code="upstream_refused")
    group = triage_group(staff_client, "upstream_refused")
    assert "Check LUMAAI_API_KEY and" not in group
    assert "upstream (LUMA_AGENTS_API_KEY, LUMAAI_API_KEY or LUMA_PROXY_API_KEY)" in group


def triage_group(client: Client, code: str) -> str:
    """The triage page's group of failures with `code`, as HTML."""
    html = client.get(TRIAGE).content.decode()
    return html.split(f'id="code-{code}"', 1)[1].split("</article>", 1)[0]


def owner_view(owner: User, generation: Generation) -> str:
    client = Client()
    client.force_login(owner)
    return client.get(generation.get_absolute_url()).content.decode()
