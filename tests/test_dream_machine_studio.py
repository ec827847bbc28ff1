"""Dream Machine in the studio: its forms refuse the documented rules on their fields before
anything is spent, keyframes and chains come from the gallery, uploads need a public URL."""

import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from PIL import Image

from generations.chaining import chain_actions
from generations.credits import refresh_balances
from generations.models import (
    BalanceReading,
    Generation,
    Input,
    Lineage,
    Price,
    ProviderBalance,
    State,
)
from generations.providers.dream_machine import schema
from generations.simulators.api import owner_of
from generations.simulators.clock import clock
from generations.simulators.models import DreamGeneration
from generations.tasks import start_generation
from generations.views import remix_mode
from tests.conftest import terminal
from tests.factories import piece, sim_fault

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def post(client: Client, mode: str, key: str = "k-1", **fields: Any) -> Any:
    return client.post("/", {"mode": mode, "idempotency_key": key, **fields})


def finished(owner, run_worker, request: Any) -> Generation:
    generation, _ = start_generation(owner, request, provider="dream_machine")
    run_worker(terminal(generation))
    assert generation.state == State.COMPLETED, generation.failure_reason
    return generation


def a_video(owner, run_worker, prompt: str = "a lighthouse in a storm") -> Generation:
    request = schema.VideoRequest(model="ray-flash-2", prompt=prompt, resolution="540p")
    return finished(owner, run_worker, request)


def sent_reference(job: Generation, run_worker) -> str:
    """Run the job to its end (it must complete) and return the first reference URL that
    reached Dream Machine."""
    run_worker(terminal(job))
    assert job.state == State.COMPLETED, job.failure_reason
    return DreamGeneration.objects.get(pk=job.upstream_id).request["image_ref"][0]["url"]


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), "teal").save(buffer, "PNG")
    return buffer.getvalue()


def test_documented_refusals_are_field_errors_and_nothing_is_sent(owner_client) -> None:
    short = post(owner_client, "dm_video", prompt="ab", model="ray-2")
    assert short.status_code == 400
    assert "3 at least" in short.content.decode()
    long = post(owner_client, "dm_image", key="k-2", prompt="x" * 5001, model="photon-1")
    assert "5000 at most" in long.content.decode()
    nothing = post(owner_client, "dm_video", key="k-3", model="ray-2")
    assert "Write a prompt, or give a start or end frame." in nothing.content.decode()
    assert not Generation.objects.exists()
    assert not DreamGeneration.objects.exists()


def test_a_video_between_two_gallery_videos_and_no_loop(owner, owner_client, run_worker) -> None:
    first = a_video(owner, run_worker, "a ship leaves port")
    second = a_video(owner, run_worker, "a ship reaches land")
    fields = {
        "prompt": "the crossing",
        "model": "ray-2",
        "resolution": "720p",
        "duration": "9s",
        "aspect_ratio": "9:21",
        "frame0_pick": str(first.uuid),
        "frame1_pick": str(second.uuid),
        "concepts": ["aerial", "dolly_zoom"],
    }
    looped = post(owner_client, "dm_video", key="k-loop", loop="on", **fields)
    assert looped.status_code == 400
    assert "A looping video cannot have an end frame" in looped.content.decode()

    made = post(owner_client, "dm_video", key="k-made", **fields)
    assert made.status_code == 302
    job = Generation.objects.get(idempotency_key="k-made")
    assert job.provider == "dream_machine"
    assert job.request == {
        "generation_type": "video",
        "model": "ray-2",
        "prompt": "the crossing",
        "aspect_ratio": "9:21",
        "resolution": "720p",
        "duration": "9s",
        "keyframes": {
            "frame0": {"type": "generation", "id": first.upstream_id},
            "frame1": {"type": "generation", "id": second.upstream_id},
        },
        "concepts": [{"key": "aerial"}, {"key": "dolly_zoom"}],
    }
    run_worker(terminal(job))
    assert job.state == State.COMPLETED
    # Found from outside: its page said "Concepts: 2 items", not the camera moves (and named
    # each keyframe's piece by its type and upstream id).
    assert ("Concepts", "aerial, dolly zoom") in job.parameters
    gallery = "a piece from the gallery"
    assert ("Keyframes", f"frame0: {gallery}, frame1: {gallery}") in job.parameters


def test_an_image_with_a_weighted_uploaded_reference(owner_client, run_worker, settings) -> None:
    settings.LUMAWEB_PUBLIC_URL = "http://sim.test"
    reference = SimpleUploadedFile("ref.png", png(), content_type="image/png")
    made = post(
        owner_client,
        "dm_image",
        prompt="a teal teapot",
        model="photon-flash-1",
        aspect_ratio="1:1",
        format="jpg",
        image_ref=reference,
        image_ref_weight="0.4",
    )
    assert made.status_code == 302
    job = Generation.objects.get()
    [upload] = Input.objects.filter(generation=job)
    assert job.request["image_ref"] == [{"url": upload.placeholder, "weight": 0.4}]
    assert sent_reference(job, run_worker).startswith("http://sim.test/public/")
    # Found from outside: its page linked the reference to "lumaweb-input:…", which goes
    # nowhere, and called it "an image from a URL". It shows the upload, by its name.
    page = owner_client.get(job.get_absolute_url()).content.decode()
    assert 'href="lumaweb-input:' not in page  # (the request as stored, shown raw, keeps it)
    assert "an image from a URL" not in page
    assert "ref.png" in page
    assert upload.file.name in page  # its thumbnail, from our storage
    frame = Generation(
        request={"keyframes": {"frame0": {"type": "image", "url": upload.placeholder}}}
    )
    assert frame.parameters == [("Keyframes", "frame0: an upload")]


def test_a_picked_reference_is_sent_as_a_link_that_still_works(
    owner, owner_client, run_worker, settings, monkeypatch
) -> None:
    """A URL slot picked from the gallery keeps the piece's upstream URL, which dies; what is
    sent is our archived copy's public link (or the URL refreshed first)."""
    settings.LUMAWEB_PUBLIC_URL = "http://sim.test"
    first = finished(owner, run_worker, schema.ImageRequest(model="photon-1", prompt="a teapot"))
    run_worker(lambda: first.outputs.get().archive_state != "pending", timeout=60)
    assert first.outputs.get().is_archived, first.outputs.get().archive_error
    upstream_url = first.outputs.get().url
    monkeypatch.setattr(clock, "_offset", settings.LUMA_SIM_URL_TTL + 60)  # that URL is dead now
    made = post(
        owner_client, "dm_image", prompt="the teapot in red", model="photon-1",
        image_ref_pick=str(first.uuid),
    )  # fmt: skip
    assert made.status_code == 302
    job = Generation.objects.exclude(pk=first.pk).get()
    assert job.request["image_ref"] == [{"url": upstream_url}]
    assert sent_reference(job, run_worker).startswith("http://sim.test/public/")


def test_a_picked_reference_not_yet_archived_is_refreshed_before_it_is_sent(
    owner, owner_client, run_worker, settings, monkeypatch
) -> None:
    settings.LUMAWEB_PUBLIC_URL = "http://sim.test"
    first = finished(owner, run_worker, schema.ImageRequest(model="photon-1", prompt="a teapot"))
    dying = timezone.now() - timedelta(minutes=1)
    first.outputs.update(archive_state="pending", file="", url_expires_at=dying)
    upstream_url = first.outputs.get().url
    monkeypatch.setattr(clock, "_offset", settings.LUMA_SIM_URL_TTL + 60)
    post(owner_client, "dm_image", prompt="the teapot in red", model="photon-1",
         image_ref_pick=str(first.uuid))  # fmt: skip
    job = Generation.objects.exclude(pk=first.pk).get()
    assert job.request["image_ref"] == [{"url": upstream_url}]
    sent = sent_reference(job, run_worker)
    assert sent != upstream_url
    assert sent == first.outputs.get().url  # the refreshed one


def test_uploads_are_greyed_without_a_public_url(owner_client, settings) -> None:
    settings.LUMAWEB_PUBLIC_URL = ""
    page = owner_client.get("/?mode=dm_image").content.decode()
    assert "Uploads need LUMAWEB_PUBLIC_URL" in page
    [upload] = re.findall(r'<input type="file" name="image_ref"[^>]*>', page)
    assert " disabled" in upload
    # A posted file is ignored, not sent: the field is off.
    reference = SimpleUploadedFile("ref.png", png(), content_type="image/png")
    post(owner_client, "dm_image", prompt="a teapot", model="photon-1", image_ref=reference)
    assert not Input.objects.exists()


def test_a_public_input_link_serves_that_upload_only_until_it_expires(
    owner, owner_client, settings
) -> None:
    settings.LUMAWEB_PUBLIC_URL = "http://sim.test"
    reference = SimpleUploadedFile("ref.png", png(), content_type="image/png")
    post(owner_client, "dm_image", prompt="a teapot", model="photon-1", image_ref=reference)
    from generations.public import input_url

    link = input_url(Input.objects.get())
    anonymous = Client()
    path = link.removeprefix("http://sim.test")
    served = anonymous.get(path)
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == png()
    assert anonymous.get(path[:-2] + "xx").status_code == 404
    settings.LUMAWEB_PUBLIC_INPUT_TTL = -1
    expired = anonymous.get(path)
    assert expired.status_code == 404
    assert "expired" in expired.content.decode()


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("dm_reframe_image", "Pick or upload the image to reframe."),
        ("dm_reframe_video", "Pick or upload the video to reframe."),
        ("dm_modify", "Pick or upload the video to modify."),
        ("dm_upscale", "Pick the video from the gallery: a finished Dream Machine video."),
        ("dm_audio", "Pick the video from the gallery: a finished Dream Machine video."),
    ],
)
def test_a_mode_sent_without_its_media_says_so_in_plain_words(
    owner_client, mode: str, said: str
) -> None:
    # Found from outside: "Input should be a valid dictionary or instance of Media", and "A
    # generation id is letters, digits and dashes." for an upscale of nothing.
    refused = post(owner_client, mode, prompt="as a watercolour")
    assert refused.status_code == 400
    html = refused.content.decode()
    assert said in html
    assert "valid dictionary" not in html
    assert "letters, digits and dashes" not in html
    assert "as a watercolour" in html or mode in ("dm_upscale",)
    assert not Generation.objects.exists()


def test_upscale_and_audio_chain_from_the_detail_page(owner, owner_client, run_worker) -> None:
    video = a_video(owner, run_worker)
    actions = {action.label: action.url for action in chain_actions(video, remix_mode(video))}
    assert {"Upscale", "Add audio", "Extend", "Reverse extend", "Reframe", "Remix"} <= set(actions)
    detail = owner_client.get(video.get_absolute_url()).content.decode()
    assert "Add audio" in detail

    form = owner_client.get(actions["Upscale"]).content.decode()
    assert f'<option value="{video.uuid}" selected' in form
    assert "Works on a finished Dream Machine video from the gallery." in form
    upscale = post(
        owner_client,
        "dm_upscale",
        key="k-up",
        source_pick=str(video.uuid),
        resolution="4k",
        parent=str(video.uuid),
        lineage=Lineage.EDIT,
    )
    assert upscale.status_code == 302
    audio = post(
        owner_client,
        "dm_audio",
        key="k-audio",
        source_pick=str(video.uuid),
        prompt="rain on the sea",
        negative_prompt="music",
    )
    assert audio.status_code == 302
    up = Generation.objects.get(idempotency_key="k-up")
    sound = Generation.objects.get(idempotency_key="k-audio")
    assert up.request == {
        "generation_type": "upscale_video",
        "resolution": "4k",
        "generation_id": video.upstream_id,
    }
    assert up.parent == video
    assert sound.prompt == "rain on the sea"
    run_worker(lambda: terminal(up)() and terminal(sound)())
    assert (up.state, sound.state) == (State.COMPLETED, State.COMPLETED)


def test_modify_a_video_with_how_far_to_go(owner, owner_client, run_worker, settings) -> None:
    """Found from outside: Modify could not be sent at all. Its "How far to go" was a field
    named `mode`, as is the studio's own, so the studio read "reimagine_2" as the mode: 404."""
    settings.LUMAWEB_PUBLIC_URL = "http://sim.test"  # where the simulator fetches the video
    video = a_video(owner, run_worker)
    run_worker(lambda: video.outputs.get().archive_state != "pending", timeout=60)
    url = f"/?mode=dm_modify&from={video.uuid}&as=media&lineage=edit"
    form = owner_client.get(url).content.decode()
    assert form.count('name="mode"') == 2  # the studio's own: the phone's list and the form's
    assert "Reimagine 2" in form  # every strength in words
    fields = {"media_pick": str(video.uuid), "prompt": "watercolour", "strength": "reimagine_2"}
    made = post(owner_client, "dm_modify", key="k-modify", **fields)
    assert made.status_code == 302
    job = Generation.objects.get(idempotency_key="k-modify")
    assert job.request["mode"] == "reimagine_2"
    run_worker(terminal(job))
    assert job.state == State.COMPLETED, job.failure_reason
    again = owner_client.get(f"/?remix={job.uuid}").content.decode()
    assert '<option value="reimagine_2" selected>' in again


def test_a_reframe_starts_from_the_sources_prompt_a_modify_from_none(
    owner, owner_client, run_worker
) -> None:
    """Found from outside (a creative): Reframe on a Dream Machine video's page came with an
    empty prompt, unlike the Agents API's Reframe (the prompt says what fills the new parts)."""
    video = a_video(owner, run_worker, "a harbour at dawn")
    for mode, inherits in [("dm_reframe_video", True), ("dm_modify", False)]:
        form = owner_client.get(f"/?mode={mode}&from={video.uuid}&as=media&lineage=reframe")
        assert ("a harbour at dawn</textarea>" in form.content.decode()) is inherits, mode


def test_a_reframe_of_a_picked_video_shows_it_beside_the_result(
    owner, owner_client, run_worker, settings
) -> None:
    """Found from outside: a reframe of a video picked from the gallery said "The source is no
    longer kept here" and "Media: an image from a URL", though the source was in the gallery.
    A request keeps a pick as its output's link: the page finds the piece by it."""
    settings.LUMAWEB_PUBLIC_URL = "http://sim.test"
    video = a_video(owner, run_worker, "a harbour at dawn")
    run_worker(lambda: video.outputs.get().archive_state != "pending", timeout=60)
    made = post(owner_client, "dm_reframe_video", key="k-reframe", media_pick=str(video.uuid))
    assert made.status_code == 302
    job = Generation.objects.get(idempotency_key="k-reframe")
    run_worker(terminal(job))
    assert job.state == State.COMPLETED, job.failure_reason
    page = owner_client.get(job.get_absolute_url()).content.decode()
    assert "The source is no longer kept here." not in page
    assert video.outputs.get().file.name in page  # the source, from our copy
    assert "an image from a URL" not in page


def test_an_agents_piece_cannot_be_picked_for_dream_machine(owner, owner_client, run_worker):
    from generations.providers.agents import schema as agents

    other, _ = start_generation(owner, agents.GenerationRequest(prompt="an agents picture"))
    run_worker(terminal(other))
    refused = post(owner_client, "dm_video", prompt="a ship", model="ray-2", frame0_pick=other.uuid)
    assert refused.status_code == 400
    assert not Generation.objects.filter(provider="dream_machine").exists()


def _history(count: int) -> None:
    """A Dream Machine account with `count` generations made before the studio knew it."""
    owner = owner_of(settings.LUMA_PROVIDERS["dream_machine"]["api_key"])
    now = timezone.now()
    DreamGeneration.objects.bulk_create(
        DreamGeneration(
            owner=owner,
            created_at=now - timedelta(minutes=i),
            generation_type="video" if i % 2 else "image",
            model="ray-2" if i % 2 else "photon-1",
            request={
                "generation_type": "video" if i % 2 else "image",
                "model": "ray-2" if i % 2 else "photon-1",
                "prompt": f"old {i}",
            },
            queued_seconds=0,
            processing_seconds=0,
            # Rendering is the slow part: a few finished, the rest failed (refused long ago).
            outcome="completed" if i % 50 == 0 else "failed",
            failure_reason="Prompt is too short" if i % 50 else "",
        )
        for i in range(count)
    )


def test_the_import_brings_every_generation_in_once(owner) -> None:
    _history(250)
    out = io.StringIO()
    call_command("import_dream_machine", "--user", owner.username, stdout=out)
    assert "250 seen, 250 imported so far" in out.getvalue()
    assert "Done: 250 imported, 0 already known." in out.getvalue()
    imported = Generation.objects.filter(provider="dream_machine", created_by=owner)
    assert imported.count() == 250
    assert imported.values("upstream_id").distinct().count() == 250
    old = imported.get(prompt="old 0")
    assert (old.state, old.kind, old.model) == (State.COMPLETED, "image", "photon-1")
    assert old.outputs.count() == 1
    refused = imported.get(prompt="old 1")
    assert (refused.state, refused.failure_code) == (State.FAILED, "invalid_request")
    page = Client()
    page.force_login(owner)
    assert "old 0" in page.get("/gallery/").content.decode()

    again = io.StringIO()
    call_command(
        "import_dream_machine", "--user", owner.username, "--page-size", "60", stdout=again
    )
    assert "Done: 0 imported, 250 already known." in again.getvalue()
    assert Generation.objects.count() == 250


def test_the_import_refuses_in_plain_words(owner) -> None:
    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("import_dream_machine", "--user", "nobody")
    with pytest.raises(CommandError, match="from 1 to 1000"):
        call_command("import_dream_machine", "--user", owner.username, "--page-size", "0")


def test_the_admin_action_imports_in_the_background(owner, staff, run_worker) -> None:
    _history(3)
    admin = Client()
    admin.force_login(staff)
    answer = admin.post(
        "/admin/auth/user/",
        {"action": "import_dream_machine", "_selected_action": [owner.pk]},
        follow=True,
    )
    assert "Importing in the background" in answer.content.decode()
    run_worker(lambda: Generation.objects.filter(created_by=owner).count() == 3)


def test_a_remix_finds_the_picked_keyframes(owner, owner_client, run_worker) -> None:
    first = a_video(owner, run_worker)
    request = schema.VideoRequest(
        model="ray-2",
        prompt="what came next",
        keyframes=schema.Keyframes(frame0=schema.GenerationRef(id=first.upstream_id or "")),
    )
    extended = finished(owner, run_worker, request)
    [remix] = [a.url for a in chain_actions(extended, remix_mode(extended)) if a.label == "Remix"]
    assert "mode=dm_video" in remix
    page = owner_client.get(remix).content.decode()
    assert f'<option value="{first.uuid}" selected' in page
    assert "what came next" in page


def test_dream_machine_modes_are_gone_when_it_is_off(owner_client, settings) -> None:
    settings.LUMA_PROVIDERS = {
        k: v for k, v in settings.LUMA_PROVIDERS.items() if k != "dream_machine"
    }
    assert "dm_video" not in owner_client.get("/").content.decode()
    assert owner_client.get("/?mode=dm_video").status_code == 404
    assert post(owner_client, "dm_video", prompt="a ship", model="ray-2").status_code == 404


def test_deleting_asks_before_deleting_upstream_too(owner, owner_client, run_worker) -> None:
    kept, gone = a_video(owner, run_worker, "keep it there"), a_video(owner, run_worker, "bin it")
    confirm = owner_client.get(f"/g/{kept.uuid}/delete").content.decode()
    assert "Also delete it at Luma Dream Machine API" in confirm
    owner_client.post(f"/g/{kept.uuid}/delete")
    owner_client.post(f"/g/{gone.uuid}/delete", {"upstream": "on"})
    assert not Generation.objects.alive().filter(pk__in=[kept.pk, gone.pk]).exists()  # trash
    assert DreamGeneration.objects.filter(pk=kept.upstream_id).exists()
    assert not DreamGeneration.objects.filter(pk=gone.upstream_id).exists()


def test_an_upstream_refusal_to_delete_keeps_the_piece(owner, owner_client, run_worker) -> None:
    piece = a_video(owner, run_worker)
    sim_fault("503", token=settings.LUMA_PROVIDERS["dream_machine"]["api_key"], remaining=3)
    refused = owner_client.post(f"/g/{piece.uuid}/delete", {"upstream": "on"})
    assert refused.status_code == 502
    assert "nothing was deleted" in refused.content.decode()
    assert Generation.objects.filter(pk=piece.pk).exists()


def test_the_balance_is_read_in_the_background_and_shown_to_staff(
    owner, staff, owner_client, settings
) -> None:
    assert refresh_balances() == 1
    assert refresh_balances() == 0  # read at most every LUMAWEB_CREDITS_INTERVAL
    balance = ProviderBalance.objects.get(provider="dream_machine")
    assert balance.cents == settings.LUMA_SIM_CREDITS
    admin = Client()
    admin.force_login(staff)
    page = admin.get("/").content.decode()
    # Named, and a way to the Usage page that says more: a bare "$1,000.00" in the menu was
    # no one's to read.
    [shown] = re.findall(r'<a class="credit" href="/usage/"[^>]*>(.*?)</a>', page)
    assert re.sub(r"<[^>]+>", "", shown) == (
        "Credit with Luma Dream Machine API (simulator): $1,000.00"
    )
    assert "Low credit" not in page
    assert "$1,000.00" not in owner_client.get("/").content.decode()  # staff only
    metrics = admin.get("/metrics").content.decode()
    assert 'lumaweb_upstream_credit_cents{provider="dream_machine"} 100000' in metrics

    settings.LUMAWEB_CREDITS_FLOOR = 200_000
    warned = admin.get("/").content.decode()
    assert "Low credit." in warned
    assert "Luma Dream Machine API (simulator) account has $1,000.00 left" in warned


def test_the_usage_page_shows_the_drift_between_the_balance_and_the_estimate(
    owner, staff, owner_client, run_worker
) -> None:
    # The table says 10¢ for any ray-flash-2 video; the simulator charges 540p 5 s at 40¢ / 3.
    # Only that row, whether migration 0020's seeds are there or an earlier flush removed them.
    ray_flash = Price.objects.filter(provider="dream_machine", model="ray-flash-2", kind="video")
    ray_flash.delete()
    Price.objects.create(provider="dream_machine", model="ray-flash-2", kind="video", cents=10)
    admin = Client()
    admin.force_login(staff)
    assert refresh_balances(timezone.now() - timedelta(minutes=10)) == 1
    assert "Drift: not yet measurable" in admin.get("/usage/").content.decode()
    a_video(owner, run_worker)
    a_video(owner, run_worker, "a second lighthouse")
    assert refresh_balances() == 1
    assert BalanceReading.objects.filter(provider="dream_machine").count() == 2
    page = admin.get("/usage/").content.decode()
    assert "the balance fell by $0.27; the estimate for the jobs sent there then is $0.20." in page
    assert "<strong>Drift: +$0.07 (+33 %)</strong>" in page
    # Readings outside the dates shown do not count.
    old = (timezone.localdate() - timedelta(days=60)).isoformat()
    assert "Drift: not yet measurable" in admin.get(f"/usage/?until={old}").content.decode()
    assert "Drift" not in owner_client.get("/usage/").content.decode()  # staff only


def test_the_command_line_twin_makes_and_chains_dream_machine_jobs(
    owner, run_worker, capsys
) -> None:
    def command(*args: str) -> Generation:
        call_command("create_generation", "--user", owner.username, "--provider", "dream-machine",
                     *args)  # fmt: skip
        return Generation.objects.get(uuid=json.loads(capsys.readouterr().out)["id"])

    video = command("--prompt", "a comet", "--resolution", "540p", "--aspect-ratio", "9:21")
    run_worker(terminal(video))
    assert video.request == {
        "generation_type": "video",
        "model": "ray-2",
        "prompt": "a comet",
        "aspect_ratio": "9:21",
        "resolution": "540p",
    }
    upscale = command("--type", "upscale_video", "--resolution", "4k", "--source", str(video.uuid))
    extend = command("--prompt", "it goes on", "--source", str(video.uuid), "--loop")
    run_worker(lambda: terminal(upscale)() and terminal(extend)())
    assert upscale.request["generation_id"] == video.upstream_id
    assert extend.request["keyframes"]["frame0"] == {"type": "generation", "id": video.upstream_id}
    assert (upscale.state, extend.state) == (State.COMPLETED, State.COMPLETED)

    with pytest.raises(CommandError, match="3 at least"):
        command("--prompt", "ab")
    with pytest.raises(CommandError, match="photon"):
        command("--type", "image", "--prompt", "a comet", "--model", "ray-2")


def test_an_upscale_and_added_audio_are_named_for_what_they_did(owner, owner_client) -> None:
    """Found from outside: Dream Machine upscales and added audio showed as "Video edit"."""
    upscaled = piece(owner, "Upscale to 4k", kind="video_edit", model="upscale_video",
                     provider="dream_machine", state=State.QUEUED)  # fmt: skip
    voiced = piece(owner, "Add audio", kind="video_edit", model="add_audio",
                   provider="dream_machine", state=State.QUEUED)  # fmt: skip
    gallery = owner_client.get("/gallery/").content.decode()
    assert '<span class="chip">Upscale</span>' in gallery
    assert '<span class="chip">Audio added</span>' in gallery
    assert '<span class="chip">Video edit</span>' not in gallery
    assert "Upscale" in owner_client.get(upscaled.get_absolute_url()).content.decode()
    assert "Audio added" in owner_client.get(voiced.get_absolute_url()).content.decode()


def test_a_pick_from_another_upstream_is_refused_in_the_pickers_words(owner, owner_client) -> None:
    """Found from outside: an Agents API image named in a Dream Machine reframe (a hand-made
    link) was refused as "not finished or is gone", though finished and there."""
    agents = piece(owner, "an agents image", upstream_id="up-1")
    answer = owner_client.post(
        "/",
        {"mode": "dm_reframe_image", "prompt": "wider", "media_pick": str(agents.uuid)},
    )
    html = answer.content.decode()
    assert answer.status_code == 400
    assert "not finished or is gone" not in html
    assert "Only pieces made with the Luma Dream Machine API" in html
