"""The creation forms: each mode's exact request upstream, every rule on its field, real uploads."""

import io
import json
import re
import struct
import zlib
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from generations import views
from generations.forms import MODE_FORMS, ImageForm, VideoForm
from generations.forms.base import FORM_KEY
from generations.models import Generation, Input, Lineage, State
from generations.simulators import media as sim_media
from generations.simulators.models import SimGeneration
from generations.submission import upstream_user_id
from tests.conftest import terminal
from tests.factories import piece, png

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


# An API field name (start_frame, video.keyframe_indexes) in a message shown to a person.
API_NAME = re.compile(r"\b[a-z]+_[a-z_]+\b|\bvideo\.")


def upload(name: str, data: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def post(client: Client, mode: str, **fields: Any) -> Any:
    return client.post("/", {"mode": mode, "idempotency_key": f"k-{mode}", **fields})


def finished(owner, prompt: str, kind: str, run_worker, **request: Any) -> Generation:
    """A completed job of our own, to chain from."""
    from generations.providers.agents import schema
    from generations.tasks import start_generation

    generation, _ = start_generation(owner, schema.GenerationRequest(prompt=prompt, **request))
    run_worker(terminal(generation))
    assert generation.state == State.COMPLETED, generation.failure_reason
    assert generation.kind == kind
    return generation


def sent_body(generation: Generation) -> dict[str, Any]:
    generation.refresh_from_db()
    return SimGeneration.objects.get(pk=generation.upstream_id).request


def test_image_mode_sends_exactly_what_was_chosen(owner, owner_client, run_worker) -> None:
    response = post(
        owner_client,
        "image",
        prompt="a glass city",
        model="uni-1-max",
        aspect_ratio="21:9",
        style="manga",
        output_format="jpeg",
        web_search="on",
        image_ref=[upload("a.png", png("red")), upload("b.png", png("blue"))],
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    generation = Generation.objects.get()
    run_worker(terminal(generation))
    body = sent_body(generation)
    file_ids = [ref["file_id"] for ref in body.pop("image_ref")]
    assert body == {
        "prompt": "a glass city",
        "type": "image",
        "model": "uni-1-max",
        "aspect_ratio": "21:9",
        "style": "manga",
        "output_format": "jpeg",
        "web_search": True,
        "user_id": upstream_user_id(owner),
    }
    inputs = list(generation.inputs.order_by("id"))
    assert [i.file_id for i in inputs] == file_ids
    assert [i.original_name for i in inputs] == ["a.png", "b.png"]
    assert all(i.file.storage.exists(i.file.name) for i in inputs)
    assert generation.request == sent_body(generation)


def test_image_edit_from_the_gallery_records_lineage(owner, owner_client, run_worker) -> None:
    source = finished(owner, "a red barn", "image", run_worker)
    response = post(
        owner_client,
        "image_edit",
        prompt="in snow",
        source_pick=str(source.uuid),
        parent=str(source.uuid),
        lineage=Lineage.EDIT,
        model="uni-1",
        output_format="png",
    )
    assert response.status_code == 302
    edit = Generation.objects.exclude(pk=source.pk).get()
    assert (edit.parent, edit.lineage) == (source, Lineage.EDIT)
    run_worker(terminal(edit))
    assert sent_body(edit)["source"] == {"generation_id": source.upstream_id}
    assert edit.state == State.COMPLETED


def test_a_pick_moved_to_the_trash_before_generate_says_so_in_plain_words(
    owner, owner_client
) -> None:
    # Found from outside: "Select a valid choice. 0af9… is not one of the available choices."
    source = piece(owner, "a red barn", provider="agents", upstream_id="u-barn")
    Generation.objects.filter(pk=source.pk).update(deleted_at=timezone.now())
    refused = post(owner_client, "image_edit", prompt="make it gold", source_pick=str(source.uuid))
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "not one of the available choices" not in html
    assert "The piece picked here can no longer be picked" in html
    assert "A source is needed" not in html  # (a review: the slot was refused twice)
    assert "make it gold" in html


def test_video_with_a_keyframe_timeline(owner, owner_client, run_worker) -> None:
    response = post(
        owner_client,
        "video",
        prompt="a sunrise",
        duration="10s",
        resolution="1080p",
        aspect_ratio="9:16",
        hdr="on",
        **{
            "kf-TOTAL_FORMS": "2",
            "kf-INITIAL_FORMS": "0",
            "kf-0-image": upload("dawn.png", png("orange")),
            "kf-0-frame": "0",
            "kf-1-image": upload("noon.png", png("yellow")),
            "kf-1-frame": "200",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    generation = Generation.objects.get()
    run_worker(terminal(generation))
    video = sent_body(generation)["video"]
    assert video["keyframe_indexes"] == [0, 200]
    assert len(video["keyframes"]) == 2
    assert {k: video[k] for k in ("duration", "resolution", "hdr")} == {
        "duration": "10s",
        "resolution": "1080p",
        "hdr": True,
    }
    assert generation.state == State.COMPLETED


def test_extend_a_video_from_its_last_frame(owner, owner_client, run_worker) -> None:
    clip = finished(owner, "waves", "video", run_worker, type="video", model="ray-3.2")
    response = owner_client.get(f"/?mode=video&from={clip.uuid}&as=start_frame&lineage=extend")
    assert f'value="{clip.uuid}" selected' in response.content.decode()
    post(
        owner_client,
        "video",
        prompt="keep going",
        start_frame_pick=str(clip.uuid),
        parent=str(clip.uuid),
        lineage="extend",
        duration="5s",
        **{"kf-TOTAL_FORMS": "0", "kf-INITIAL_FORMS": "0"},
    )
    extension = Generation.objects.get(lineage=Lineage.EXTEND)
    run_worker(terminal(extension))
    assert sent_body(extension)["video"]["start_frame"] == {"generation_id": clip.upstream_id}


def test_video_edit_with_manual_controls(owner, owner_client, run_worker) -> None:
    clip = finished(owner, "a dancer", "video", run_worker, type="video", model="ray-3.2")
    post(
        owner_client,
        "video_edit",
        prompt="as a watercolour",
        source_pick=str(clip.uuid),
        strength="reimagine_2",
        depth="on",
        depth_blur="0.3",
        pose="on",
        pose_strength="coarse",
        normals_augmentation="0.5",
        trajectory_sparsity="0.5",
        resolution="540p",
    )
    edit = Generation.objects.get(kind="video_edit")
    run_worker(terminal(edit))
    assert sent_body(edit)["video"] == {
        "resolution": "540p",
        "edit": {
            "strength": "reimagine_2",
            "controls": {
                "depth": {"enabled": True, "blur": 0.3},
                "face": {"enabled": False},
                "normals": {"enabled": False, "augmentation": 0.5},
                "pose": {"enabled": True, "strength": "coarse"},
                "trajectory": {"enabled": False, "sparsity": 0.5},
            },
        },
    }


def test_video_edit_with_keyframes_on_the_sources_frames(owner, owner_client, run_worker) -> None:
    """Edit keyframes (`video.edit.keyframes`): the studio's timeline, on the source's grid."""
    clip = finished(owner, "a dancer", "video", run_worker, type="video", model="ray-3.2")
    page = owner_client.get("/?mode=video_edit").content.decode()
    assert 'data-timeline data-last-frame="432"' in page
    assert "frames of the source video" in page
    response = post(
        owner_client,
        "video_edit",
        prompt="as a watercolour",
        source_pick=str(clip.uuid),
        auto_controls="on",
        **{
            "kf-TOTAL_FORMS": "2",
            "kf-INITIAL_FORMS": "0",
            "kf-0-image": upload("ink.png", png("black")),
            "kf-0-frame": "12",
            "kf-1-image": upload("wash.png", png("skyblue")),
            "kf-1-frame": "100",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    edit = Generation.objects.get(kind="video_edit")
    run_worker(terminal(edit))
    sent = sent_body(edit)["video"]["edit"]
    assert sent["keyframe_indexes"] == [12, 100]
    assert len(sent["keyframes"]) == 2
    assert "keyframes" not in sent_body(edit)["video"]  # a video's own keyframes are another grid
    assert edit.state == State.COMPLETED, edit.failure_reason
    assert [i.original_name for i in edit.inputs.order_by("id")] == ["ink.png", "wash.png"]


def test_an_edit_keyframe_past_its_sources_end_is_refused_before_any_job(
    owner, owner_client, run_worker
) -> None:
    """Found from outside: only frames past 432 (the longest source) were refused, so frame 300
    of a 5-second source made a job, a charge for keyframes the source does not reach."""
    clip = finished(owner, "a dancer", "video", run_worker, type="video", model="ray-3.2")
    seconds = clip.outputs.get().duration
    last = int(seconds * 24)
    assert last < 300
    data = {
        "prompt": "as ink",
        "source_pick": str(clip.uuid),
        "kf-TOTAL_FORMS": "1",
        "kf-INITIAL_FORMS": "0",
        "kf-0-image": upload("ink.png", png("black")),
        "kf-0-frame": "300",
    }
    response = post(owner_client, "video_edit", **data)
    assert response.status_code == 400
    html = response.content.decode()
    assert f"Frame 300 is past the end: this source has frames 0 to {last}" in html
    assert f'data-source-frames="{last}"' in html  # the strip is the source's
    assert not Generation.objects.filter(kind="video_edit").exists()
    kept = KEPT.search(html)
    assert kept is not None
    del data["kf-0-image"]
    data["kf-0-frame"] = str(last)
    assert (
        post(owner_client, "video_edit", **data, **{"kf-0-kept": kept["token"]}).status_code == 302
    )


@pytest.mark.parametrize("mode", ["video", "video_edit"])
@pytest.mark.parametrize(
    ("frame", "said"),
    [("-1", "A frame position starts at 0."), ("2.5", "A frame position is a whole number.")],
)
def test_a_refused_keyframe_row_says_why_and_keeps_every_image(
    owner, owner_client, run_worker, mode: str, frame: str, said: str
) -> None:
    """Found from outside: a row whose frame was -1 or 2.5 said "frame" (its field's name) and
    the timeline "frame positions are whole numbers" (-1 is one), and every keyframe's image
    was dropped, where a refused form keeps every upload."""
    data: dict[str, Any] = {"prompt": "dawn to dusk"}
    if mode == "video_edit":
        clip = finished(owner, "a dancer", "video", run_worker, type="video", model="ray-3.2")
        data["source_pick"] = str(clip.uuid)
    data |= {
        "kf-TOTAL_FORMS": "2",
        "kf-INITIAL_FORMS": "0",
        "kf-0-image": upload("dawn.png", png("orange")),
        "kf-0-frame": "0",
        "kf-1-image": upload("dusk.png", png("navy")),
        "kf-1-frame": frame,
    }
    response = post(owner_client, mode, **data)
    assert response.status_code == 400
    html = response.content.decode()
    row = html[html.index('name="kf-1-frame"') :]
    assert f'<p class="field__error" id="id_kf-1-frame_error">{said}</p>' in row
    assert f"Keyframe 2: {said}" in html  # the timeline's own message
    assert sorted(m["name"] for m in KEPT.finditer(html)) == ["kf-0-kept", "kf-1-kept"]


@pytest.mark.parametrize("mode", ["video", "video_edit"])
def test_a_timeline_whose_counts_cannot_be_read_is_refused_in_words(owner_client, mode) -> None:
    fields = {"prompt": "p", "kf-TOTAL_FORMS": "abc", "kf-INITIAL_FORMS": "0", "kf-0-frame": "3"}
    response = post(owner_client, mode, **fields)
    assert response.status_code == 400
    assert "The timeline&#x27;s rows could not be read" in response.content.decode()


def test_a_keyframe_row_given_an_upload_and_a_pick_says_to_choose_one(
    owner, owner_client, run_worker
) -> None:
    """Found from outside: a row with both was told "Frame 3 already holds another keyframe"."""
    still = finished(owner, "a red kite", "image", run_worker)
    fields = {
        "prompt": "a kite rising",
        "kf-TOTAL_FORMS": "1",
        "kf-INITIAL_FORMS": "0",
        "kf-0-frame": "3",
        "kf-0-pick": str(still.uuid),
        "kf-0-image": upload("kite.png", png("red")),
    }
    html = post(owner_client, "video", **fields).content.decode()
    assert "Keyframe 1: upload an image or pick one, not both." in html
    assert "already holds another keyframe" not in html


def test_an_empty_timeline_row_is_left_out(owner_client) -> None:
    """The page always sends two rows; the second, untouched, is no keyframe."""
    rows = {"kf-TOTAL_FORMS": "2", "kf-INITIAL_FORMS": "0", "kf-1-frame": ""}
    rows |= {"kf-0-image": upload("dawn.png", png("orange")), "kf-0-frame": "6"}
    assert post(owner_client, "video", prompt="dawn", **rows).status_code == 302
    assert Generation.objects.get().request["video"]["keyframe_indexes"] == [6]


def test_a_removed_row_is_not_named_and_a_new_image_replaces_a_rows_kept_one(
    owner_client,
) -> None:
    """Review: the timeline's message named a row ticked Remove ("Keyframe 1") and numbered the
    rows otherwise than the strip; and a row's new image went beside its kept one, both at its
    frame, so the form said "Frame 30 already holds another keyframe"."""
    data = {
        "prompt": "dawn to dusk",
        "kf-TOTAL_FORMS": "3",
        "kf-INITIAL_FORMS": "0",
        "kf-0-image": upload("gone.png", png("grey")),
        "kf-0-frame": "-5",
        "kf-0-DELETE": "on",
        "kf-1-image": upload("dawn.png", png("orange")),
        "kf-1-frame": "0",
        "kf-2-image": upload("noon.png", png("yellow")),
        "kf-2-frame": "x",
    }
    html = post(owner_client, "video", **data).content.decode()
    assert "Keyframe 2: A frame position is a whole number." in html
    kept = {m["name"]: m["token"] for m in KEPT.finditer(html)}
    assert set(kept) == {"kf-1-kept", "kf-2-kept"}  # not the removed row's
    again = {
        "prompt": "dawn to dusk",
        "kf-TOTAL_FORMS": "2",
        "kf-INITIAL_FORMS": "0",
        "kf-0-kept": kept["kf-1-kept"],
        "kf-0-frame": "0",
        "kf-1-kept": kept["kf-2-kept"],
        "kf-1-image": upload("dusk.png", png("navy")),  # in place of noon.png
        "kf-1-frame": "30",
    }
    response = post(owner_client, "video", **again)
    assert response.status_code == 302, response.content.decode()[:3000]
    job = Generation.objects.get()
    assert job.request["video"]["keyframe_indexes"] == [0, 30]
    assert sorted(i.original_name for i in job.inputs.all()) == ["dawn.png", "dusk.png"]


def test_remix_of_an_edit_keeps_its_keyframes(owner, owner_client, run_worker) -> None:
    clip = finished(owner, "a dancer", "video", run_worker, type="video", model="ray-3.2")
    data = {
        "prompt": "as a watercolour",
        "source_pick": str(clip.uuid),
        "auto_controls": "on",
        "kf-TOTAL_FORMS": "1",
        "kf-INITIAL_FORMS": "0",
        "kf-0-image": upload("ink.png", png("black")),
        "kf-0-frame": "40",
    }
    assert post(owner_client, "video_edit", **data).status_code == 302
    original = Generation.objects.get(kind="video_edit")
    html = owner_client.get(f"/?remix={original.uuid}").content.decode()
    assert 'name="kf-0-frame" value="40"' in html
    assert [m["name"] for m in KEPT.finditer(html)] == ["kf-0-kept"]


@pytest.mark.parametrize("wrong", ["source", "keyframe"])
def test_a_pick_of_the_wrong_media_is_refused_before_any_job(
    owner, owner_client, run_worker, wrong: str
) -> None:
    """Found from outside: a script could name an image as an edit's source, or a video as a
    keyframe; a job was made (a charge) and failed upstream ("this input is a video")."""
    clip = finished(owner, "a dancer", "video", run_worker, type="video", model="ray-3.2")
    still = finished(owner, "a red kite", "image", run_worker)
    rows = {"kf-TOTAL_FORMS": "1", "kf-INITIAL_FORMS": "0", "kf-0-frame": "10"}
    rows["kf-0-pick"] = str(clip.uuid if wrong == "keyframe" else still.uuid)
    source = still if wrong == "source" else clip
    response = post(
        owner_client, "video_edit", prompt="as ink", source_pick=str(source.uuid), **rows
    )
    assert response.status_code == 400
    said = (
        "That piece is a video: pick an image here."
        if wrong == "keyframe"
        else ("That piece is an image: pick a video here.")
    )
    assert said in response.content.decode()
    assert not Generation.objects.filter(kind="video_edit").exists()


def test_reframe_sends_the_source_rectangle(owner, owner_client, run_worker) -> None:
    clip = finished(owner, "a street", "video", run_worker, type="video", model="ray-3.2")
    post(
        owner_client,
        "video_reframe",
        prompt="vertical",
        source_pick=str(clip.uuid),
        aspect_ratio="9:16",
        resolution="720p",
        x_norm="-0.25",
        y_norm="0.1",
        w_norm="1.5",
        h_norm="0.8",
    )
    reframe = Generation.objects.get(kind="video_reframe")
    run_worker(terminal(reframe))
    assert sent_body(reframe)["video"]["source_position"] == {
        "x_norm": -0.25,
        "y_norm": 0.1,
        "w_norm": 1.5,
        "h_norm": 0.8,
    }


def test_layers_from_an_upload(owner, owner_client, run_worker) -> None:
    post(owner_client, "layering", prompt="", source=upload("p.png", png()), resolution="2k")
    layers = Generation.objects.get(kind="layering")
    run_worker(terminal(layers))
    body = sent_body(layers)
    assert body["layering"] == {"resolution": "2k"}
    assert set(body["source"]) == {"file_id", "media_type"}
    assert layers.outputs.count() >= 2
    assert all(output.layer["label"] for output in layers.outputs.all())


# --- every rule refused on its field, nothing sent ---


@pytest.mark.parametrize(
    ("mode", "fields", "field", "message"),
    [
        ("video", {"duration": "10s", "loop": "on"}, "loop", "10-second"),
        ("video", {"loop": "on", "hdr": "on"}, "loop", "HDR"),
        ("video", {"exr_export": "on"}, "exr_export", "HDR"),
        ("video", {"hdr": "on", "resolution": "360p"}, "resolution", "540p or higher"),
        ("image_edit", {}, "source", "A source is needed for image edits: the image to edit."),
        ("layering", {"prompt": "x" * 501}, "prompt", "500"),
        ("image", {"prompt": ""}, "prompt", "Write a prompt."),
        (
            "video_reframe",
            {"w_norm": "2.5", "x_norm": "0", "y_norm": "0", "h_norm": "1"},
            "w_norm",
            "Must be more than 0 and at most 2.",
        ),
        (  # found from outside: a paid job whose source nowhere shows
            "video_reframe",
            {"x_norm": "1.5", "y_norm": "1.5", "w_norm": "0.2", "h_norm": "0.2"},
            "x_norm",
            "The video would be entirely outside the frame",
        ),
    ],
)
def test_rules_are_refused_on_their_field(
    owner_client: Client, mode: str, fields: dict[str, str], field: str, message: str
) -> None:
    data = {"prompt": "p", "kf-TOTAL_FORMS": "0", "kf-INITIAL_FORMS": "0", **fields}
    form = MODE_FORMS[mode](data)
    assert not form.is_valid()
    assert field in form.errors, form.errors
    assert message in " ".join(form.errors[field])
    assert not API_NAME.search(" ".join(form.errors[field]))
    response = post(owner_client, mode, **data)
    assert response.status_code == 400
    assert not Generation.objects.exists()


def test_the_form_greys_out_what_the_combination_rules_out() -> None:
    form = VideoForm({"prompt": "p", "duration": "10s", "kf-TOTAL_FORMS": "0"})
    disabled = form.disabled_options()
    assert "on" in disabled["loop"]
    assert "10-second" in disabled["loop"]["on"]
    assert "on" in disabled["exr_export"]
    with_keyframes = VideoForm(
        {"prompt": "p", "kf-TOTAL_FORMS": "1", "kf-0-frame": "10", "duration": "5s"}
    )
    assert "on" in with_keyframes.disabled_options()["loop"]
    plain = ImageForm({"prompt": "p"})
    assert plain.disabled_options() == {}


def test_the_options_endpoint_renders_disabled_options_with_reasons(owner_client: Client) -> None:
    response = owner_client.post(
        "/create/options", {"mode": "video", "prompt": "p", "duration": "10s", "loop": "on"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="loop"' in html
    assert "disabled" in html
    assert "Loop is not available for 10-second videos" in html


def test_a_ruled_out_choice_is_explained_only_while_it_is_the_one_chosen(
    owner_client: Client,
) -> None:
    """With HDR on, 360p is greyed out; its reason is said only when 360p is what is chosen."""
    hdr = {"mode": "video", "prompt": "p", "hdr": "on"}
    at_720p = owner_client.post("/create/options", {**hdr, "resolution": "720p"}).content.decode()
    assert '<option value="360p" disabled>' in at_720p
    assert "360p is an SDR draft tier" not in at_720p
    at_360p = owner_client.post("/create/options", {**hdr, "resolution": "360p"}).content.decode()
    assert '<p class="option__reason">360p is an SDR draft tier' in at_360p


@pytest.mark.parametrize("parent", [" ", "not-a-uuid", "0" * 32 + "x"])
def test_a_broken_parent_is_never_linked_to(owner_client: Client, parent: str) -> None:
    """Found by hypothesis: " " passed the field (stripped to nothing) and was linked raw."""
    response = owner_client.post("/", {"mode": "image", "prompt": "", "parent": parent})
    assert response.status_code == 400
    assert "chain-note" not in response.content.decode()


def test_a_real_parent_is_linked_to(owner, owner_client: Client) -> None:
    source = Generation.objects.create(
        created_by=owner, kind="image", model="uni-1", prompt="p", request={}
    )
    response = owner_client.post("/", {"mode": "image", "prompt": "", "parent": str(source.uuid)})
    assert f'href="/g/{source.uuid}/"' in response.content.decode()


def test_a_parent_moved_to_the_trash_is_named_not_linked(owner, owner_client: Client) -> None:
    """Found from outside: "Made from an earlier piece" still linked a piece in the Trash, a
    404 (a bare one for a teammate, who cannot restore it)."""
    source = Generation.objects.create(
        created_by=owner, kind="image", model="uni-1", prompt="p", request={}
    )
    source.deleted_at = timezone.now()
    source.save()
    response = owner_client.post("/", {"mode": "image", "prompt": "", "parent": str(source.uuid)})
    html = response.content.decode()
    assert f'href="/g/{source.uuid}/"' not in html
    assert "an earlier piece, now in the Trash" in html


# --- uploads refused before anything is stored or sent ---


def truncated_png() -> bytes:
    return png()[:-40]


def pixel_bomb() -> bytes:
    """A tiny PNG whose header claims 30000 x 30000 pixels."""
    header = struct.pack(">IIBBBBB", 30000, 30000, 1, 0, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat_data = zlib.compress(b"\x00" * 10)
    idat = b"IDAT" + idat_data
    return (
        b"\x89PNG\r\n\x1a\n"
        + ihdr
        + struct.pack(">I", len(idat_data))
        + idat
        + struct.pack(">I", zlib.crc32(idat))
    )


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.png", b"just some notes", "notes.png is a text file, not an image."),
        # Found from outside: a PDF was "a text file" (its first bytes read as text).
        (
            "doc.pdf",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
            "doc.pdf is a PDF document, not an image.",
        ),
        ("cut.png", truncated_png(), "damaged"),
        ("bomb.png", pixel_bomb(), "megapixels"),
        ("empty.png", b"", "empty"),
    ],
)
def test_bad_image_uploads_are_refused_and_nothing_is_left(
    owner_client: Client, name: str, data: bytes, message: str
) -> None:
    response = post(owner_client, "layering", prompt="x", source=upload(name, data))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Generation.objects.exists()
    assert not Input.objects.exists()


def test_a_bad_file_and_an_empty_prompt_are_both_said_at_once(owner_client: Client) -> None:
    # Found from outside: only the file's refusal showed; the empty prompt took a second try.
    response = post(owner_client, "image_edit", prompt="", source=upload("notes.png", b"notes"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "notes.png is a text file, not an image." in html
    assert "Write a prompt." in html
    assert "A source is needed" not in html  # the file's own refusal says it
    assert not Generation.objects.exists()


def test_an_oversized_upload_is_refused_with_the_limit(owner_client: Client, settings) -> None:
    settings.LUMAWEB_UPLOAD_MAX_IMAGE_MB = 0.001
    noisy = io.BytesIO()
    Image.effect_noise((200, 200), 80).save(noisy, "PNG")
    big = upload("big.png", noisy.getvalue())
    response = post(owner_client, "layering", prompt="x", source=big)
    assert response.status_code == 400
    assert "at most 0.001 MB" in response.content.decode()
    assert not Input.objects.exists()


def test_a_19_second_video_is_refused_for_an_edit(owner_client: Client) -> None:
    video = sim_media.render_video("long", seconds=19, long_side=64)
    response = post(
        owner_client,
        "video_edit",
        prompt="x",
        source=upload("long.mp4", video, "video/mp4"),
        strength="flex_1",
    )
    assert response.status_code == 400
    assert "19.0 s long; video edits take 18 s at most" in response.content.decode()
    assert not Input.objects.exists()
    assert not Generation.objects.exists()


def test_a_video_upload_is_sent_through_the_files_api(owner, owner_client, run_worker) -> None:
    video = sim_media.render_video("short", seconds=2, long_side=64)
    post(
        owner_client,
        "video_edit",
        prompt="sepia",
        source=upload("short.mp4", video, "video/mp4"),
        auto_controls="on",
    )
    edit = Generation.objects.get()
    [item] = edit.inputs.all()
    assert (item.mime_type, round(item.duration or 0)) == ("video/mp4", 2)
    run_worker(terminal(edit))
    item.refresh_from_db()
    assert sent_body(edit)["source"] == {"file_id": item.file_id, "media_type": "video/mp4"}
    assert edit.state == State.COMPLETED


def test_remix_prefills_the_exact_request(owner, owner_client, run_worker) -> None:
    clip = finished(
        owner,
        "neon rain",
        "video",
        run_worker,
        type="video",
        model="ray-3.2",
        video={"duration": "10s", "resolution": "540p"},
    )
    form = VideoForm(initial=VideoForm.initial_from(clip))
    html = owner_client.get(f"/?mode=video&remix={clip.uuid}").content.decode()
    assert form["duration"].value() == "10s"
    assert form["resolution"].value() == "540p"
    assert "neon rain" in html
    assert 'value="10s" selected' in html


def test_chain_actions_on_the_detail_page(owner, owner_client, run_worker) -> None:
    image = finished(owner, "a kite", "image", run_worker)
    html = owner_client.get(image.get_absolute_url()).content.decode()
    for label in ("Edit", "Animate", "Use as end frame", "Split into layers", "Remix"):
        assert f">{label}</a>" in html
    assert "Extend" not in html


# --- the command-line twin ---


def test_the_command_creates_a_job_from_flags(owner, run_worker, capsys) -> None:
    from django.core.management import call_command

    call_command(
        "create_generation",
        "--user",
        owner.username,
        "--prompt",
        "a comet",
        "--type",
        "video",
        "--duration",
        "10s",
        "--aspect-ratio",
        "21:9",
    )
    printed = json.loads(capsys.readouterr().out)
    generation = Generation.objects.get(uuid=printed["id"])
    run_worker(terminal(generation))
    assert sent_body(generation)["video"] == {"duration": "10s"}
    assert sent_body(generation)["model"] == "ray-3.2"


def test_the_command_takes_a_json_body_and_refuses_bad_ones(owner, tmp_path) -> None:
    from django.core.management import CommandError, call_command

    body = tmp_path / "request.json"
    body.write_text(
        json.dumps({"prompt": "x", "type": "video", "video": {"loop": True, "duration": "10s"}})
    )
    with pytest.raises(CommandError, match="Loop is not available for 10-second videos"):
        call_command("create_generation", "--user", owner.username, "--json", str(body))
    assert not Generation.objects.exists()


def keyframe_rows(*frames: int) -> dict[str, Any]:
    rows: dict[str, Any] = {"kf-TOTAL_FORMS": str(len(frames)), "kf-INITIAL_FORMS": "0"}
    for i, frame in enumerate(frames):
        rows[f"kf-{i}-image"] = upload(f"k{i}.png", png())
        rows[f"kf-{i}-frame"] = str(frame)
    return rows


@pytest.mark.parametrize(
    ("mode", "fields", "field", "message"),
    [
        ("video", {**keyframe_rows(0, 121)}, "keyframes", "120"),
        ("video", {**keyframe_rows(10, 10)}, "keyframes", "already holds another keyframe"),
        ("video", {**keyframe_rows(0), "loop": "on"}, "loop", "keyframes"),
        (
            "video",
            {**keyframe_rows(0), "start_frame": upload("s.png", png())},
            "start_frame",
            "A start frame cannot be combined with keyframes: give it as a keyframe.",
        ),
        (
            "video",
            {"start_frame": upload("s.png", png()), "hdr": "on"},
            "start_frame",
            "A start frame does not support HDR",
        ),
        ("video", {"exr_export": "on"}, "exr_export", "EXR export needs HDR: turn on HDR too."),
        ("image", {"image_ref": [upload(f"{i}.png", png()) for i in range(10)]}, "image_ref", "9"),
        (
            "image_edit",
            {
                "source": upload("s.png", png()),
                "image_ref": [upload(f"{i}.png", png()) for i in range(9)],
            },
            "image_ref",
            "8",
        ),
    ],
)
def test_rules_about_uploads_are_refused_on_their_field(
    owner_client: Client, mode: str, fields: dict[str, Any], field: str, message: str
) -> None:
    data = {"prompt": "p", "kf-TOTAL_FORMS": "0", "kf-INITIAL_FORMS": "0", **fields}
    files = {k: v for k, v in data.items() if not isinstance(v, str)}
    form = MODE_FORMS[mode]({k: v for k, v in data.items() if k not in files}, files)
    assert not form.is_valid()
    assert message in " ".join(form.errors.get(field, [])), form.errors
    assert not API_NAME.search(" ".join(form.errors.get(field, [])))
    assert post(owner_client, mode, **data).status_code == 400
    assert not Generation.objects.exists()
    # Its good uploads wait for the next submit, with no job (uploads.PENDING_HOURS).
    assert not Input.objects.exclude(generation=None).exists()


def test_each_slot_is_declared_once_and_the_modes_come_from_the_forms() -> None:
    """A form's slot fields are made from its SLOTS (an upload and a gallery pick each), and
    the mode switch's labels are the forms' own (issue 12: nothing written twice)."""
    from django import forms as django_forms

    from generations.forms import MODES

    for mode, form_class in MODE_FORMS.items():
        assert MODES[mode] == form_class.LABEL
        assert mode == form_class.MODE
        for slot in form_class.SLOTS:
            assert isinstance(form_class.base_fields[slot.name], django_forms.FileField)
            assert isinstance(form_class.base_fields[f"{slot.name}_pick"], django_forms.ChoiceField)
            assert slot.name not in form_class.declared_fields, f"{form_class.__name__}.{slot.name}"
        uploads = {
            n for n, f in form_class.base_fields.items() if isinstance(f, django_forms.FileField)
        }
        assert uploads == {slot.name for slot in form_class.SLOTS}


# --- uploads survive a refused form (issue 16) ---

KEPT = re.compile(r'name="(?P<name>[\w-]+[_-]kept)" value="(?P<token>[^"]+)" checked')


def test_a_refused_form_keeps_its_uploads_for_the_next_submit(
    owner, owner_client, run_worker
) -> None:
    refused = post(owner_client, "image", prompt="", image_ref=[upload("castle.png", png("red"))])
    html = refused.content.decode()
    assert refused.status_code == 400
    assert "Write a prompt." in html
    assert "castle.png" in html  # shown on its slot, with a preview, ticked
    kept = KEPT.search(html)
    assert kept is not None
    assert kept["name"] == "image_ref_kept"
    pending = Input.objects.get()
    assert pending.generation is None
    assert pending.uploaded_by == owner
    response = post(owner_client, "image", prompt="a castle", image_ref_kept=kept["token"])
    assert response.status_code == 302, response.content.decode()[:2000]
    generation = Generation.objects.get()
    run_worker(terminal(generation))
    item = generation.inputs.get()
    assert (item.original_name, item.role) == ("castle.png", "image_ref")
    assert item.file.read() == png("red")
    assert [ref["file_id"] for ref in sent_body(generation)["image_ref"]] == [item.file_id]


def test_a_kept_upload_is_only_its_uploaders(owner_client, teammate) -> None:
    teammate_client = Client()
    teammate_client.force_login(teammate)
    html = post(owner_client, "image", prompt="", image_ref=[upload("mine.png", png())]).content
    kept = KEPT.search(html.decode())
    assert kept is not None
    for token in (kept["token"], "forged:token"):
        response = post(teammate_client, "image", prompt="theirs", image_ref_kept=token)
        assert response.status_code == 400
        assert "A file kept from before is gone: upload it again." in response.content.decode()
    assert not Generation.objects.exists()


def test_a_refused_keyframe_keeps_its_image_and_frame(owner_client) -> None:
    data = {
        "prompt": "dawn to dusk",
        "loop": "on",  # refused with keyframes
        "kf-TOTAL_FORMS": "1",
        "kf-INITIAL_FORMS": "0",
        "kf-0-frame": "85",
        "kf-0-image": upload("dawn.png", png("orange")),
    }
    html = post(owner_client, "video", **data).content.decode()
    assert "dawn.png" in html
    kept = KEPT.search(html)
    assert kept is not None
    assert kept["name"] == "kf-0-kept"
    assert 'name="kf-0-frame" value="85"' in html
    del data["loop"], data["kf-0-image"]
    assert post(owner_client, "video", **data, **{"kf-0-kept": kept["token"]}).status_code == 302
    generation = Generation.objects.get()
    assert generation.request["video"]["keyframe_indexes"] == [85]
    assert generation.inputs.get().original_name == "dawn.png"


def test_the_sweep_deletes_uploads_no_job_took(owner_client) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from generations.tasks import sweep

    post(owner_client, "image", prompt="", image_ref=[upload("left.png", png())])
    item = Input.objects.get()
    assert sweep()["pending_uploads"] == 0  # the person may still come back to it
    later = timezone.now() + timedelta(hours=25)
    assert sweep(later)["pending_uploads"] == 1
    assert not Input.objects.exists()
    assert not item.file.storage.exists(item.file.name)


# --- Remix keeps references, keyframes and uploads (issue 16) ---


def test_remix_keeps_both_reference_images(owner, owner_client, run_worker) -> None:
    refs = [upload("red.png", png("red")), upload("blue.png", png("blue"))]
    assert post(owner_client, "image", prompt="two refs", image_ref=refs).status_code == 302
    original = Generation.objects.get()
    run_worker(terminal(original))  # sent: its stored request names the uploads by file id
    assert "lumaweb-input:" not in json.dumps(Generation.objects.get().request)
    html = owner_client.get(f"/?remix={original.uuid}").content.decode()
    kept = [m["token"] for m in KEPT.finditer(html) if m["name"] == "image_ref_kept"]
    assert len(kept) == 2
    assert "red.png" in html
    assert "blue.png" in html
    response = owner_client.post(
        "/",
        {
            "mode": "image",
            "idempotency_key": "remix",
            "prompt": "two refs, again",
            "parent": str(original.uuid),
            "lineage": Lineage.REMIX,
            "image_ref_kept": kept,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    remix = Generation.objects.exclude(pk=original.pk).get()
    assert remix.parent == original
    assert len(remix.request["image_ref"]) == 2
    names = [i.original_name for i in remix.inputs.order_by("id")]
    assert names == ["red.png", "blue.png"]
    assert {i.pk for i in remix.inputs.all()}.isdisjoint({i.pk for i in original.inputs.all()})


def test_remix_keeps_the_keyframes_with_their_frames_and_images(owner, owner_client) -> None:
    data = {
        "prompt": "dawn to dusk",
        "kf-TOTAL_FORMS": "2",
        "kf-INITIAL_FORMS": "0",
        "kf-0-frame": "0",
        "kf-0-image": upload("dawn.png", png("orange")),
        "kf-1-frame": "85",
        "kf-1-image": upload("dusk.png", png("navy")),
    }
    assert post(owner_client, "video", **data).status_code == 302
    original = Generation.objects.get()
    html = owner_client.get(f"/?remix={original.uuid}").content.decode()
    assert 'name="kf-1-frame" value="85"' in html
    kept = {m["name"]: m["token"] for m in KEPT.finditer(html)}
    assert set(kept) == {"kf-0-kept", "kf-1-kept"}
    again = {
        "prompt": "dawn to dusk",
        "kf-TOTAL_FORMS": "2",
        "kf-INITIAL_FORMS": "2",
        "kf-0-frame": "0",
        "kf-1-frame": "85",
        **kept,
    }
    response = owner_client.post("/", {"mode": "video", "idempotency_key": "again", **again})
    assert response.status_code == 302, response.content.decode()[:2000]
    remix = Generation.objects.exclude(pk=original.pk).get()
    assert remix.request["video"]["keyframe_indexes"] == [0, 85]
    assert [i.original_name for i in remix.inputs.order_by("id")] == ["dawn.png", "dusk.png"]


# --- chains inherit the source's aspect ratio and prompt (issue 16) ---


@pytest.mark.parametrize(("source_ratio", "expected"), [("9:16", "9:16"), ("1:3", "9:16")])
def test_animate_starts_from_the_sources_ratio_and_prompt(
    owner, owner_client, run_worker, source_ratio: str, expected: str
) -> None:
    image = finished(owner, "a tall lighthouse", "image", run_worker, aspect_ratio=source_ratio)
    url = f"/?mode=video&from={image.uuid}&as=start_frame&lineage=animate"
    html = owner_client.get(url).content.decode()
    assert "a tall lighthouse</textarea>" in html
    assert f'value="{expected}" selected' in html
    layers = owner_client.get(f"/?mode=layering&from={image.uuid}&as=source&lineage=layers")
    assert "a tall lighthouse</textarea>" not in layers.content.decode()  # it says how to split


def test_reframe_keeps_its_own_target_ratio_and_starts_from_the_sources_prompt(
    owner, owner_client, run_worker
) -> None:
    """Another aspect ratio is a reframe's point: it does not start from the source's."""
    clip = finished(owner, "a wide street", "video", run_worker, type="video", model="ray-3.2")
    url = f"/?mode=video_reframe&from={clip.uuid}&as=source&lineage=reframe"
    html = owner_client.get(url).content.decode()
    assert 'value="9:16" selected' in html
    # Found from outside: Reframe from a video's page came with an empty prompt that read as
    # optional, and Generate was refused with "Write a prompt." (the API requires one).
    assert "a wide street</textarea>" in html


# --- variations: one Generate, several jobs (issue 16) ---


def test_two_variations_are_two_jobs_of_one_batch(owner, owner_client, run_worker) -> None:
    response = post(
        owner_client,
        "image",
        prompt="two takes",
        variations="2",
        image_ref=[upload("r.png", png())],
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    first, second = Generation.objects.order_by("id")
    assert first.batch == second.batch == first.uuid
    assert (first.idempotency_key, second.idempotency_key) == ("k-image", "k-image:2")
    for generation in (first, second):
        item = generation.inputs.get()
        assert generation.request["image_ref"][0]["file_id"] == item.placeholder
        run_worker(terminal(generation))
        item.refresh_from_db()
        assert [ref["file_id"] for ref in sent_body(generation)["image_ref"]] == [item.file_id]
    assert first.inputs.get().uuid != second.inputs.get().uuid
    # The same submit again (a double click) makes no more.
    post(owner_client, "image", prompt="two takes", variations="2")
    assert Generation.objects.count() == 2


def test_what_is_said_after_generate_counts_the_jobs_sent(owner_client) -> None:
    """Found from outside (left open last stop): four variations were "Sent. It will appear",
    as one job is."""
    page = owner_client.get(post(owner_client, "image", prompt="four takes", variations="4").url)
    assert "Sent 4 jobs: they appear in the gallery when they are ready." in page.content.decode()
    htmx = owner_client.post(
        "/",
        {"mode": "image", "idempotency_key": "k-htmx", "prompt": "two takes", "variations": "2"},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "Sent 2 jobs: they appear below when ready." in htmx
    one = owner_client.post(
        "/",
        {"mode": "image", "idempotency_key": "k-one", "prompt": "one take"},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "Sent: it appears below when ready." in one


def test_variations_through_a_gateway_each_name_their_own_upload(owner_client) -> None:
    """The gateway's request names an upload by a plain string: each variation its own."""
    image = upload("s.png", png())
    response = post(owner_client, "proxy", prompt="two takes", variations="2", image_url=image)
    assert response.status_code == 302, response.content.decode()[:2000]
    made = list(Generation.objects.order_by("id"))
    assert len(made) == 2
    for generation in made:
        assert generation.request["image_url"] == generation.inputs.get().placeholder


# --- the empty form, rendered once per mode and shared (views._empty_panel) ---


def form_key(page: str) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert found, "the form has no key"
    return found.group(1)


def test_every_studio_page_has_its_own_form_key_and_the_page_token(owner_client: Client) -> None:
    first, second = (owner_client.get("/?mode=image").content.decode() for _ in range(2))
    assert form_key(first) != form_key(second)  # a second tab's Generate is a job of its own
    for page in (first, second):
        assert FORM_KEY.fullmatch(form_key(page))
        assert "<!--viewer" not in page
        token = re.search(r'X-CSRFToken": "([^"]+)"', page).group(1)  # type: ignore[union-attr]
        assert f'name="csrfmiddlewaretoken" value="{token}"' in page


def test_a_piece_finished_after_the_studio_was_shown_is_offered_on_the_next(
    owner, owner_client: Client
) -> None:
    piece(owner, "an ochre dune at noon", upstream_id="up-dune")
    assert "an ochre dune at noon" in owner_client.get("/?mode=image").content.decode()
    piece(owner, "a cobalt glacier", upstream_id="up-glacier")
    page = owner_client.get("/?mode=image").content.decode()
    assert "a cobalt glacier (Image)" in page  # a new pick list: the form is rendered anew


def test_a_prompt_naming_the_form_key_mark_changes_nothing(owner, owner_client: Client) -> None:
    piece(owner, f"value={views.FORM_KEY_MARK}", upstream_id="up-mark")
    page = owner_client.get("/?mode=image_edit").content.decode()
    assert FORM_KEY.fullmatch(form_key(page))
    assert f"value={views.FORM_KEY_MARK} (Image)" in page


def test_a_piece_finished_after_the_studio_was_shown_is_put_in_its_lists_not_a_new_panel(
    owner, owner_client: Client
) -> None:
    """A finished piece changes the pick lists, not the rest of the panel: only the lists are
    put in per page, so the next studio page renders no form (#18: render what changed)."""
    piece(owner, "an ochre dune at noon", upstream_id="up-dune")
    owner_client.get("/?mode=video")
    piece(owner, "a cobalt glacier & <moon>", upstream_id="up-glacier")
    response = owner_client.get("/?mode=video")
    page = response.content.decode()
    assert "generations/create_panel.html" not in [used.name for used in response.templates]
    # Start frame, end frame, the two keyframe rows and the row "Add keyframe" copies:
    offered = page.count("a cobalt glacier &amp; &lt;moon&gt; (Image)</option>")
    assert offered == page.count("an ochre dune at noon (Image)</option>") == 5
    assert "viewerPickMark" not in page
    assert '<option value="" selected>— none —</option>' in page


@pytest.mark.parametrize("count", ["99999999999999999999", "10000000", "-3", "1e9"])
def test_the_options_check_takes_any_count_of_chosen_files_in_its_stride(
    owner_client: Client, count: str
) -> None:
    # Found from outside: the options check built a list as long as the count the page sends
    # (10**7: 14 s and 170 MB; 10**20: a 500). A count past any form's limit says the same.
    response = owner_client.post(
        "/create/options", {"mode": "image", "prompt": "p", "image_ref_count": count}
    )
    assert response.status_code == 200


def test_generate_again_after_the_first_went_to_the_trash_sends_a_new_job(
    owner_client: Client, owner
) -> None:
    # Found from outside: the same form sent again (Back, then Generate) after its job went to
    # the Trash said "Sent" and made nothing. A trashed job gives its key up.
    assert post(owner_client, "image", prompt="a kite").status_code == 302
    first = Generation.objects.get()
    owner_client.post(f"/g/{first.uuid}/delete")
    first.refresh_from_db()
    assert first.deleted_at is not None
    assert post(owner_client, "image", prompt="a kite").status_code == 302
    again = Generation.objects.exclude(pk=first.pk).get()
    assert (again.prompt, again.deleted_at, again.idempotency_key) == ("a kite", None, "k-image")


def test_a_scripts_video_post_without_the_timeline_is_a_video_without_keyframes(
    owner_client: Client,
) -> None:
    # Found from outside: it was refused with "(Hidden field TOTAL_FORMS) This field is
    # required" and "Check the keyframes", though no keyframe was sent.
    response = post(owner_client, "video", prompt="a harbour at dawn")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Generation.objects.get().prompt == "a harbour at dawn"


# --- the studio's own upload references, never taken from what a person or an agent writes ---


def test_a_prompt_that_reads_like_an_upload_reference_is_sent_as_written(
    owner, owner_client, run_worker
) -> None:
    """Found from outside: a prompt starting "lumaweb-input:" stopped its job in the worker
    (KeyError: no such upload), left "submitting" until the sweep called it unknown; with a
    reference and two variations Generate itself was a 500."""
    words = "lumaweb-input:hello, a fox in the snow"
    assert post(owner_client, "image", prompt=words).status_code == 302
    alone = Generation.objects.get()
    run_worker(terminal(alone))
    alone.refresh_from_db()
    assert alone.state == State.COMPLETED
    assert sent_body(alone)["prompt"] == words
    answer = post(
        owner_client,
        "image",
        prompt=words,
        image_ref=[upload("red.png", png("red"))],
        variations="2",
        idempotency_key="twice",
    )
    assert answer.status_code == 302
    assert Generation.objects.filter(prompt=words).count() == 3


def test_a_remix_never_reuses_another_jobs_upload(owner, teammate, owner_client) -> None:
    """Found from outside: a job whose request named another person's upload (an agent can
    write `lumaweb-input:<its id>`) gave its Remix a kept token for that upload, and the new
    job a copy of someone else's file (one in the Trash, even)."""
    theirs = piece(teammate, "their sketch")
    item = Input.objects.create(
        generation=theirs,
        uploaded_by=teammate,
        role="image_ref",
        file="inputs/secret.png",
        original_name="secret.png",
        mime_type="image/png",
        size_bytes=3,
        sha256="0" * 64,
    )
    mine = piece(
        owner,
        "steal this",
        request={
            "prompt": "steal this",
            "type": "image",
            "model": "uni-1",
            "image_ref": [{"url": f"lumaweb-input:{item.uuid}"}],
        },
    )
    html = owner_client.get(f"/?remix={mine.uuid}").content.decode()
    assert not [m for m in KEPT.finditer(html) if m["name"] == "image_ref_kept"]
    assert "secret.png" not in html


@pytest.mark.parametrize("mode", ["video", "video_edit"])
@pytest.mark.parametrize("frame", ["²", "٣", "1e3", "9" * 5000])
def test_a_keyframe_position_in_other_digits_is_no_server_error(owner_client, frame, mode) -> None:
    """Found from outside: "²" (a digit to `str.isdigit`, none to `int`) as a keyframe's frame
    was a 500 on the options check and on Generate; so was a number of 5,000 digits (past
    Python's limit for reading one)."""
    fields = {"mode": mode, "prompt": "p", "kf-TOTAL_FORMS": "1", "kf-0-frame": frame}
    assert owner_client.post("/create/options", fields).status_code == 200
    assert owner_client.post("/", fields).status_code == 400


@pytest.mark.parametrize(
    "link", ["/?mode=video&from={}&as=start_frame&lineage=extend", "/?remix={}"]
)
def test_a_link_from_a_piece_in_the_trash_opens_the_studio_empty_and_says_so(
    owner, owner_client: Client, link: str
) -> None:
    """Found from outside: reloading an Extend (or Remix) link after its piece went to the Trash
    replaced the whole studio with the site's 404."""
    gone = piece(owner, "a trashed wave")
    gone.deleted_at = timezone.now()
    gone.save()
    response = owner_client.get(link.format(gone.uuid))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="create-form"' in html
    assert "in the Trash or gone" in html
    assert "a trashed wave" not in html
    assert owner_client.get(link.format("not-an-id")).status_code == 200


def test_refused_forms_keep_a_bounded_amount_of_a_persons_uploads(
    owner, owner_client, settings
) -> None:
    """Found from outside: each refused submit kept every checked upload for a day, with no
    bound (five posts of nine 3 MB images kept 132 MB). A person's refused forms keep at most
    LUMAWEB_KEPT_UPLOADS_MB; past it their oldest go first, never the latest form's."""
    one = len(png("red", (600, 400)))
    settings.LUMAWEB_KEPT_UPLOADS_MB = 2.5 * one / 2**20  # room for two of them
    for name in ("first", "second", "third"):
        refs = [upload(f"{name}.png", png("red", (600, 400)))]
        assert post(owner_client, "image", prompt="", image_ref=refs).status_code == 400
    kept = Input.objects.filter(generation__isnull=True).order_by("created_at")
    assert [item.original_name for item in kept] == ["second.png", "third.png"]
    settings.LUMAWEB_KEPT_UPLOADS_MB = 0  # even past the bound, the latest form keeps its own
    refs = [upload("fourth.png", png("red", (600, 400)))]
    html = post(owner_client, "image", prompt="", image_ref=refs).content.decode()
    assert "fourth.png" in html
    assert [item.original_name for item in Input.objects.all()] == ["fourth.png"]
