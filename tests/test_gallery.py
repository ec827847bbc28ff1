"""The team gallery: keyset pages, filters, search, stars, downloads, deletes, media, toasts."""

import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from PIL import Image

from generations import search
from generations.gallery import PAGE_SIZE, decode_cursor, encode_cursor
from generations.models import (
    ArchiveState,
    Generation,
    Input,
    Lineage,
    Output,
    Star,
    State,
)
from tests.factories import START, make

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def png(size: tuple[int, int] = (64, 48), colour: str = "teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def archive(output: Output, data: bytes | None = None) -> Output:
    """Give an output archived files, as generations.archive would."""
    data = data or png()
    base = f"outputs/{output.generation.uuid}/{output.index}"
    output.file.name = default_storage.save(f"{base}.png", ContentFile(data))
    output.thumb.name = default_storage.save(f"{base}-thumb.webp", ContentFile(data))
    output.thumb_large.name = default_storage.save(f"{base}-large.webp", ContentFile(data))
    output.archive_state = ArchiveState.ARCHIVED
    output.size_bytes = len(data)
    output.save()
    return output


def cards(html: str) -> int:
    return html.count('class="card card--')


@pytest.fixture
def teammate_client(teammate: User) -> Client:
    client = Client()
    client.force_login(teammate)
    return client


@pytest.fixture
def staff_client(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


# --- the grid and its keyset pages ---


def test_the_gallery_lists_the_team_newest_first(
    owner_client: Client, owner: User, teammate: User
) -> None:
    old = make(owner, "an older owl")
    new = make(teammate, "a newer newt")
    html = owner_client.get(reverse("gallery")).content.decode()
    assert html.index("a newer newt") < html.index("an older owl")
    assert f'id="card-{old.uuid}"' in html
    assert f'id="card-{new.uuid}"' in html
    assert "tariq" in html


def test_pages_follow_a_cursor_without_offset_and_stay_stable_as_jobs_arrive(
    owner_client: Client, owner: User
) -> None:
    made = [make(owner, f"item {n}") for n in range(PAGE_SIZE + 10)]
    first = owner_client.get(reverse("gallery")).content.decode()
    assert cards(first) == PAGE_SIZE
    next_url = first.split('class="gallery__more" href="')[1].split('"')[0].replace("&amp;", "&")
    make(owner, "arrived meanwhile", created_at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        second = owner_client.get(next_url, headers={"HX-Request": "true"})
    assert "OFFSET" not in " ".join(q["sql"] for q in queries.captured_queries).upper()
    html = second.content.decode()
    assert "<html" not in html
    assert cards(html) == 10
    assert "arrived meanwhile" not in html
    assert [f"item {n}" in html for n in range(10)] == [True] * 10
    assert "gallery__more" not in html
    assert f'id="card-{made[PAGE_SIZE + 9].uuid}"' not in html


def test_equal_timestamps_neither_repeat_nor_vanish_across_pages(
    owner_client: Client, owner: User
) -> None:
    moment = timezone.now()
    made = {make(owner, f"tie {n}", created_at=moment).uuid for n in range(PAGE_SIZE + 3)}
    seen: list[str] = []
    url = reverse("gallery")
    while url:
        html = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
        seen += [g for g in map(str, made) if f'id="card-{g}"' in html]
        url = (
            html.split('class="gallery__more" href="')[1].split('"')[0].replace("&amp;", "&")
            if "gallery__more" in html
            else ""
        )
    assert sorted(seen) == sorted(map(str, made))


def test_a_cursor_is_opaque_and_a_bad_one_means_the_first_page(owner: User) -> None:
    generation = make(owner)
    cursor = encode_cursor(generation)
    assert str(generation.pk) not in cursor.split("|")
    assert decode_cursor(cursor) == (generation.created_at, generation.uuid)
    assert decode_cursor("not-a-cursor") is None


def test_the_keyset_query_walks_the_index(owner: User) -> None:
    from generations.gallery import after_cursor

    generation = make(owner)
    queryset = after_cursor(Generation.objects.all(), encode_cursor(generation))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
    plan = queryset.order_by("-created_at", "-id")[:25].explain()
    assert "gen_newest" in plan
    assert "created_at<" in plan.replace(" ", "").replace('"', "").replace(
        "generations_generation.", ""
    )
    assert "TEMP B-TREE" not in plan


@pytest.mark.parametrize("items", [3, 40])
def test_gallery_queries_do_not_grow_with_items(
    owner_client: Client, owner: User, teammate: User, items: int, django_assert_max_num_queries
) -> None:
    for n in range(items):
        generation = make(owner if n % 2 else teammate, f"thing {n}", outputs=1 + n % 3)
        if n % 4 == 0:
            Star.objects.create(user=owner, generation=generation)
    # Seen first, every card is rendered: the jobs are read whole in one more query.
    with django_assert_max_num_queries(6):
        assert owner_client.get(reverse("gallery")).status_code == 200
    with django_assert_max_num_queries(5):  # then every card comes from the cache
        assert owner_client.get(reverse("gallery")).status_code == 200
    filtered = reverse("gallery") + "?kind=image&state=completed&person=olivia&starred=on"
    for _ in range(2):
        with django_assert_max_num_queries(6):
            response = owner_client.get(filtered + "&q=thing&ratio=1:1&since=2026-01-01")
            assert response.status_code == 200
    with django_assert_max_num_queries(8):  # the home page's form has queries of its own
        assert owner_client.get("/").status_code == 200


def test_every_kind_of_card_is_shown_from_the_page_query_alone(
    owner_client: Client, owner: User, teammate: User, django_assert_max_num_queries
) -> None:
    """A gallery page reads only the columns a card shows (`CARD_COLUMNS`): a card showing one
    it does not read would cost a query per card. One page holds every kind of card."""
    failed = make(teammate, "tried once", state=State.FAILED, failure_code="moderation")
    retry = make(teammate, "tried again", state=State.PROCESSING, auto_retry=1, parent=failed)
    failed.retried_as = retry
    failed.save()
    by_admin = make(owner, "retried by hand", state=State.FAILED, failure_code="upstream_error")
    by_admin.retried_as = make(owner, "the admin's retry", state=State.QUEUED)
    by_admin.save()
    make(owner, "long queued", state=State.QUEUED, created_at=timezone.now() - timedelta(days=1))
    make(teammate, "layers", kind="layering", outputs=3, via="mcp")
    make(owner, "a clip", kind="video", provider="dream_machine", model="ray-2")
    missing = make(owner, "lost", outputs=1)
    missing.outputs.update(archive_state="failed", archive_error="gone")
    with django_assert_max_num_queries(6):  # every card rendered: see the test above
        html = owner_client.get(reverse("gallery")).content.decode()
    for words in ["Automatic retry 1", "Retried by an admin", "Taking longer", "3 layers"]:
        assert words in html
    assert "via MCP" in html
    assert "Not archived" in html


def test_the_home_page_shows_the_first_page_and_a_way_to_more(
    owner_client: Client, owner: User
) -> None:
    for n in range(PAGE_SIZE + 1):
        make(owner, f"home {n}")
    html = owner_client.get("/").content.decode()
    assert cards(html) == PAGE_SIZE
    assert 'hx-trigger="revealed, click"' in html
    assert 'id="gallery"' in html


# --- filters and search ---


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=video", {"video by tariq"}),
        ("model=ray-3.2", {"video by tariq"}),
        ("state=failed", {"failed by olivia"}),
        ("state=active", {"running by olivia"}),
        ("person=tariq", {"video by tariq", "square by tariq"}),
        ("ratio=9:16", {"video by tariq"}),
        ("starred=on", {"square by tariq"}),
        ("since=2026-03-02", {"running by olivia"}),
        ("until=2026-02-28", {"failed by olivia"}),
        # Found from outside: dates the wrong way round found nothing (the usage page takes
        # them as the range they name, and so does the gallery now).
        ("since=2026-02-28&until=2026-02-26", {"failed by olivia"}),
        ("person=tariq&kind=image", {"square by tariq"}),
        (
            "person=nobody",
            {"video by tariq", "square by tariq", "failed by olivia", "running by olivia"},
        ),
    ],
)
def test_filters_narrow_and_combine(
    owner_client: Client, owner: User, teammate: User, query: str, expected: set[str]
) -> None:
    everything = {
        make(teammate, "video by tariq", kind="video", model="ray-3.2", aspect_ratio="9:16"),
        make(teammate, "square by tariq"),
        make(owner, "failed by olivia", state=State.FAILED, created_at=START - timedelta(days=2)),
        make(
            owner, "running by olivia", state=State.PROCESSING, created_at=START + timedelta(days=2)
        ),
    }
    Star.objects.create(user=owner, generation=Generation.objects.get(prompt="square by tariq"))
    Star.objects.create(user=teammate, generation=Generation.objects.get(prompt="video by tariq"))
    html = owner_client.get(f"{reverse('gallery')}?{query}").content.decode()
    shown = {g.prompt for g in everything if f'id="card-{g.uuid}"' in html}
    assert shown == expected


def test_filters_survive_into_the_next_page_link(owner_client: Client, owner: User) -> None:
    for n in range(PAGE_SIZE + 2):
        make(owner, f"fox {n}", kind="image")
    html = owner_client.get(f"{reverse('gallery')}?kind=image&q=fox").content.decode()
    link = html.split('class="gallery__more" href="')[1].split('"')[0]
    assert "kind=image" in link
    assert "q=fox" in link
    assert "cursor=" in link


def test_the_kind_filter_finds_upscales_and_added_audio_as_their_cards_name_them(
    owner_client: Client, owner: User
) -> None:
    # Found from outside (a creative): a card said "Upscale", but the Kind filter offered no
    # Upscale (nor Audio added); they are stored as video edits, and found only among those.
    upscale = make(
        owner, "upscaled", kind="video_edit", provider="dream_machine", model="upscale_video"
    )
    audio = make(
        owner, "with sound", kind="video_edit", provider="dream_machine", model="add_audio"
    )
    edit = make(owner, "restyled", kind="video_edit")
    for kind, shown in [
        ("upscale_video", {upscale}),
        ("add_audio", {audio}),
        ("video_edit", {upscale, audio, edit}),  # what budgets count them as
    ]:
        page = owner_client.get(f"{reverse('gallery')}?kind={kind}")
        html = page.content.decode()
        assert {g for g in (upscale, audio, edit) if f'id="card-{g.uuid}"' in html} == shown
    toolbar = owner_client.get(reverse("gallery")).content.decode()
    assert '<option value="upscale_video">Upscale</option>' in toolbar
    assert '<option value="add_audio">Audio added</option>' in toolbar


def test_search_finds_a_word_of_a_prompt_and_prefixes(owner_client: Client, owner: User) -> None:
    harbour = make(owner, "A quiet harbour at dawn, fishing boats")
    make(owner, "A desert highway at night")
    for query, found in [("harbour", True), ("HARB", True), ("boats dawn", True), ("night", False)]:
        html = owner_client.get(f"{reverse('gallery')}?q={query}").content.decode()
        assert (f'id="card-{harbour.uuid}"' in html) is found, query


def test_search_follows_edits_and_deletes(owner: User) -> None:
    generation = make(owner, "a lighthouse")

    def found(text: str) -> list[int]:
        return list(search.matching(Generation.objects.all(), text).values_list("pk", flat=True))

    assert found("lighthouse") == [generation.pk]
    Generation.objects.filter(pk=generation.pk).update(prompt="a windmill")
    assert found("lighthouse") == []
    assert found("windmill") == [generation.pk]
    generation.delete()
    assert found("windmill") == []


def test_search_uses_the_full_text_index(owner: User) -> None:
    make(owner, "a lighthouse")
    queryset = search.matching(Generation.objects.all(), "lighthouse")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # a tiny table would be scanned; ask for the plan
            cursor.execute("SET LOCAL enable_seqscan = off")
    plan = queryset.explain()
    assert ("VIRTUAL TABLE INDEX" if connection.vendor == "sqlite" else "gen_prompt_search") in plan


def test_the_search_index_comes_back_when_a_migration_rebuilt_the_table(owner: User) -> None:
    make(owner, "before the rebuild")
    if connection.vendor == "sqlite":  # what SQLite's table rebuild does to triggers
        with connection.cursor() as cursor:
            for name in ("ai", "ad", "au"):
                cursor.execute(f"DROP TRIGGER generations_generation_fts_{name}")
    make(owner, "during the gap")
    search.ensure_search_index()
    assert search.matching(Generation.objects.all(), "gap").count() == 1
    make(owner, "after the repair")
    assert search.matching(Generation.objects.all(), "repair").count() == 1


def test_search_ignores_query_syntax(owner_client: Client, owner: User) -> None:
    make(owner, 'quote " and star * and NEAR(')
    for query in ['"', "*", "NEAR(", "AND OR NOT", "-"]:
        assert owner_client.get(reverse("gallery"), {"q": query}).status_code == 200


def test_the_filters_offer_every_upstreams_models_and_shapes(
    owner_client: Client, owner: User
) -> None:
    """Found from outside: Dream Machine's pieces (ray-2, 9:21) had no model or shape to pick."""
    dreamt = make(
        owner, "a dreamt lake", model="ray-2", aspect_ratio="9:21", provider="dream_machine"
    )
    make(owner, "an agent's lake")
    html = owner_client.get(reverse("gallery"), {"model": "ray-2"}).content.decode()
    assert '<option value="ray-2" selected>' in html
    assert '<option value="photon-flash-1">' in html
    assert '<option value="9:21">' in html
    assert f'id="card-{dreamt.uuid}"' in html
    assert "an agent&#x27;s lake" not in html
    shaped = owner_client.get(reverse("gallery"), {"ratio": "9:21"}).content.decode()
    assert "an agent&#x27;s lake" not in shaped


def test_a_search_with_no_words_in_it_finds_the_prompts_that_hold_it_as_written(
    owner_client: Client, owner: User
) -> None:
    """Found from outside: "!!!" or an emoji (no word a full-text index keeps) showed every
    piece under "Filtered"."""
    shouting = make(owner, "Ship it!!! confetti")
    robot = make(owner, "\U0001f916 a friendly robot")
    make(owner, "a quiet harbour")
    for query, expected in [("!!!", {shouting}), ("\U0001f916", {robot}), ("???", set())]:
        html = owner_client.get(reverse("gallery"), {"q": query}).content.decode()
        shown = {g for g in (shouting, robot) if f'id="card-{g.uuid}"' in html}
        assert shown == expected, query
        assert "a quiet harbour" not in html, query


def test_a_filter_the_gallery_cannot_use_is_said_not_silently_dropped(
    owner_client: Client, owner: User
) -> None:
    """Found from outside: a search over 200 characters showed everything, still "Filtered"."""
    make(owner, "a quiet harbour")
    html = owner_client.get(reverse("gallery"), {"q": "harbour" * 30}).content.decode()
    assert 'class="callout callout--warn gallery__refused" role="alert"' in html
    assert "Search prompts: use at most 200 characters (this has 210)." in html
    assert "not applied" in html
    dates = owner_client.get(reverse("gallery"), {"since": "yesterday"}, HTTP_HX_REQUEST="true")
    # In the results htmx swaps in, too.
    assert "From: Enter a valid date. This filter is not applied." in dates.content.decode()


# --- cards ---


def test_a_running_card_shows_elapsed_time_and_polls(owner_client: Client, owner: User) -> None:
    generation = make(
        owner, state=State.PROCESSING, submitted_at=timezone.now() - timedelta(seconds=75)
    )
    html = owner_client.get(reverse("generation-card", args=[generation.uuid])).content.decode()
    assert 'data-poll="processing"' in html
    assert "1 min 15 s" in html or "1 min 16 s" in html
    # A job stuck for days says so in days, not "76 h 10 min" (found looking at a seeded studio).
    stuck = make(owner, state=State.PROCESSING,
                 submitted_at=timezone.now() - timedelta(days=3, hours=4, minutes=10))  # fmt: skip
    html = owner_client.get(reverse("generation-card", args=[stuck.uuid])).content.decode()
    assert ">3 d 4 h</time>" in html


def test_a_stale_card_far_down_the_page_refreshes_only_when_it_scrolls_into_view(
    owner_client: Client, owner: User
) -> None:
    generation = make(owner)
    generation.outputs.update(url_expires_at=timezone.now() + timedelta(seconds=30))
    html = owner_client.get(reverse("gallery")).content.decode()
    assert "cdn.test" not in html
    assert 'hx-trigger="intersect once"' in html
    generation.refresh_from_db()
    assert generation.url_refresh_claimed_at is None, "listing must not start refreshes"
    owner_client.get(reverse("generation-card", args=[generation.uuid]))  # scrolled into view
    generation.refresh_from_db()
    assert generation.url_refresh_claimed_at is not None


@pytest.mark.parametrize("state", [State.PROCESSING, State.COMPLETED, State.FAILED])
def test_the_poll_is_a_fixed_number_of_queries(
    owner_client: Client, owner: User, state: str, django_assert_max_num_queries
) -> None:
    generation = make(owner, state=state, outputs=3)
    with django_assert_max_num_queries(6):
        response = owner_client.get(reverse("poll"), {"seen": f"{generation.uuid}:queued"})
    assert response.status_code == 200


def test_an_archived_card_uses_our_copy_and_the_owner_sees_delete(
    owner_client: Client, teammate_client: Client, owner: User
) -> None:
    generation = make(owner)
    output = archive(generation.outputs.get())
    html = owner_client.get(reverse("generation-card", args=[generation.uuid])).content.decode()
    assert reverse("media", args=[output.thumb.name]) in html
    assert "cdn.test" not in html
    assert reverse("generation-delete", args=[generation.uuid]) in html
    other = teammate_client.get(reverse("generation-card", args=[generation.uuid]))
    assert reverse("generation-delete", args=[generation.uuid]) not in other.content.decode()


# --- stars ---


def test_a_star_is_per_person_and_survives_a_double_click(
    owner_client: Client, teammate_client: Client, owner: User
) -> None:
    generation = make(owner)
    url = reverse("generation-star", args=[generation.uuid])
    for _ in range(2):
        response = owner_client.post(url, {"starred": "1"}, headers={"HX-Request": "true"})
    assert 'aria-pressed="true"' in response.content.decode()
    assert Star.objects.filter(generation=generation).count() == 1
    teammate_view = teammate_client.get(reverse("gallery")).content.decode()
    assert 'aria-pressed="false"' in teammate_view
    owner_client.post(url, {"starred": "0"})
    assert not Star.objects.exists()


def test_a_star_without_javascript_returns_to_the_page(owner_client: Client, owner: User) -> None:
    generation = make(owner)
    response = owner_client.post(
        reverse("generation-star", args=[generation.uuid]),
        {"starred": "1", "next": "/gallery/?kind=image"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/gallery/?kind=image"
    evil = owner_client.post(
        reverse("generation-star", args=[generation.uuid]),
        {"starred": "1", "next": "https://evil.test/"},
    )
    assert evil["Location"] == generation.get_absolute_url()


# --- delete ---


def test_the_owner_deletes_into_the_trash_and_its_files_stay(
    owner_client: Client, owner: User, django_capture_on_commit_callbacks
) -> None:
    generation = make(owner)
    output = archive(generation.outputs.get())
    upload = Input.objects.create(
        generation=generation,
        uploaded_by=owner,
        role="source",
        file=default_storage.save(f"inputs/{generation.uuid}/in.png", ContentFile(png())),
        original_name="in.png",
        mime_type="image/png",
        size_bytes=10,
        sha256="x",
    )
    names = [*output.stored_files, upload.file.name]
    assert all(default_storage.exists(name) for name in names)
    url = reverse("generation-delete", args=[generation.uuid])
    confirm = owner_client.get(url)
    assert "restore it for 30 days" in confirm.content.decode()
    assert Generation.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            url, headers={"HX-Request": "true", "HX-Target": f"card-{generation.uuid}"}
        )
    assert response.status_code == 200
    # The card gives its place to a note with an Undo (found from outside: a browser pop-up
    # asked first, though the piece only goes to the Trash, and nothing offered it back).
    note = response.content.decode()
    assert f'id="card-{generation.uuid}"' in note
    assert "Moved to the Trash" in note
    assert f'hx-post="{reverse("generation-restore", args=[generation.uuid])}"' in note
    assert Generation.objects.get().deleted_at is not None
    # Its files stay until the trash is purged (tests/test_trash.py).
    assert all(default_storage.exists(name) for name in names)


def test_a_card_moved_to_the_trash_asks_nothing_and_its_undo_brings_the_card_back(
    owner_client: Client, owner: User
) -> None:
    generation = make(owner, "a kite on the beach")
    card = f"card-{generation.uuid}"
    html = owner_client.get(reverse("gallery")).content.decode()
    assert "hx-confirm" not in html.split(f'id="{card}"')[1].split("</article>")[0]
    as_card = {"HX-Request": "true", "HX-Target": card}
    owner_client.post(reverse("generation-delete", args=[generation.uuid]), headers=as_card)
    undo = owner_client.post(reverse("generation-restore", args=[generation.uuid]), headers=as_card)
    assert undo.status_code == 200
    restored = undo.content.decode()
    assert f'id="{card}"' in restored
    assert "data-card" in restored
    assert "a kite on the beach" in restored
    assert Generation.objects.get().deleted_at is None
    # Without htmx the Trash page's Restore still goes back to the Trash.
    owner_client.post(reverse("generation-delete", args=[generation.uuid]))
    plain = owner_client.post(reverse("generation-restore", args=[generation.uuid]))
    assert plain["Location"] == reverse("trash")


def test_a_teammate_cannot_delete_but_staff_can(
    teammate_client: Client, staff_client: Client, owner: User
) -> None:
    generation = make(owner)
    url = reverse("generation-delete", args=[generation.uuid])
    assert teammate_client.get(url).status_code == 403
    assert teammate_client.post(url).status_code == 403
    assert Generation.objects.exists()
    response = staff_client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery")
    assert Generation.objects.get().deleted_by is not None


def test_deleting_a_parent_keeps_its_children(owner_client: Client, owner: User) -> None:
    parent = make(owner, "parent")
    child = make(owner, "child", parent=parent, lineage=Lineage.EDIT)
    owner_client.post(reverse("generation-delete", args=[parent.uuid]))
    child.refresh_from_db()
    assert child.deleted_at is None
    assert child.parent == parent  # in the trash, still its parent until purged


# --- downloads and protected media ---


def test_a_download_is_the_original_under_a_sensible_name(
    owner_client: Client, owner: User
) -> None:
    generation = make(owner, "A Fox, in the Snow!")
    output = archive(generation.outputs.get(), png(colour="red"))
    response = owner_client.get(reverse("generation-download", args=[generation.uuid, 0]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == default_storage.open(output.file.name).read()
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="a-fox-in-the-snow-')
    assert f"{str(generation.uuid)[:8]}.png" in disposition


def test_a_layer_download_is_named_after_its_label(owner_client: Client, owner: User) -> None:
    generation = make(owner, "layers", kind="layering", outputs=3)
    for output in generation.outputs.all():
        archive(output)
    response = owner_client.get(reverse("generation-download", args=[generation.uuid, 2]))
    assert "-layer-layer-2.png" in response["Content-Disposition"]


def test_an_unarchived_download_goes_to_a_fresh_link_or_waits(
    owner_client: Client, owner: User, django_capture_on_commit_callbacks
) -> None:
    generation = make(owner)
    url = reverse("generation-download", args=[generation.uuid, 0])
    response = owner_client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("https://cdn.test/")
    generation.outputs.update(url_expires_at=timezone.now() + timedelta(seconds=10))
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.get(url)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert DBTaskResult.objects.filter(task_path__endswith="refresh_output_urls").count() == 1


def test_media_is_for_logged_in_people_only(
    client: Client, owner_client: Client, owner: User
) -> None:
    output = archive(make(owner).outputs.get())
    url = reverse("media", args=[output.file.name])
    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    response = owner_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "private" in response["Cache-Control"]


@pytest.mark.parametrize(
    "name",
    [
        "../secret_key",
        "outputs/../../secret_key",
        "sim/x.png",
        "outputs//x.png",
        "outputs/nope.png",
    ],
)
def test_media_outside_the_archive_is_not_found(owner_client: Client, name: str) -> None:
    assert owner_client.get(f"/media/{name}").status_code == 404


def test_media_answers_a_byte_range_for_video_seeking(owner_client: Client, owner: User) -> None:
    data = png()
    output = archive(make(owner).outputs.get(), data)
    url = reverse("media", args=[output.file.name])
    response = owner_client.get(url, headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert b"".join(response.streaming_content) == data[10:20]
    tail = owner_client.get(url, headers={"Range": "bytes=-5"})
    assert b"".join(tail.streaming_content) == data[-5:]
    # Found from outside (an attacker): a number longer than Python reads (4,300 digits) was a
    # 500. A last byte past the end is the end (as 2**64 - 1, which clients send for it); a
    # first byte past it is no range: the whole file.
    nines = "9" * 4301
    for huge, status in [
        (f"bytes=0-{nines}", 206),
        ("bytes=0-18446744073709551615", 206),
        (f"bytes=-{nines}", 206),
        (f"bytes={nines}-", 200),
    ]:
        whole = owner_client.get(url, headers={"Range": huge})
        assert (huge[:30], whole.status_code) == (huge[:30], status)
        assert b"".join(whole.streaming_content) == data


@pytest.mark.parametrize(
    ("mode", "header", "expected"),
    [
        ("x-accel", "X-Accel-Redirect", "/protected-media/outputs/"),
        ("x-sendfile", "X-Sendfile", "/media/outputs/"),
    ],
)
def test_media_can_be_handed_to_the_web_server(
    owner_client: Client, owner: User, settings, mode: str, header: str, expected: str
) -> None:
    settings.LUMAWEB_MEDIA_ACCEL = mode
    output = archive(make(owner).outputs.get())
    response = owner_client.get(reverse("media", args=[output.file.name]))
    assert response.status_code == 200
    assert expected in response[header]
    assert response.content == b""


# --- the detail page ---


def test_a_piece_with_a_parent_and_children_is_six_queries(
    owner_client: Client, owner: User, teammate: User, django_assert_max_num_queries
) -> None:
    """As the benchmark's detail page: its outputs come with its relatives' first ones."""
    parent = make(owner, "the parent")
    generation = make(owner, "the piece", parent=parent, lineage=Lineage.REMIX, outputs=3)
    children = [
        make(teammate, f"child {n}", parent=generation, lineage=Lineage.REMIX, outputs=2)
        for n in range(2)
    ]
    # Session, user, the piece, its relatives, the outputs of both, the boards it is on.
    with django_assert_max_num_queries(6):
        html = owner_client.get(generation.get_absolute_url()).content.decode()
    for output in generation.outputs.all():
        assert output.url in html
    for relative in [parent, *children]:
        assert relative.get_absolute_url() in html
        assert relative.outputs.get(index=0).url in html
    for child in children:  # a relative shows its first output only
        assert child.outputs.get(index=1).url not in html


def test_the_detail_page_shows_lineage_inputs_and_is_a_fixed_number_of_queries(
    owner_client: Client, owner: User, teammate: User, django_assert_max_num_queries
) -> None:
    source = make(owner, "the source image", upstream_id="up-source")
    archive(source.outputs.get())
    parent = make(owner, "the parent")
    generation = make(owner, "the piece", parent=parent, lineage=Lineage.EDIT, kind="image_edit")
    generation.request = {
        "prompt": "the piece",
        "type": "image_edit",
        "source": {"generation_id": "up-source"},
        "image_ref": [{"file_id": "file-1"}, {"url": "https://example.test/ref.png"}],
    }
    generation.save()
    Input.objects.create(
        generation=generation,
        uploaded_by=owner,
        role="image_ref",
        file=default_storage.save("inputs/x/ref.png", ContentFile(png())),
        original_name="my-reference.png",
        mime_type="image/png",
        size_bytes=10,
        sha256="x",
        file_id="file-1",
    )
    for n in range(6):
        make(
            teammate,
            f"child {n}",
            parent=generation,
            lineage=Lineage.RETRY if n == 0 else Lineage.REMIX,
        )
    # Session, user, the piece, related pieces, the outputs of both (the piece's all, theirs
    # the first), uploads, the boards it is on.
    with django_assert_max_num_queries(7):
        response = owner_client.get(generation.get_absolute_url())
    html = response.content.decode()
    assert "Edit of" in html
    assert "the parent" in html
    assert "Source" in html
    assert "the source image" in html
    assert "my-reference.png" in html
    assert "https://example.test/ref.png" in html
    assert "Retry" in html
    assert all(f"child {n}" in html for n in range(6))
    assert "Copy prompt" in html
    assert reverse("generation-download", args=[generation.uuid, 0]) in html


def test_the_detail_page_of_a_video_plays_full_size_with_controls_and_loop(
    owner_client: Client, owner: User
) -> None:
    generation = make(owner, "a wave", kind="video", model="ray-3.2")
    html = owner_client.get(generation.get_absolute_url()).content.decode()
    assert "<video" in html
    assert "controls loop" in html


def test_a_long_prompt_has_a_short_heading_and_is_shown_whole_below(
    owner_client: Client, owner: User
) -> None:
    prompt = " ".join(f"word{n}" for n in range(1000))[:5000]
    generation = make(owner, prompt)
    html = owner_client.get(generation.get_absolute_url()).content.decode()
    heading = re.search(r'<h1 class="detail__prompt">(.*?)</h1>', html, re.S)
    assert heading, html
    assert len(heading[1]) <= 200
    assert heading[1].endswith("…")
    assert prompt.startswith(heading[1][:-1])
    assert f'<p class="detail-prompt__text">{prompt}</p>' in html
    assert f'data-copy="{prompt}"' in html  # Copy prompt copies it whole
    short = make(owner, "a quiet harbour")
    html = owner_client.get(short.get_absolute_url()).content.decode()
    assert '<h1 class="detail__prompt">a quiet harbour</h1>' in html
    assert "detail-prompt__text" not in html  # said once is enough


# --- toasts ---


def test_a_toast_tells_you_when_your_job_finished(
    owner_client: Client, owner: User, teammate: User, django_assert_max_num_queries
) -> None:
    since = timezone.now() - timedelta(seconds=5)
    make(owner, "my finished hare", finished_at=timezone.now() - timedelta(seconds=1))
    mine = make(owner, "my finished fox", finished_at=timezone.now())
    make(teammate, "their finished owl", finished_at=timezone.now())
    make(owner, "my old newt", finished_at=since - timedelta(minutes=1))
    url = f"{reverse('toasts')}?since={since.timestamp()}"
    # The session, the user, and ours, however many toasts (review: each read its deferred model).
    with django_assert_max_num_queries(3):
        response = owner_client.get(url, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "Your image is ready" in html
    assert "my finished fox" in html
    assert "their finished owl" not in html
    assert "my old newt" not in html
    assert f"since={mine.finished_at.timestamp():.6f}" in html
    again = owner_client.get(f"{reverse('toasts')}?since={mine.finished_at.timestamp():.6f}")
    assert again.status_code == 204


def test_every_page_polls_for_toasts(owner_client: Client) -> None:
    html = owner_client.get(reverse("gallery")).content.decode()
    assert 'id="toast-poller"' in html
    assert 'hx-trigger="every 5s"' in html


def test_the_upstream_filter_and_the_detail_page_name_each_jobs_provider(
    owner_client: Client, owner: User
) -> None:
    ours = make(owner, "from the agents api")
    other = make(owner, "from another upstream", provider="retired_gateway")
    html = owner_client.get(f"{reverse('gallery')}?provider=agents").content.decode()
    assert f'id="card-{ours.uuid}"' in html
    assert f'id="card-{other.uuid}"' not in html
    assert '<option value="agents" selected>Luma Agents API</option>' in html
    detail = owner_client.get(ours.get_absolute_url()).content.decode()
    assert "<dt>Sent to</dt><dd>Luma Agents API (simulator)</dd>" in detail
    # A job of an upstream this installation no longer knows still shows, by its name.
    assert "<dd>retired_gateway</dd>" in owner_client.get(other.get_absolute_url()).content.decode()
