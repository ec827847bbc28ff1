"""`seed_gallery`: synthetic history for benchmarks, shaped like the real thing, never upstream."""

from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from generations import search
from generations.cards import CACHE as CARDS
from generations.models import (
    ArchiveState,
    Generation,
    GenerationEvent,
    Lineage,
    Output,
    State,
    UpstreamCallCount,
)
from generations.providers.agents import schema
from generations.simulators.models import SimGeneration

pytestmark = pytest.mark.integration


def seed(count: int) -> None:
    call_command("seed_gallery", str(count), "--batch", "50", verbosity=0)


def queries(client: Client, url: str, **headers: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return len(captured)


def seen_twice(client: Client, url: str) -> tuple[int, int]:
    """The queries of a page seen first (every card rendered, as after changes to all of them)
    and then again (every card from the cache).

    Both in the same second: an unfinished card shows how long it has been going ("1 min 5 s"),
    so a second passing between the two would rightly re-render it."""
    caches[CARDS].clear()
    with mock.patch("django.utils.timezone.now", return_value=timezone.now()):
        return queries(client, url), queries(client, url)


def test_it_makes_every_kind_state_and_person_with_archived_outputs(db) -> None:
    seed(400)
    generations = Generation.objects.all()
    assert generations.count() == 400
    assert set(generations.values_list("kind", flat=True)) == set(schema.GENERATION_TYPES)
    states = set(generations.values_list("state", flat=True))
    assert {State.COMPLETED, State.FAILED, State.QUEUED, State.PROCESSING} <= states
    assert generations.values("created_by").distinct().count() > 5
    completed = generations.filter(state=State.COMPLETED)
    assert not completed.filter(outputs__isnull=True).exists()
    archived = Output.objects.filter(archive_state=ArchiveState.ARCHIVED)
    assert archived.count() >= completed.count()
    for output in archived[:20]:
        assert all(default_storage.exists(name) for name in output.stored_files)
    assert Output.objects.filter(kind="video", poster__gt="", preview__gt="").exists()
    assert Output.objects.filter(layer__isnull=False).exists()
    assert GenerationEvent.objects.count() >= 400


def test_lineage_points_at_real_earlier_pieces(db) -> None:
    seed(400)
    children = Generation.objects.exclude(lineage="").select_related("parent")
    assert {Lineage.EDIT, Lineage.ANIMATE, Lineage.LAYERS} <= set(
        children.values_list("lineage", flat=True)
    )
    for child in children:
        assert child.parent is not None
        assert child.parent.created_at < child.created_at
        source = child.request.get("source") or child.request.get("video", {}).get("start_frame")
        if child.lineage not in (Lineage.RETRY, Lineage.REMIX):
            assert source == {"generation_id": child.parent.upstream_id}
    for retried in Generation.objects.filter(retried_as__isnull=False).select_related("retried_as"):
        assert retried.state == State.FAILED
        assert retried.retried_as.parent_id == retried.pk


def test_every_seeded_request_is_one_the_api_accepts(db) -> None:
    seed(200)
    for request in Generation.objects.values_list("request", flat=True):
        schema.GenerationRequest.model_validate(request)


def test_prompt_search_finds_seeded_rows(db) -> None:
    seed(300)
    everything = Generation.objects.all()
    found = search.matching(everything, "lighthouse")
    assert found.count() == everything.filter(prompt__icontains="lighthouse").count() > 0


def test_it_never_calls_upstream(db) -> None:
    seed(100)
    assert not UpstreamCallCount.objects.exists()
    assert not SimGeneration.objects.exists()
    # Unfinished seeded jobs have no poll scheduled, so a running worker leaves them alone.
    assert not Generation.objects.filter(next_poll_at__isnull=False).exists()


def test_seeding_again_adds_new_rows(db) -> None:
    seed(60)
    seed(60)
    assert Generation.objects.count() == 120


def test_page_queries_do_not_grow_with_the_gallery(db, owner_client: Client, owner: User) -> None:
    seed(60)
    unfinished = Generation.objects.filter(state__in=[State.QUEUED, State.PROCESSING]).first()
    detail = Generation.objects.filter(state=State.COMPLETED, parent__isnull=False).first()
    assert unfinished is not None
    assert detail is not None
    urls = {
        "gallery": reverse("gallery"),
        "search": f"{reverse('gallery')}?q=fox&kind=image&state=completed",
        "detail": detail.get_absolute_url(),
    }
    owner_client.get(urls["gallery"])  # the CSRF cookie, as a browser has after its first page
    small = {name: seen_twice(owner_client, url) for name, url in urls.items()}
    with CaptureQueriesContext(connection) as polled:
        answer = owner_client.get(
            reverse("poll"), {"seen": f"{unfinished.uuid}:{unfinished.state}"}
        )
    assert answer.status_code == 204
    # At most the session (its row, when the shared session cache misses), the person, and one
    # read of the states the page shows.
    assert len(polled) <= 3
    seed(600)
    large = {name: seen_twice(owner_client, url) for name, url in urls.items()}
    assert large == small  # the point: nothing grows with the gallery
    # The detail page's most: session, person, the piece, its outputs, related pieces with their
    # first outputs, and the boards it is on.
    assert max(max(counts) for counts in large.values()) <= 7
