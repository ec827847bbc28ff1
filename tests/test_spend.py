"""Spend: the price table, every job's estimate, the usage page and budgets on every path."""

import contextlib
import csv
import html
import io
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from generations import providers, spend, tasks
from generations.models import Generation, PersonBudget, Price, ProviderBalance, State
from generations.providers.agents import schema
from generations.providers.base import Summary
from generations.retry import NotRetryable
from generations.submission import SubmissionRefused, record_generation
from generations.tasks import start_generation
from tests.conftest import terminal
from tests.factories import piece, sim_fault

pytestmark = pytest.mark.integration


def submit(client: Client, prompt: str, key: str, **fields: str):  # type: ignore[no-untyped-def]
    form = {"prompt": prompt, "model": "uni-1", "aspect_ratio": "1:1", "idempotency_key": key}
    return client.post("/", {**form, **fields})


def submit_video(client: Client, prompt: str, key: str, resolution: str = "1080p"):  # type: ignore[no-untyped-def]
    form = {"mode": "video", "prompt": prompt, "idempotency_key": key, "resolution": resolution}
    return client.post("/", {**form, "kf-TOTAL_FORMS": "0", "kf-INITIAL_FORMS": "0"})


# --- the price table ---


@pytest.mark.django_db
def test_the_seeded_table_prices_every_kind_of_the_agents_api() -> None:
    for kind in schema.GENERATION_TYPES:
        model = schema.VIDEO_MODEL if kind in schema.VIDEO_TYPES else "uni-1"
        assert spend.estimate("agents", Summary(kind, model, "p")) is not None, kind


@pytest.mark.django_db
def test_dream_machine_and_gateway_jobs_are_estimated_too(owner: User, settings) -> None:
    # Left open before (a creative's top finding): their jobs counted $0, so no money budget
    # ever stopped them. They are seeded with estimates as the Agents API's are.
    from generations.providers.dream_machine import schema as dm
    from generations.providers.proxy import schema as gateway

    for kind, model in [*(("video", m) for m in dm.VIDEO_MODELS),
                        *(("image", m) for m in dm.IMAGE_MODELS)]:  # fmt: skip
        assert spend.estimate("dream_machine", Summary(kind, model, "p")) is not None, model
    video = dm.VideoRequest(prompt="a slow dolly", model="ray-2", resolution="1080p", duration="9s")
    job, _ = start_generation(owner, video, provider="dream_machine")
    smaller = dm.VideoRequest(prompt="a slow dolly", model="ray-2", resolution="540p")
    small, _ = start_generation(owner, smaller, provider="dream_machine")
    assert (job.estimated_cents, small.estimated_cents) == (Decimal(288), Decimal(40))
    upscale = dm.UpscaleRequest(generation_id="4b0e7bc6-ef41-4c43-9c45-3a5b1b1b3a2e")
    assert spend.estimate("dream_machine", providers.get("dream_machine").summary(upscale))
    request = gateway.ProxyRequest(user_prompt="cat dance", aspect_ratio="16:9")
    sent, _ = start_generation(owner, request, provider="proxy")
    assert sent.estimated_cents
    # So a money budget stops them.
    settings.LUMAWEB_PERSON_MONTHLY_BUDGET_USD = Decimal("0.01")
    with pytest.raises(SubmissionRefused, match="budget"):
        start_generation(owner, smaller, provider="dream_machine", check_limits=True)


@pytest.mark.django_db
def test_the_most_specific_price_wins_and_a_blank_option_matches_any() -> None:
    def video(**options: str) -> Decimal | None:
        return spend.estimate("agents", Summary("video", "ray-3.2", "p", options=options))

    assert video() == Decimal(70)  # no options: the any-resolution row
    assert video(resolution="1080p") == Decimal(150)
    assert video(resolution="1080p", duration="10s") == Decimal(300)
    assert video(resolution="1080p", duration="5s") == Decimal(150)  # no 5s row: any duration
    Price.objects.filter(kind="video", resolution="1080p", duration="").update(
        cents=Decimal("99.5")
    )
    assert video(resolution="1080p") == Decimal("99.5")  # the admin's edit applies at once
    assert spend.estimate("agents", Summary("video", "ray-9", "p")) is None


@pytest.mark.django_db
def test_a_ten_second_video_costs_twice_a_five_second_one_at_any_resolution() -> None:
    """Found from outside: without a resolution, a 10 s video matched the blank 5 s row, so a
    money budget let twice as many through."""
    model = schema.VIDEO_MODEL
    five = spend.estimate("agents", Summary("video", model, "p"))
    ten = spend.estimate("agents", Summary("video", model, "p", options={"duration": "10s"}))
    assert five is not None
    assert ten == 2 * five


@pytest.mark.django_db
def test_every_job_records_its_estimate_at_submission(owner: User) -> None:
    request = schema.GenerationRequest(
        prompt="a dune at noon", type="video", model="ray-3.2",
        video=schema.VideoOptions(resolution="540p", duration="10s"),
    )  # fmt: skip
    job, _ = start_generation(owner, request)
    assert job.estimated_cents == Decimal(80)
    layers, _ = start_generation(
        owner,
        schema.GenerationRequest(
            prompt="a street",
            type="layering",
            source={"url": "https://example.com/street.png"},
            layering=schema.LayeringOptions(resolution="2k"),
        ),
    )
    assert layers.estimated_cents == Decimal(8)


# --- the usage page ---


def _job(user: User, cents: str | None, days_ago: int = 0, **fields: object) -> Generation:
    return piece(
        user,
        estimated_cents=Decimal(cents) if cents is not None else None,
        created_at=timezone.now() - timedelta(days=days_ago),
        **fields,
    )


@pytest.fixture
def month(owner: User, teammate: User) -> list[Generation]:
    return [
        _job(owner, "2", 0),
        _job(owner, "150", 1, kind="video", model="ray-3.2"),
        _job(teammate, "6", 1, model="uni-1-max"),
        _job(teammate, "6", 2, model="uni-1-max"),
        _job(teammate, None, 2),
        _job(owner, "70", 60, kind="video", model="ray-3.2"),  # outside the last 30 days
    ]


def _csv_rows(client: Client, **query: str) -> list[dict[str, str]]:
    response = client.get("/usage/", {**query, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_staff_see_everyone_and_the_sums_match_the_jobs(
    month: list[Generation], staff: User, django_assert_max_num_queries
) -> None:
    client = Client()
    client.force_login(staff)
    with django_assert_max_num_queries(12):
        page = client.get("/usage/")
    text = page.content.decode()
    assert "$1.64 estimated · 5 jobs" in text  # 2 + 150 + 6 + 6 cents, the 60-day-old one out
    assert '<svg class="chart"' in text
    assert "<rect" in text
    assert "1 job had no price" in text
    # Found from outside: a share under one per cent read "0 %".
    _job(staff, "0.5", 0, model="uni-1-max")
    split = client.get("/usage/", {"by": "person"}).content.decode()
    assert "&lt;1 %" in split
    Generation.objects.filter(created_by=staff).delete()
    rows = _csv_rows(client)
    by_person: dict[str, Decimal] = {}
    for row in rows:
        by_person[row["person"]] = by_person.get(row["person"], Decimal(0)) + Decimal(
            row["estimated_usd"]
        )
    assert by_person == {"olivia": Decimal("1.52"), "tariq": Decimal("0.12")}
    by_model = _csv_rows(
        client, by="model", period="month", since=str(timezone.localdate() - timedelta(days=90))
    )
    total = sum(Decimal(row["estimated_usd"]) for row in by_model)
    assert total == Decimal("2.34")
    assert sum(int(row["jobs"]) for row in by_model) == 6
    assert {row["model"] for row in by_model} == {"uni-1", "uni-1-max", "ray-3.2"}


def test_the_export_link_downloads_the_csv_of_what_the_page_shows(
    month: list[Generation], owner_client: Client
) -> None:
    """Found from outside: Export CSV downloaded the page itself, its query a Python dict."""
    page = owner_client.get("/usage/", {"by": "model", "period": "week"}).content.decode()
    link = re.search(r'<a class="button" href="([^"]+)" download>Export CSV</a>', page)
    assert link is not None
    exported = owner_client.get("/usage/" + html.unescape(link.group(1)))
    assert exported["Content-Type"].startswith("text/csv")
    assert next(csv.reader(io.StringIO(exported.content.decode())))[1] == "model"


def test_each_person_sees_only_their_own(month: list[Generation], owner_client: Client) -> None:
    text = owner_client.get("/usage/").content.decode()
    assert "Usage: your jobs" in text
    assert "$1.52 estimated · 2 jobs" in text
    assert "tariq" not in text
    # Found from outside: split by person, their own page was one line. It is by kind, and
    # offers no split by person.
    assert ", day by kind<" in text
    assert '<option value="person"' not in text
    # Found from outside: the list showed "Provider" (nothing was selected), so pressing Show
    # without touching it changed the split.
    assert '<option value="kind" selected>' in text
    assert {row["kind"] for row in _csv_rows(owner_client)} == {"image", "video"}


def test_a_balance_read_a_moment_ago_was_read_just_now(staff: User) -> None:
    ProviderBalance.objects.create(provider="dream_machine", cents=100_000)
    client = Client()
    client.force_login(staff)
    text = client.get("/usage/").content.decode()
    assert "reported a balance of $1,000.00 just now;" in text
    assert "0 minutes" not in text
    assert 'balance, read just now"' in text  # the header's figure says the same
    header = re.search(r'<a class="credit"[^>]*>(.*?)</a>', text, re.S)
    assert header is not None
    assert header.group(1).endswith("$1,000.00")


def test_the_split_by_provider_and_kind_names_them_as_the_pages_do(
    month: list[Generation], staff: User
) -> None:
    Generation.objects.filter(model="uni-1-max").update(provider="dream_machine")
    client = Client()
    client.force_login(staff)
    by_provider = client.get("/usage/", {"by": "provider"}).content.decode()
    assert "Luma Dream Machine API" in by_provider
    assert "Luma Agents API" in by_provider
    assert "> dream_machine</th>" not in by_provider
    assert "> agents</th>" not in by_provider
    by_kind = client.get("/usage/", {"by": "kind"}).content.decode()
    assert "> Video</th>" in by_kind
    assert "> video</th>" not in by_kind
    # A script's export keeps the names it filters on.
    assert {row["provider"] for row in _csv_rows(client, by="provider")} == {
        "agents",
        "dream_machine",
    }


def test_a_bad_usage_query_falls_back_to_the_defaults(owner_client: Client) -> None:
    response = owner_client.get("/usage/", {"period": "century", "by": "mood", "since": "soon"})
    assert response.status_code == 200
    assert "No jobs in this period" in response.content.decode()


@pytest.mark.parametrize("dates", [{"until": "9999-12-31"}, {"since": "0001-01-01"}])
def test_a_date_no_calendar_reaches_is_refused_in_words_not_a_500(
    owner_client: Client, dates: dict[str, str]
) -> None:
    """Found from outside: "To" 31/12/9999 in the page's own date picker was a 500 (the day
    after it overflows), on the page and its CSV."""
    page = owner_client.get("/usage/", dates)
    assert page.status_code == 200
    text = page.content.decode()
    assert "No jobs in this period" in text
    assert "Not used, so the page shows the default instead: " in text
    assert ("To: choose a date before the year 9001." in text) != ("From: choose" in text)
    assert owner_client.get("/usage/", {**dates, "format": "csv"}).status_code == 200


def test_jobs_without_a_price_are_counted_in_words_that_agree(
    owner_client: Client, owner: User
) -> None:
    piece(owner, "unpriced")
    text = owner_client.get("/usage/").content.decode()
    assert "1 job had no price in the table and counts as $0." in text
    piece(owner, "unpriced too")
    text = owner_client.get("/usage/").content.decode()
    assert "2 jobs had no price in the table and count as $0." in text


def test_dates_the_wrong_way_round_are_the_range_they_name(owner_client: Client) -> None:
    """Found from outside: From 1 Dec, To 1 Nov showed 1 Nov alone."""
    page = owner_client.get("/usage/", {"since": "2026-12-01", "until": "2026-11-01"})
    assert "1 Nov 2026 \u2013 1 Dec 2026" in page.content.decode()  # an en dash between


def test_a_budget_or_a_price_below_zero_is_refused(staff: User, owner: User) -> None:
    """Found from outside: a budget of $-5 was saved in the admin, and lifted the person's
    limit as 0 does."""
    client = Client()
    client.force_login(staff)
    budget = {"user": owner.pk, "monthly_usd": "-5"}
    refused = client.post("/admin/generations/personbudget/add/", budget)
    assert refused.status_code == 200
    assert "greater than or equal to 0" in refused.content.decode()
    assert not PersonBudget.objects.exists()
    price = {"provider": "agents", "model": "m", "kind": "image", "cents": "-1"}
    refused = client.post("/admin/generations/price/add/", price)
    assert "greater than or equal to 0" in refused.content.decode()
    assert not Price.objects.filter(model="m").exists()


def test_a_price_is_for_a_provider_model_and_kind_jobs_have(staff: User) -> None:
    """Found from outside (a team's admin): "dream-machine", "photon-1 " and "Image" were
    saved, and the row never priced a job."""
    client = Client()
    client.force_login(staff)
    typed = {"provider": "dream-machine", "model": "photon-1 ", "kind": "Image", "cents": "5"}
    refused = client.post("/admin/generations/price/add/", typed)
    assert refused.content.decode().count("Select a valid choice") == 3
    assert not Price.objects.filter(cents=5).exists()
    chosen = {"provider": "dream_machine", "model": "upscale_video", "kind": "video_edit"}
    added = client.post(
        "/admin/generations/price/add/", {**chosen, "resolution": "720p", "cents": "5"}
    )
    assert added.status_code == 302
    assert Price.objects.filter(**chosen, resolution="720p", cents=5).exists()
    # A row typed before keeps its values when it is opened (review: a list without them showed
    # the first choice, and a Save changed what the row prices).
    old = Price.objects.create(provider="dream-machine", model="photon-1 ", kind="Image", cents=5)
    page = client.get(f"/admin/generations/price/{old.pk}/change/").content.decode()
    for value in ("dream-machine", "photon-1 ", "Image"):
        assert f'<option value="{value}" selected>{value} (matches no job)</option>' in page
    # The price is in the list's fourth column, beside what it prices, where a laptop shows it.
    listed = client.get("/admin/generations/price/").content.decode()
    header = re.findall(r'<th scope="col" class="(?:sortable )?column-(\w+)', listed)
    assert header[:4] == ["provider", "model", "kind", "cents"]


def test_a_name_that_looks_like_a_formula_is_exported_as_text(staff: User) -> None:
    _job(User.objects.create_user("=cmd|calc"), "2")
    client = Client()
    client.force_login(staff)
    assert {row["person"] for row in _csv_rows(client)} == {"'=cmd|calc"}


# --- budgets ---


@pytest.mark.django_db
def test_a_person_over_their_monthly_budget_is_refused_on_the_form_with_what_is_left(
    owner_client: Client, owner: User, settings
) -> None:
    settings.LUMAWEB_SUBMIT_PER_MINUTE = 0
    settings.LUMAWEB_PERSON_MONTHLY_BUDGET_USD = Decimal("1.80")
    assert "budget-warning" not in owner_client.get("/").content.decode()
    form = {"mode": "video", "prompt": "dawn", "idempotency_key": "v1", "resolution": "1080p"}
    sent = owner_client.post(
        "/",
        {**form, "kf-TOTAL_FORMS": "0", "kf-INITIAL_FORMS": "0"},
        headers={"HX-Request": "true"},
    )  # $1.50, from the studio's page
    # Past 80 %, the form warns before anyone presses Generate: at once, in the form Generate
    # answers with (found from outside: only from the next page load on).
    assert "budget-warning" in sent.content.decode()
    page = owner_client.get("/").content.decode()
    assert "budget-warning" in page
    assert "You have used $1.50 of this month&#x27;s $1.80 budget (83 %); $0.30 left." in page
    refused = submit_video(owner_client, "dusk", "v2")
    assert refused.status_code == 400
    assert (
        "This job is estimated at $1.50, and you have $0.30 of this month&#x27;s $1.80 budget "
        "left. Nothing was sent"
    ) in refused.content.decode()
    assert Generation.objects.count() == 1
    assert submit(owner_client, "an image", "i1").status_code == 302  # 2 cents still fit
    # Last month's jobs do not count.
    Generation.objects.update(created_at=spend.month_start() - timedelta(seconds=1))
    assert submit_video(owner_client, "dusk", "v3").status_code == 302


@pytest.mark.django_db
def test_a_persons_own_budget_replaces_the_default(
    owner_client: Client, owner: User, settings
) -> None:
    settings.LUMAWEB_PERSON_MONTHLY_BUDGET_USD = Decimal(100)
    PersonBudget.objects.create(user=owner, monthly_usd=Decimal("1.00"))
    refused = submit_video(owner_client, "dawn", "v1")
    assert "$1.00 of this month&#x27;s $1.00 budget left" in refused.content.decode()
    PersonBudget.objects.filter(user=owner).update(monthly_usd=0)  # 0: no limit for them
    assert submit_video(owner_client, "dawn", "v2").status_code == 302


@pytest.mark.django_db
def test_the_team_budget_counts_everyone(owner_client: Client, teammate: User, settings) -> None:
    settings.LUMAWEB_TEAM_MONTHLY_BUDGET_USD = Decimal(3)
    _job(teammate, "200")
    refused = submit_video(owner_client, "dawn", "v1")
    assert refused.status_code == 400
    assert "the team has $1.00 of this month&#x27;s $3.00 budget left" in refused.content.decode()


def test_a_drift_is_signed_and_a_share_of_the_estimate_when_there_is_one() -> None:
    from generations.credits import Drift

    now = timezone.now()
    assert Drift(now, now, Decimal(120), Decimal(100)).amount == "+$0.20 (+20 %)"
    assert (
        Drift(now, now, Decimal(75), Decimal(100)).amount
        == "\N{MINUS SIGN}$0.25 (\N{MINUS SIGN}25 %)"
    )
    assert Drift(now, now, Decimal(30), Decimal(0)).amount == "+$0.30"  # nothing estimated
    assert Drift(now, now, Decimal(-500), Decimal(0)).text.endswith(
        "the balance rose by $5.00; the estimate for the jobs sent there then is $0.00."
    )  # a top-up


@pytest.mark.django_db(transaction=True)
def test_two_teammates_submitting_at_once_cannot_both_pass_the_team_budget(
    owner: User, teammate: User, settings
) -> None:
    """The team budget is checked under a team-wide lock, not only the person's: while one
    teammate's job is being recorded, another's check waits for it and then sees it."""
    settings.LUMAWEB_TEAM_MONTHLY_BUDGET_USD = Decimal("0.03")  # one 2¢ image fits, not two
    # The seeded row, stated: an earlier transactional test's flush empties the price table.
    Price.objects.update_or_create(
        provider="agents", kind="image", model="uni-1", resolution="", duration="",
        defaults={"cents": Decimal(2)},
    )  # fmt: skip
    outcome: list[str] = []

    def teammate_submits() -> None:
        try:
            record_generation(teammate, schema.GenerationRequest(prompt="a fox"), check_limits=True)
            outcome.append("recorded")
        except SubmissionRefused:
            outcome.append("refused")
        finally:
            connection.close()

    other = threading.Thread(target=teammate_submits)
    with transaction.atomic():
        record_generation(owner, schema.GenerationRequest(prompt="a cat"), check_limits=True)
        other.start()
        deadline = time.monotonic() + 120
        while not (outcome or _waiting_for_a_lock()) and time.monotonic() < deadline:
            time.sleep(0.05)
    other.join(timeout=120)
    assert outcome == ["refused"]
    assert Generation.objects.get().created_by == owner


def _waiting_for_a_lock() -> bool:
    """Whether another connection waits for a lock (PostgreSQL); on SQLite a second writer
    always waits for the first (IMMEDIATE transactions), which cannot be observed from here."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        return bool(cursor.fetchone()[0])


def test_the_team_lock_is_taken_before_the_person_lock_on_postgresql(
    owner: User, settings, monkeypatch
) -> None:
    """The locking query path on PostgreSQL, run without one: the team's advisory lock first
    (when a team budget is set), then the person's row, in every transaction (no deadlock)."""
    locks: list[str] = []

    class PostgreSQL:
        vendor = "postgresql"

        @contextlib.contextmanager
        def cursor(self) -> Iterator[Any]:
            yield SimpleNamespace(execute=lambda sql, params: locks.append(f"{sql} {params}"))

    rows = SimpleNamespace(
        select_for_update=lambda: rows,
        only=lambda *fields: rows,
        get=lambda pk: locks.append(f"user row {pk}"),
    )
    monkeypatch.setattr(spend, "connection", PostgreSQL())
    monkeypatch.setattr(spend, "get_user_model", lambda: SimpleNamespace(objects=rows))
    settings.LUMAWEB_TEAM_MONTHLY_BUDGET_USD = Decimal(0)
    spend.lock_budgets(owner)
    assert locks == [f"user row {owner.pk}"]  # no team budget: the person's row only
    settings.LUMAWEB_TEAM_MONTHLY_BUDGET_USD = Decimal(5)
    locks.clear()
    spend.lock_budgets(owner)
    assert locks == [
        f"SELECT pg_advisory_xact_lock(%s) [{spend.TEAM_BUDGET_LOCK}]",
        f"user row {owner.pk}",
    ]


@pytest.mark.django_db
def test_the_command_line_is_refused_by_the_budget_too(owner: User, settings) -> None:
    settings.LUMAWEB_PERSON_MONTHLY_BUDGET_USD = Decimal(1)
    with pytest.raises(CommandError, match=r"estimated at \$1\.50, and you have \$1\.00"):
        call_command(
            "create_generation", "--user", owner.username, "--prompt", "a dune",
            "--type", "video", "--resolution", "1080p", stdout=io.StringIO(),
        )  # fmt: skip
    assert not Generation.objects.exists()


@pytest.mark.django_db
def test_start_generation_with_limits_refuses_before_recording(owner: User, settings) -> None:
    """The path every caller with a person behind it takes (the form, the CLI, MCP)."""
    settings.LUMAWEB_PERSON_MONTHLY_BUDGET_USD = Decimal("0.01")
    with pytest.raises(SubmissionRefused, match=r"estimated at \$0\.02"):
        start_generation(owner, schema.GenerationRequest(prompt="a cat"), check_limits=True)
    assert not Generation.objects.exists()


def failed_piece(owner: User, prompt: str) -> Generation:
    """A job that failed in a way retried automatically, with the request a retry sends again."""
    request = schema.GenerationRequest(prompt=prompt).to_wire()
    return piece(
        owner, prompt, state=State.FAILED, failure_code="generation_failed", request=request
    )


@pytest.mark.django_db(transaction=True)
def test_a_job_never_accepted_upstream_costs_nothing(owner: User, run_worker, settings) -> None:
    # Found from outside (a team's admin): a job its upstream refused when it was sent (a 400,
    # a keyframe it did not know) kept its estimate in the budgets and on Usage.
    settings.LUMAWEB_PERSON_MONTHLY_BUDGET_USD = Decimal(10)
    # The seeded row, stated: an earlier transactional test's flush empties the price table.
    Price.objects.update_or_create(
        provider="agents", kind="image", model="uni-1", resolution="", duration="",
        defaults={"cents": Decimal(2)},
    )  # fmt: skip
    sim_fault("400", method="POST", path="/generations")
    refused, _ = start_generation(owner, schema.GenerationRequest(prompt="a quiet harbour"))
    assert refused.estimated_cents == Decimal(2)  # counted while it is being sent
    run_worker(terminal(refused))
    assert (refused.state, refused.estimated_cents) == (State.FAILED, Decimal(0))
    assert spend.budgets(owner)[0].spent_cents == 0
    accepted, _ = start_generation(owner, schema.GenerationRequest(prompt="a quiet pier"))
    run_worker(terminal(accepted))
    assert (accepted.state, accepted.estimated_cents) == (State.COMPLETED, Decimal(2))
    # Review: cancelled while it is being sent, it keeps its estimate (the upstream may still
    # accept it and charge); cancelled before any worker took it, it costs nothing.
    sending, _ = start_generation(owner, schema.GenerationRequest(prompt="a quiet quay"))
    assert sending.claim_for_submit()
    assert sending.mark_failed("cancelled", "Cancelled.")
    assert sending.estimated_cents == Decimal(2)
    draft, _ = start_generation(owner, schema.GenerationRequest(prompt="a quiet dock"))
    assert draft.mark_failed("cancelled", "Cancelled.")
    assert draft.estimated_cents == Decimal(0)
    # One no price row priced stays without an estimate: Usage counts those.
    Price.objects.all().delete()
    sim_fault("400", method="POST", path="/generations")
    unpriced, _ = start_generation(owner, schema.GenerationRequest(prompt="a quiet jetty"))
    run_worker(terminal(unpriced))
    assert (unpriced.state, unpriced.estimated_cents) == (State.FAILED, None)


@pytest.mark.django_db
def test_an_automatic_retry_the_team_budget_refuses_is_said_on_the_job_and_in_review(
    owner: User, staff: User, settings
) -> None:
    # Found from outside (a team's admin): the refusal was only a line in the worker's log; the
    # job's page said jobs like it are retried automatically, and Review had no word of it.
    failed = failed_piece(owner, "a paper crane")
    settings.LUMAWEB_TEAM_MONTHLY_BUDGET_USD = Decimal("0.01")
    assert tasks.after_failure(failed) is None
    reason = "Not retried automatically: This job is estimated at $0.02"
    page = Client()
    page.force_login(owner)
    assert reason in html.unescape(page.get(failed.get_absolute_url()).content.decode())
    page.force_login(staff)
    assert reason in html.unescape(page.get("/review/").content.decode())


@pytest.mark.django_db
def test_a_staff_retry_counts_against_the_team_not_the_person(
    owner: User, staff: User, settings
) -> None:
    failed = failed_piece(owner, "a harbour")
    settings.LUMAWEB_PERSON_MONTHLY_BUDGET_USD = Decimal("0.01")  # the person is out of budget
    again, created = tasks.retry_now(failed, staff)
    assert created
    assert again.estimated_cents == Decimal(2)
    assert spend.budgets(owner)[0].spent_cents == 0  # the person's spend leaves retries out

    other = failed_piece(owner, "a pier")
    settings.LUMAWEB_TEAM_MONTHLY_BUDGET_USD = Decimal("0.03")  # 2 cents spent, 1 left
    with pytest.raises(NotRetryable, match=r"the team has \$0\.01"):
        tasks.retry_now(other, staff)
    other.refresh_from_db()
    assert other.retried_as is None
    assert other.reviewed_at is None


def test_a_bad_budget_setting_stops_the_start_plainly(monkeypatch) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from lumaweb.settings import env_usd

    monkeypatch.setenv("LUMAWEB_TEAM_MONTHLY_BUDGET_USD", "lots")
    with pytest.raises(ImproperlyConfigured, match="an amount of dollars"):
        env_usd("LUMAWEB_TEAM_MONTHLY_BUDGET_USD")
    monkeypatch.setenv("LUMAWEB_TEAM_MONTHLY_BUDGET_USD", "250.50")
    assert env_usd("LUMAWEB_TEAM_MONTHLY_BUDGET_USD") == Decimal("250.50")


@pytest.mark.django_db
def test_variations_are_counted_as_that_many_jobs_and_refused_whole(
    owner_client: Client, owner: User, settings
) -> None:
    settings.LUMAWEB_SUBMIT_PER_MINUTE = 0
    settings.LUMAWEB_PERSON_MONTHLY_BUDGET_USD = Decimal("0.07")  # three images at 2 cents
    refused = submit(owner_client, "four takes", "x4", variations="4")
    assert refused.status_code == 400
    assert (
        "These 4 variations are estimated at $0.08, and you have $0.07 of this month&#x27;s "
        "$0.07 budget left. Nothing was sent"
    ) in refused.content.decode()
    assert not Generation.objects.exists()
    assert submit(owner_client, "two takes", "x2", variations="2").status_code == 302
    assert Generation.objects.count() == 2
    settings.LUMAWEB_PERSON_MONTHLY_BUDGET_USD = Decimal(0)
    settings.LUMAWEB_SUBMIT_PER_MINUTE = 5  # two started: four more would pass it
    refused = submit(owner_client, "four more", "x4b", variations="4")
    assert "4 variations would pass the 5 jobs a minute allowed" in refused.content.decode()
    assert Generation.objects.count() == 2


@pytest.mark.django_db
def test_the_budget_warning_on_usage_reads_as_a_sentence(
    owner_client: Client, owner: User, settings
) -> None:
    # Found from outside: "85 % of the your monthly budget is used."
    settings.LUMAWEB_PERSON_MONTHLY_BUDGET_USD = Decimal("2.00")
    _job(owner, "180")
    text = owner_client.get("/usage/").content.decode()
    assert "90 % of your monthly budget is used." in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("period", "slots", "filled"), [("day", 10, 2), ("week", 2, 2), ("month", 1, 1)]
)
def test_the_chart_has_a_place_for_every_period_jobs_or_not(
    owner: User, owner_client: Client, period: str, slots: int, filled: int
) -> None:
    """Found from outside: "Per day" drew only the days that had jobs, side by side, so six
    bars a week apart read as six days in a row."""
    for day in ("2026-11-03", "2026-11-12"):
        job = piece(owner, f"a job of {day}", estimated_cents=Decimal(10))
        Generation.objects.filter(pk=job.pk).update(created_at=f"{day}T12:00:00Z")
    query = {"period": period, "since": "2026-11-03", "until": "2026-11-12"}
    bars = owner_client.get("/usage/", query).context["bars"]
    assert len(bars) == slots
    assert sum(1 for bar in bars if bar.segments) == filled
    assert not owner_client.get("/usage/", {"since": "2020-01-01", "until": "2020-01-05"}).context[
        "bars"
    ]
    # Review: a range of thousands of years made a place for each of its days (30 s, 1.8 GB);
    # the places run from the first period with jobs to the last.
    ages = {"period": period, "since": "1970-01-01", "until": "9000-12-31"}
    assert len(owner_client.get("/usage/", ages).context["bars"]) == slots


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("period", "first", "last", "places"),
    [
        ("day", "01 Oct", "31 Dec", 92),
        ("week", "wk 28 Sep", "wk 28 Dec", 14),
        ("month", "Oct 2026", "Dec 2026", 3),
    ],
)
def test_the_charts_axis_is_the_range_asked_for(
    owner: User, owner_client: Client, period: str, first: str, last: str, places: int
) -> None:
    """Left open last stop: the axis ran from the first period with jobs to the last, so a
    month whose jobs fell on the 3rd and the 12th drew ten days and looked like a busy month."""
    for day in ("2026-11-03", "2026-11-12"):
        job = piece(owner, f"a job of {day}", estimated_cents=Decimal(10))
        Generation.objects.filter(pk=job.pk).update(created_at=f"{day}T12:00:00Z")
    query = {"period": period, "since": "2026-10-01", "until": "2026-12-31"}
    bars = owner_client.get("/usage/", query).context["bars"]
    assert (bars[0].label, bars[-1].label, len(bars)) == (first, last, places)
