"""Nothing lost: a delete puts a piece in the trash, where its owner and staff can restore it
for LUMAWEB_TRASH_DAYS; then a purge removes it and its files, never a file another job uses."""

import io
import os
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Browser, expect

from generations import spend, trash
from generations.models import ArchiveState, Board, EventKind, Generation, Input, Output, State
from generations.tasks import sweep
from tests.conftest import checked_page, log_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def piece(user: User, prompt: str = "a lighthouse at dusk", request: dict | None = None):
    """A finished image with its archived file, as the archive leaves it."""
    generation = Generation.objects.create(
        created_by=user,
        kind="image",
        model="uni-1",
        prompt=prompt,
        request=request or {"prompt": prompt, "type": "image", "model": "uni-1"},
        state=State.COMPLETED,
        upstream_id=str(uuid.uuid4()),
    )
    image = io.BytesIO()
    Image.new("RGB", (160, 120), (200, 120, 60)).save(image, "PNG")
    name = default_storage.save(f"outputs/{generation.uuid}/0.png", ContentFile(image.getvalue()))
    Output.objects.create(
        generation=generation,
        index=0,
        kind="image",
        url="https://cdn.example/x.png",
        url_expires_at=timezone.now() + timedelta(hours=1),
        archive_state=ArchiveState.ARCHIVED,
        file=name,
        mime_type="image/png",
    )
    return generation


def upload(generation: Generation, file_id: str) -> Input:
    name = default_storage.save(f"inputs/{uuid.uuid4()}/source.png", ContentFile(b"in"))
    return Input.objects.create(
        generation=generation,
        uploaded_by=generation.created_by,
        role="source",
        file=name,
        original_name="in.png",
        mime_type="image/png",
        size_bytes=2,
        sha256="x",
        file_id=file_id,
    )


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_delete_goes_to_the_trash_and_its_owner_restores_it(owner: User) -> None:
    generation = piece(owner)
    files = generation.outputs.get().stored_files
    person = as_user(owner)
    assert person.post(f"/g/{generation.uuid}/delete").status_code == 302
    assert f'id="card-{generation.uuid}"' not in person.get("/gallery/").content.decode()
    assert person.get(generation.get_absolute_url()).status_code == 404
    assert all(default_storage.exists(name) for name in files)
    listed = person.get("/trash/").content.decode()
    assert generation.prompt in listed
    assert f"Deleted by {owner.username}" in listed
    assert person.post(f"/g/{generation.uuid}/restore").status_code == 302
    assert person.get(generation.get_absolute_url()).status_code == 200
    assert str(generation.uuid) in person.get("/gallery/").content.decode()
    kinds = list(generation.events.values_list("kind", flat=True))
    assert kinds[-2:] == [EventKind.TRASHED, EventKind.RESTORED]


@pytest.mark.parametrize(("days", "said"), [(30.0, "30 days"), (1.5, "1.5 days")])
def test_the_delete_says_how_long_the_trash_keeps_it(
    owner: User, settings, days: float, said: str
) -> None:
    settings.LUMAWEB_TRASH_DAYS = days
    done = as_user(owner).post(f"/g/{piece(owner).uuid}/delete", follow=True)
    assert f"you can restore it there for {said}." in done.content.decode()


def test_a_delete_from_the_piece_s_own_page_can_be_undone_from_the_next_page(
    owner: User, teammate: User
) -> None:
    # Left open before: a card's Move to Trash had an Undo, the piece's own page had none.
    generation = piece(owner)
    person = as_user(owner)
    done = person.post(
        f"/g/{generation.uuid}/delete", {"next": generation.get_absolute_url()}, follow=True
    )
    html = done.content.decode()
    undo = f'action="/g/{generation.uuid}/restore"'
    assert undo in html
    assert f'name="next" value="{generation.get_absolute_url()}"' in html
    assert as_user(teammate).get("/gallery/").content.decode().count(undo) == 0
    back = person.post(
        f"/g/{generation.uuid}/restore", {"next": generation.get_absolute_url()}, follow=True
    )
    assert back.redirect_chain[-1][0] == generation.get_absolute_url()
    assert "Restored: it is back in the gallery." in back.content.decode()
    assert undo not in person.get("/gallery/").content.decode()  # said once
    # A `next` off this site is not followed.
    person.post(f"/g/{generation.uuid}/delete")
    away = person.post(f"/g/{generation.uuid}/restore", {"next": "https://evil.example/"})
    assert away.url == "/trash/"


def test_a_delete_from_a_walked_page_returns_to_the_walk_and_its_undo_to_the_piece(
    owner: User,
) -> None:
    # Found from outside: deleting from a piece opened from a search landed on the whole
    # gallery, and Undo came back to the piece without the search (← / → then walked it all).
    generation = piece(owner)
    walked = f"{generation.get_absolute_url()}?q=lighthouse"
    page = as_user(owner).get(walked).content.decode()
    assert "next=%2Fgallery%2F%3Fq%3Dlighthouse" in page.split("toolbar__delete")[1]
    person = as_user(owner)
    said = {"next": "/gallery/?q=lighthouse", "back": walked}
    done = person.post(f"/g/{generation.uuid}/delete", said, headers={"HX-Request": "true"})
    assert done["HX-Redirect"] == "/gallery/?q=lighthouse"
    html = person.get("/gallery/?q=lighthouse").content.decode()
    assert 'name="next" value="/g/' in html
    assert f'value="{walked}"' in html
    # Without JavaScript: the question's page carries them to its form.
    person.post(f"/g/{generation.uuid}/restore")
    asked = person.get(f"/g/{generation.uuid}/delete", said).content.decode()
    assert 'name="next" value="/gallery/?q=lighthouse"' in asked
    assert person.post(f"/g/{generation.uuid}/delete", said).url == "/gallery/?q=lighthouse"
    # Somewhere off this site is neither gone to nor offered.
    person.post(f"/g/{generation.uuid}/restore")
    away = {"next": "https://evil.example/", "back": "https://evil.example/"}
    assert person.post(f"/g/{generation.uuid}/delete", away).url == "/gallery/"
    assert "evil.example" not in person.get("/gallery/").content.decode()


def test_the_delete_confirmation_says_a_piece_just_made_is_just_now(owner: User) -> None:
    asked = as_user(owner).get(f"/g/{piece(owner).uuid}/delete").content.decode()
    assert f"By {owner.username}, just now." in asked


def test_only_the_owner_or_staff_delete_see_and_restore(
    owner: User, teammate: User, staff: User
) -> None:
    generation = piece(owner)
    other = as_user(teammate)
    assert other.post(f"/g/{generation.uuid}/delete").status_code == 403
    assert Generation.objects.get().deleted_at is None
    trash.move_to_trash(owner, [generation])
    assert generation.prompt not in other.get("/trash/").content.decode()
    assert other.post(f"/g/{generation.uuid}/restore").status_code == 404
    admin = as_user(staff)
    assert generation.prompt in admin.get("/trash/").content.decode()
    assert admin.post(f"/g/{generation.uuid}/restore").status_code == 302
    assert Generation.objects.get().deleted_at is None


def test_a_multi_select_trashes_all_or_none(owner: User, teammate: User) -> None:
    mine, theirs = piece(teammate), piece(owner)
    with pytest.raises(PermissionDenied):
        trash.move_to_trash(teammate, [mine, theirs])
    assert not Generation.objects.filter(deleted_at__isnull=False).exists()
    assert trash.move_to_trash(teammate, [mine, mine]) == 1


def test_the_admin_shows_who_deleted_what(owner: User, staff: User) -> None:
    generation = piece(owner)
    trash.move_to_trash(staff, [generation])
    admin = as_user(staff)
    listed = admin.get("/admin/generations/generation/?trash=in").content.decode()
    assert f"by {staff.username}" in listed
    change = admin.get(f"/admin/generations/generation/{generation.pk}/change/")
    assert staff.username in change.content.decode()


def test_a_purge_waits_for_the_trash_days_and_keeps_files_others_use(
    owner: User, teammate: User, settings, django_capture_on_commit_callbacks
) -> None:
    settings.LUMAWEB_TRASH_DAYS = 30
    original = piece(owner)
    shared = upload(original, "file-shared")
    own = upload(original, "file-own")
    source = {"file_id": "file-shared", "media_type": "image/png"}
    remix = piece(teammate, "the same, bluer", request={"type": "image_edit", "source": source})
    outputs = original.outputs.get().stored_files
    trash.move_to_trash(owner, [original])

    with django_capture_on_commit_callbacks(execute=True):
        assert trash.purge_trash(timezone.now() + timedelta(days=29)) == 0
    assert Generation.objects.filter(pk=original.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert trash.purge_trash(timezone.now() + timedelta(days=31)) == 1
    assert not Generation.objects.filter(pk=original.pk).exists()
    assert not any(default_storage.exists(name) for name in outputs)
    assert not default_storage.exists(own.file.name)
    # The remix still uses the shared upload: kept, with no job, and still shown on its page.
    kept = Input.objects.get(pk=shared.pk)
    assert kept.generation is None
    assert default_storage.exists(kept.file.name)
    page = as_user(teammate).get(remix.get_absolute_url()).content.decode()
    assert kept.file.name in page

    # Once the remix is purged too (by the worker's sweep), nothing uses it: it goes.
    trash.move_to_trash(teammate, [remix])
    later = timezone.now() + timedelta(days=31)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep(later)["purged"] == 1
    assert not Input.objects.exists()
    assert not default_storage.exists(kept.file.name)


def test_a_piece_in_the_trash_is_deleted_forever_by_whoever_may_restore_it(
    owner: User, teammate: User, staff: User, django_capture_on_commit_callbacks
) -> None:
    """Found from outside: nothing removed a piece before its 30 days but the shell. The Trash
    page's "Delete forever" asks first, then removes it and its files, now."""
    mine, theirs = piece(owner, "mine"), piece(teammate, "theirs")
    files = mine.outputs.get().stored_files
    trash.move_to_trash(owner, [mine])
    trash.move_to_trash(teammate, [theirs])
    url = f"/trash/{mine.uuid}/purge"
    # Found by a review: budgets and limits count the jobs' rows, so a job of this month deleted
    # forever gave its cost back. It waits for the month to end (or the Trash's days).
    refused = as_user(owner).post(url)
    assert refused.status_code == 409
    assert "counts toward this month&#x27;s budgets and limits" in refused.content.decode()
    assert Generation.objects.filter(pk=mine.pk).exists()
    last_month = spend.month_start() - timedelta(days=1)
    Generation.objects.filter(pk__in=[mine.pk, theirs.pk]).update(
        created_at=last_month, state=State.PROCESSING
    )
    running = as_user(owner).post(url)  # still made, and charged, upstream
    assert "It is still being made" in running.content.decode()
    Generation.objects.filter(pk__in=[mine.pk, theirs.pk]).update(state=State.COMPLETED)
    listed = as_user(owner).get("/trash/").content.decode()
    assert f'href="{url}"' in listed
    asked = as_user(owner).get(url)
    assert asked.status_code == 200
    assert "This cannot be undone" in asked.content.decode()
    assert Generation.objects.filter(pk=mine.pk).exists()  # asking removed nothing
    assert as_user(teammate).post(url).status_code == 404  # not theirs to remove
    with django_capture_on_commit_callbacks(execute=True):
        done = as_user(owner).post(url, follow=True)
    assert done.redirect_chain[-1][0] == "/trash/"
    assert "Deleted forever" in done.content.decode()
    assert not Generation.objects.filter(pk=mine.pk).exists()
    assert not any(default_storage.exists(name) for name in files)
    # Staff may remove anyone's; a piece no longer in the trash is not found.
    with django_capture_on_commit_callbacks(execute=True):
        assert as_user(staff).post(f"/trash/{theirs.uuid}/purge").status_code == 302
    assert not Generation.objects.filter(pk=theirs.pk).exists()
    assert as_user(staff).post(url).status_code == 404


def test_a_purge_keeps_an_output_file_another_piece_shows(
    owner: User, django_capture_on_commit_callbacks
) -> None:
    # Found from outside: emptying the Trash of a seeded studio blanked every other seeded
    # image: pieces there share their files, and a purge deleted a piece's files whoever used them.
    first, second = piece(owner, "first"), piece(owner, "second")
    shared = first.outputs.get().file.name
    own = second.outputs.get().file.name
    Output.objects.filter(generation=second).update(thumb=shared)
    trash.move_to_trash(owner, [first, second])
    with django_capture_on_commit_callbacks(execute=True):
        assert trash.purge(first)
    assert default_storage.exists(shared)  # the second still shows it
    with django_capture_on_commit_callbacks(execute=True):
        assert trash.purge(second)
    assert not default_storage.exists(shared)
    assert not default_storage.exists(own)


def test_empty_the_trash_deletes_forever_what_may_go_now_and_says_what_stays(
    owner: User, teammate: User, staff: User, django_capture_on_commit_callbacks
) -> None:
    # Left open before: the Trash had no way to empty it; each piece asked on its own.
    old = [piece(owner, f"old {n}") for n in range(3)]
    recent, running, theirs = piece(owner, "recent"), piece(owner, "running"), piece(teammate)
    files = [name for g in old for name in g.outputs.get().stored_files]
    trash.move_to_trash(owner, [*old, recent, running])
    trash.move_to_trash(teammate, [theirs])
    last_month = spend.month_start() - timedelta(days=1)
    Generation.objects.filter(pk__in=[g.pk for g in (*old, running, theirs)]).update(
        created_at=last_month
    )
    Generation.objects.filter(pk=running.pk).update(state=State.PROCESSING)
    person = as_user(owner)
    assert 'href="/trash/empty"' in person.get("/trash/").content.decode()
    asked = person.get("/trash/empty").content.decode()
    assert "Delete 3 pieces forever?" in asked
    assert "2 pieces stay in the Trash" in asked
    assert "It is still being made" in asked
    assert ": It " not in asked  # found from outside: "1: It is still…" read as a sentence
    assert "counts toward this month&#x27;s budgets and limits" in asked
    before = re.search(r'name="before" value="([^"]+)"', asked)
    assert before
    with django_capture_on_commit_callbacks(execute=True):
        done = person.post("/trash/empty", {"before": before[1]}, follow=True)
    assert "Deleted forever 3 pieces and their files; 2 stay in the Trash." in done.content.decode()
    assert not Generation.objects.filter(pk__in=[g.pk for g in old]).exists()
    assert not any(default_storage.exists(name) for name in files)
    assert Generation.objects.filter(pk__in=[recent.pk, running.pk, theirs.pk]).count() == 3
    # Nothing more may go now: the page says so, and a POST deletes nothing.
    again = person.get("/trash/empty").content.decode()
    assert "Nothing in the Trash can be deleted forever now" in again
    assert 'type="submit"' not in again.split("<main")[1]
    person.post("/trash/empty", {"before": before[1]})
    assert Generation.objects.filter(pk__in=[recent.pk, running.pk, theirs.pk]).count() == 3
    # Staff empty everyone's: what the question counted, not what was trashed after it.
    # (Found from outside: a teammate's piece trashed meanwhile went too, and its Undo failed.)
    asked = as_user(staff).get("/trash/empty").content.decode()
    assert "Delete 1 piece forever?" in asked
    before = re.search(r'name="before" value="([^"]+)"', asked)
    assert before
    later = piece(teammate, "trashed after the question")
    trash.move_to_trash(teammate, [later])
    Generation.objects.filter(pk=later.pk).update(created_at=last_month)
    as_user(staff).post("/trash/empty", {"before": before[1]})
    assert not Generation.objects.filter(pk=theirs.pk).exists()
    assert Generation.objects.filter(pk=later.pk).exists()
    # Nor one restored and trashed again between the sorting and its purge (a review).
    assert not trash.purge(later, trashed_by=datetime.fromisoformat(before[1]))
    assert Generation.objects.filter(pk=later.pk).exists()
    # A POST that says no time (a hand-made one) asks again and deletes nothing.
    # (A review: a time no UTC reaches was a 500; one past now took what came after.)
    hand_made = ("2026-13-45T00:00:00+00:00", "2026-01-01T00:00", "0001-01-01T00:00:00+01:00")
    for said in ({}, *({"before": before} for before in hand_made)):
        again = as_user(staff).post("/trash/empty", said)
        assert again.status_code == 400, said
        assert "Delete 1 piece forever?" in again.content.decode()
    assert Generation.objects.filter(pk=later.pk).exists()


def test_a_piece_in_the_trash_is_out_of_reach_of_everyone_who_may_not_restore_it(
    owner: User, teammate: User, staff: User
) -> None:
    """Found from outside (an attacker): a teammate still reached someone's trashed piece by its
    id: a selection downloaded, starred and boarded it, its Boards page showed it, its card and
    the poll rendered it, and its archived file was served. It is there only for its owner and
    staff, in the Trash."""
    gone = piece(owner, "alice's kite")
    name = gone.outputs.get().file.name
    trash.move_to_trash(owner, [gone])
    bob = as_user(teammate)
    selected = {"pieces": [str(gone.uuid)], "confirmed": "1", "next": "/gallery/"}
    for action in ("download", "star", "board"):
        answer = bob.post("/selection/", {**selected, "action": action, "new_board": "B"})
        assert answer.status_code == 302, action  # nothing selected: back, with a message
        assert "kite" not in answer.content.decode()
    assert not gone.stars.exists()
    assert not gone.boards.exists()
    assert bob.get(f"/g/{gone.uuid}/boards").status_code == 404
    assert bob.post(f"/g/{gone.uuid}/star", {"starred": "1"}).status_code == 404
    assert bob.get(f"/g/{gone.uuid}/card").status_code == 404
    # Found from outside again: Cancel answered 403, which says the piece is there.
    assert bob.post(f"/g/{gone.uuid}/cancel").status_code == 404
    polled = bob.get("/poll", {"seen": f"{gone.uuid}:processing"}, headers={"HX-Request": "true"})
    assert f'<article id="card-{gone.uuid}" hx-swap-oob="delete">' in polled.content.decode()
    assert bob.get(f"/media/{name}").status_code == 404
    # Found by a review: its uploads were still served (inputs/<upload>/…), as are an upload's.
    item = upload(gone, "file-kite")
    uploaded = default_storage.save(f"inputs/{item.uuid}/kite.png", ContentFile(b"in"))
    Input.objects.filter(pk=item.pk).update(file=uploaded)
    assert bob.get(f"/media/{uploaded}").status_code == 404
    assert as_user(owner).get(f"/media/{uploaded}").status_code == 200
    # Found by a review: a piece made from it still showed it as its parent, and a board's
    # "remove" or "cover" still took it (off the board it comes back to when restored).
    child = piece(teammate, "bob's remix")
    Generation.objects.filter(pk=child.pk).update(parent=gone, lineage="remix")
    assert "alice&#x27;s kite" not in bob.get(child.get_absolute_url()).content.decode()
    board = Board.objects.create(name="Kites", created_by=teammate)
    board.add([gone], owner)
    for action in ("remove", "cover"):
        edit = {"action": action, "piece": str(gone.uuid)}
        assert bob.post(f"/boards/{board.uuid}/edit", edit).status_code == 404
    assert board.pieces.filter(pk=gone.pk).exists()
    # Staff act on it from the Review page, which lists it (the review found its buttons 404).
    review = as_user(staff).post(f"/review/{gone.uuid}", {"action": "review"})
    assert review.status_code == 302
    # Its owner and staff still see it where they restore it.
    assert as_user(owner).get(f"/media/{name}").status_code == 200
    assert as_user(staff).get(f"/media/{name}").status_code == 200


def test_purge_trash_is_a_command(owner: User, settings) -> None:
    settings.LUMAWEB_TRASH_DAYS = 0
    trash.move_to_trash(owner, [piece(owner)])
    out = io.StringIO()
    call_command("purge_trash", stdout=out)
    assert "purged 1 jobs" in out.getvalue()
    assert not Generation.objects.exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_trash_page_restores_in_a_browser(
    browser: Browser, live_app: str, owner: User, tmp_path: Path
) -> None:
    generation = piece(owner, "a fox in the snow")
    trash.move_to_trash(owner, [generation])
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)  # for people to look at
    with checked_page(browser, live_app) as page:
        log_in(page, owner)
        page.goto("/gallery/")
        page.get_by_role("link", name="Trash").click()
        row = page.locator(f"#trash-{generation.uuid}")
        expect(row).to_contain_text("a fox in the snow")
        expect(row).to_contain_text(f"Deleted by {owner.username}")
        page.screenshot(path=str(shots / "trash-1280.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(shots / "trash-390.png"), full_page=True)
        row.get_by_role("button", name="Restore").click()
        expect(page.get_by_text("Restored: it is back in the gallery.")).to_be_visible()
        expect(page.get_by_text("The trash is empty.")).to_be_visible()
    assert Generation.objects.get().deleted_at is None
