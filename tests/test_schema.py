"""The Agents API wire format (generations.providers.agents.schema) and every rule of §1."""

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from generations.providers.agents.schema import (
    ASPECT_RATIOS,
    FAILURE_CODES,
    GENERATION_TYPES,
    MODELS,
    VIDEO_EDIT_STRENGTHS,
    VIDEO_RESOLUTIONS,
    VIDEO_TYPES,
    CreateFileResponse,
    File,
    FileCreateRequest,
    FileList,
    Generation,
    GenerationRequest,
    ImageRef,
    field_errors,
)
from generations.providers.http import ErrorBody
from generations.retry import TRANSIENT_CODES
from tests.schema_cases import (
    B64,
    FIELD_CHECKS,
    GEN_ID,
    IMG,
    PROMPT,
    RULES,
    VID,
    body,
    edit,
    refs,
    video,
)

pytestmark = pytest.mark.unit


def errors_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The errors GenerationRequest reports for `payload` (which must be refused)."""
    with pytest.raises(ValidationError) as info:
        GenerationRequest.model_validate(payload)
    return [dict(error) for error in info.value.errors()]


def assert_refused(
    payload: dict[str, Any], loc: tuple[Any, ...], fragment: str, kind: str = "luma_rule"
) -> None:
    """`payload` is refused with a `kind` error at exactly `loc` mentioning `fragment`.

    luma_field is a single field's own check (HTTP 400); luma_rule a refused combination (422).
    """
    errors = errors_of(payload)
    matching = [e for e in errors if e["loc"] == loc and fragment in e["msg"]]
    assert matching, f"no error at {loc} mentioning {fragment!r} in {errors}"
    assert all(e["type"] == kind for e in matching), matching


@pytest.mark.parametrize(("ok", "bad", "loc", "fragment"), RULES)
def test_rule(
    request: pytest.FixtureRequest,
    ok: dict[str, Any],
    bad: dict[str, Any],
    loc: tuple[Any, ...],
    fragment: str,
) -> None:
    GenerationRequest.model_validate(ok)
    rule_id = request.node.callspec.id
    assert_refused(bad, loc, fragment, "luma_field" if rule_id in FIELD_CHECKS else "luma_rule")


# Bodies near a rule that must stay accepted.
ACCEPTED = [
    pytest.param(video("video_edit", loop=False), id="loop-false-elsewhere"),
    pytest.param(body("video", web_search=False), id="web_search-false-on-video"),
    pytest.param(video("video_edit", hdr=True, resolution="360p"), id="hdr-360p-on-edit"),
    pytest.param(
        video("video", hdr=True, exr_export=True, duration="10s", resolution="1080p"),
        id="hdr-10s-t2v",
    ),
    pytest.param(
        body("video_edit", source={"generation_id": GEN_ID}), id="video-source-by-generation"
    ),
    pytest.param(body("video_reframe", source={"file_id": "file_9"}), id="video-source-by-file"),
    pytest.param(
        video("video", start_frame={"generation_id": GEN_ID}, end_frame={"url": IMG}),
        id="start-and-end",
    ),
    pytest.param(video("video_reframe", resolution="1080p", duration="10s"), id="reframe-1080p"),
    pytest.param(body("layering", prompt="x"), id="layering-short-prompt"),
    pytest.param(
        edit(
            auto_controls=True,
            controls={"pose": {"enabled": True, "strength": "coarse"}, "face": {"enabled": False}},
        ),
        id="edit-controls",
    ),
]


@pytest.mark.parametrize("payload", ACCEPTED)
def test_accepted(payload: dict[str, Any]) -> None:
    assert GenerationRequest.model_validate(payload).to_wire()["prompt"] == payload["prompt"]


@pytest.mark.parametrize("ratio", ASPECT_RATIOS)
def test_every_aspect_ratio_is_accepted(ratio: str) -> None:
    assert GenerationRequest(prompt=PROMPT, aspect_ratio=ratio).aspect_ratio == ratio


# Values outside the vocabulary and unknown keys, refused by pydantic itself.
VOCABULARY = [
    pytest.param(
        body("image", aspect_ratio="5:4"), ("aspect_ratio",), "literal_error", id="aspect_ratio"
    ),
    pytest.param(body("image", type="gif"), ("type",), "literal_error", id="type"),
    pytest.param(body("image", model="uni-2"), ("model",), "literal_error", id="model"),
    pytest.param(body("image", style="anime"), ("style",), "literal_error", id="style"),
    pytest.param(
        body("image", output_format="webp"), ("output_format",), "literal_error", id="output_format"
    ),
    pytest.param(
        video("video", duration="9s"), ("video", "duration"), "literal_error", id="duration"
    ),
    pytest.param(
        video("video", resolution="4k"), ("video", "resolution"), "literal_error", id="resolution"
    ),
    pytest.param(
        edit(strength="adhere_4"), ("video", "edit", "strength"), "literal_error", id="strength"
    ),
    pytest.param(
        edit(controls={"pose": {"strength": "loose"}}),
        ("video", "edit", "controls", "pose", "strength"),
        "literal_error",
        id="pose-strength",
    ),
    pytest.param(
        body("layering", layering={"resolution": "4k"}),
        ("layering", "resolution"),
        "literal_error",
        id="layering-resolution",
    ),
    pytest.param(body("image", promt="typo"), ("promt",), "extra_forbidden", id="typo-top"),
    pytest.param(video("video", lop=True), ("video", "lop"), "extra_forbidden", id="typo-video"),
    pytest.param(
        body("image_edit", source={"uri": IMG}), ("source", "uri"), "extra_forbidden", id="typo-ref"
    ),
    pytest.param({"type": "image"}, ("prompt",), "missing", id="prompt-required"),
]


@pytest.mark.parametrize(("payload", "loc", "error_type"), VOCABULARY)
def test_vocabulary(payload: dict[str, Any], loc: tuple[Any, ...], error_type: str) -> None:
    assert (loc, error_type) in [(e["loc"], e["type"]) for e in errors_of(payload)]


def test_several_violations_are_reported_together() -> None:
    payload = body(
        "video",
        model="uni-1",
        style="manga",
        image_ref=refs(1),
        video={
            "loop": True,
            "duration": "10s",
            "exr_export": True,
            "keyframes": refs(2),
            "keyframe_indexes": [0, 300],
        },
    )
    locs = sorted({e["loc"] for e in errors_of(payload)}, key=str)
    assert locs == sorted(
        [
            ("model",),
            ("style",),
            ("image_ref",),
            ("video", "loop"),
            ("video", "exr_export"),
            ("video", "keyframe_indexes", 1),
        ],
        key=str,
    )


def test_loop_reports_each_reason() -> None:
    payload = video("video", loop=True, duration="10s", hdr=True)
    messages = [e["msg"] for e in errors_of(payload) if e["loc"] == ("video", "loop")]
    assert messages == [
        "Loop is not available for 10-second videos.",
        "Loop is not available with HDR.",
    ]


def test_messages_have_no_value_error_prefix() -> None:
    errors = errors_of(body("image_edit", source={"generation_id": "nope"}))
    assert errors[0]["msg"].startswith("generation_id must be")


# --- ImageRef on its own ------------------------------------------------------------------------


def test_image_ref_keeps_generation_id_as_canonical_str() -> None:
    ref = ImageRef(generation_id="{" + GEN_ID.upper().replace("-", "") + "}")
    assert ref.generation_id == GEN_ID


def test_image_ref_lowercases_media_type() -> None:
    assert ImageRef(data=B64, media_type="Image/PNG").media_type == "image/png"


def test_image_ref_reports_both_problems() -> None:
    with pytest.raises(ValidationError) as info:
        ImageRef.model_validate({"url": IMG, "data": B64})
    assert [(e["loc"], e["msg"]) for e in info.value.errors()] == [
        ((), "Give exactly one of url, data, generation_id or file_id."),
        (("media_type",), "media_type is required with inline data."),
    ]


# --- to_wire ----------------------------------------------------------------------------------

WIRE = [
    pytest.param(
        {"prompt": PROMPT},
        {"prompt": PROMPT, "type": "image", "model": "uni-1"},
        id="defaults",
    ),
    pytest.param(
        {
            "prompt": PROMPT,
            "aspect_ratio": "16:9",
            "style": "manga",
            "output_format": "jpeg",
            "image_ref": [{"url": IMG}, {"data": B64, "media_type": "IMAGE/PNG"}],
            "web_search": True,
            "user_id": "user-7",
        },
        {
            "prompt": PROMPT,
            "type": "image",
            "model": "uni-1",
            "aspect_ratio": "16:9",
            "style": "manga",
            "output_format": "jpeg",
            "image_ref": [{"url": IMG}, {"data": B64, "media_type": "image/png"}],
            "web_search": True,
            "user_id": "user-7",
        },
        id="image",
    ),
    pytest.param(
        {
            "prompt": PROMPT,
            "type": "image_edit",
            "model": "uni-1-max",
            "source": {"generation_id": GEN_ID.upper()},
            "image_ref": [{"file_id": "file_1"}],
        },
        {
            "prompt": PROMPT,
            "type": "image_edit",
            "model": "uni-1-max",
            "image_ref": [{"file_id": "file_1"}],
            "source": {"generation_id": GEN_ID},
        },
        id="image_edit",
    ),
    pytest.param(
        {
            "prompt": PROMPT,
            "type": "video",
            "model": "ray-3.2",
            "aspect_ratio": "21:9",
            "video": {
                "duration": "10s",
                "resolution": "1080p",
                "hdr": True,
                "exr_export": True,
                "keyframes": [{"url": IMG}, {"generation_id": GEN_ID}],
                "keyframe_indexes": [0, 240],
            },
        },
        {
            "prompt": PROMPT,
            "type": "video",
            "model": "ray-3.2",
            "aspect_ratio": "21:9",
            "video": {
                "duration": "10s",
                "resolution": "1080p",
                "hdr": True,
                "exr_export": True,
                "keyframes": [{"url": IMG}, {"generation_id": GEN_ID}],
                "keyframe_indexes": [0, 240],
            },
        },
        id="video",
    ),
    pytest.param(
        {
            "prompt": PROMPT,
            "type": "video_edit",
            "model": "ray-3.2",
            "source": {"url": VID, "media_type": "video/mp4"},
            "video": {
                "resolution": "720p",
                "edit": {
                    "strength": "reimagine_2",
                    "auto_controls": False,
                    "controls": {
                        "depth": {"enabled": True, "blur": 0.25},
                        "pose": {"strength": "precise"},
                    },
                    "keyframes": [{"file_id": "file_2"}],
                    "keyframe_indexes": [48],
                },
            },
        },
        {
            "prompt": PROMPT,
            "type": "video_edit",
            "model": "ray-3.2",
            "source": {"url": VID, "media_type": "video/mp4"},
            "video": {
                "resolution": "720p",
                "edit": {
                    "strength": "reimagine_2",
                    "auto_controls": False,
                    "controls": {
                        "depth": {"enabled": True, "blur": 0.25},
                        "pose": {"strength": "precise"},
                    },
                    "keyframes": [{"file_id": "file_2"}],
                    "keyframe_indexes": [48],
                },
            },
        },
        id="video_edit",
    ),
    pytest.param(
        {
            "prompt": PROMPT,
            "type": "video_reframe",
            "model": "ray-3.2",
            "aspect_ratio": "9:16",
            "source": {"generation_id": GEN_ID},
            "video": {
                "resolution": "540p",
                "source_position": {"x_norm": -0.25, "y_norm": 0, "w_norm": 1.5, "h_norm": 1},
            },
        },
        {
            "prompt": PROMPT,
            "type": "video_reframe",
            "model": "ray-3.2",
            "aspect_ratio": "9:16",
            "source": {"generation_id": GEN_ID},
            "video": {
                "resolution": "540p",
                "source_position": {"x_norm": -0.25, "y_norm": 0.0, "w_norm": 1.5, "h_norm": 1.0},
            },
        },
        id="video_reframe",
    ),
    pytest.param(
        {
            "prompt": "split the foreground figures",
            "type": "layering",
            "source": {"file_id": "file_3"},
            "layering": {"resolution": "2k"},
        },
        {
            "prompt": "split the foreground figures",
            "type": "layering",
            "model": "uni-1",
            "source": {"file_id": "file_3"},
            "layering": {"resolution": "2k"},
        },
        id="layering",
    ),
]


@pytest.mark.parametrize(("payload", "wire"), WIRE)
def test_to_wire(payload: dict[str, Any], wire: dict[str, Any]) -> None:
    assert GenerationRequest.model_validate(payload).to_wire() == wire


def test_to_wire_keeps_false_and_drops_none() -> None:
    request = GenerationRequest(prompt=PROMPT, web_search=False, user_id=None)
    assert request.to_wire() == {
        "prompt": PROMPT,
        "type": "image",
        "model": "uni-1",
        "web_search": False,
    }


# --- field_errors ---------------------------------------------------------------------------


def _validation_error(payload: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        GenerationRequest.model_validate(payload)
    return info.value


def test_field_errors_drops_list_indexes_and_merges_duplicates() -> None:
    bad = {"url": "ftp://x/y.png"}
    exc = _validation_error(video("video", keyframes=[{"url": IMG}, bad, bad, bad]))
    assert field_errors(exc) == {"video.keyframes.url": ["Give a full http:// or https:// URL."]}


def test_field_errors_for_cross_field_rules() -> None:
    exc = _validation_error(
        video("video", loop=True, duration="10s", keyframes=refs(4), keyframe_indexes=[0, 1, 2, 3])
        | {"image_ref": refs(1)}
    )
    assert field_errors(exc) == {
        "image_ref": [
            "Reference images are only for image and image_edit"
            " (a video starts from video.start_frame or video.keyframes)."
        ],
        "video.loop": [
            "Loop is not available for 10-second videos.",
            "Loop cannot be combined with keyframes.",
        ],
    }


def test_field_errors_indexed_rule_and_root() -> None:
    exc = _validation_error(video("video", keyframes=refs(4), keyframe_indexes=[0, 1, 2, 200]))
    assert field_errors(exc) == {
        "video.keyframe_indexes": ["Frame 200 is past the end: a 5s video has frames 0 to 120."]
    }
    with pytest.raises(ValidationError) as info:
        ImageRef.model_validate({})
    assert field_errors(info.value) == {
        "__all__": ["Give exactly one of url, data, generation_id or file_id."]
    }


# --- Responses --------------------------------------------------------------------------------

REPLY: dict[str, Any] = {
    "id": GEN_ID,
    "created_at": "2025-11-20T10:15:30Z",
    "model": "uni-1",
    "type": "layering",
    "state": "completed",
    "failure_code": None,
    "failure_reason": None,
    "output": [
        {
            "type": "image",
            "url": "https://out.example.com/0.png?sig=1",
            "layer": {"index": 0, "label": "cat", "description": "a cat", "alpha_hint": "soft"},
        },
        {"type": "image", "url": "https://out.example.com/1.png?sig=1"},
    ],
}


def reply(**changes: Any) -> dict[str, Any]:
    """REPLY with some keys replaced; a value of ... removes the key."""
    payload = {**copy.deepcopy(REPLY), **changes}
    return {key: value for key, value in payload.items() if value is not ...}


def test_generation_parses_a_full_reply() -> None:
    generation = Generation.model_validate(reply())
    assert generation.created_at == datetime(2025, 11, 20, 10, 15, 30, tzinfo=UTC)
    assert generation.output[0].layer is not None
    assert generation.output[0].layer.label == "cat"
    assert generation.output[1].layer is None
    assert generation.is_terminal


def test_generation_keeps_unknown_fields_and_models() -> None:
    generation = Generation.model_validate(
        reply(model="ray-4", credits_used=12, output=[{"type": "video", "url": VID, "fps": 24}])
    )
    assert generation.model == "ray-4"
    assert generation.model_extra == {"credits_used": 12}
    assert generation.output[0].model_extra == {"fps": 24}


@pytest.mark.parametrize("code", ["content_moderated", "generation_failed", "quota_melted", None])
def test_failure_codes_are_kept_as_sent(code: str | None) -> None:
    generation = Generation.model_validate(reply(state="failed", failure_code=code, output=[]))
    assert generation.failure_code == code


@pytest.mark.parametrize(
    ("state", "terminal"),
    [("queued", False), ("processing", False), ("completed", True), ("failed", True)],
)
def test_is_terminal(state: str, terminal: bool) -> None:
    assert Generation.model_validate(reply(state=state)).is_terminal is terminal


@pytest.mark.parametrize("missing_output", [None, ...])
def test_generation_output_may_be_null_or_absent(missing_output: Any) -> None:
    assert Generation.model_validate(reply(state="queued", output=missing_output)).output == []


REFUSED_REPLIES = [
    pytest.param(reply(state=...), ("state",), id="missing-state"),
    pytest.param(reply(state="dreaming"), ("state",), id="unknown-state"),
    pytest.param(reply(id=...), ("id",), id="missing-id"),
    pytest.param(reply(created_at="yesterday"), ("created_at",), id="bad-created_at"),
    pytest.param(reply(output={"type": "image", "url": IMG}), ("output",), id="output-object"),
    pytest.param(reply(output="https://x/y.png"), ("output",), id="output-string"),
    pytest.param(reply(output=[{"type": "image"}]), ("output", 0, "url"), id="output-no-url"),
    pytest.param(
        reply(output=[{"type": "image", "url": IMG, "layer": {"index": "front"}}]),
        ("output", 0, "layer", "index"),
        id="layer-bad-index",
    ),
]


@pytest.mark.parametrize(("payload", "loc"), REFUSED_REPLIES)
def test_generation_refuses_broken_replies(payload: dict[str, Any], loc: tuple[Any, ...]) -> None:
    with pytest.raises(ValidationError) as info:
        Generation.model_validate(payload)
    assert loc in [e["loc"] for e in info.value.errors()]


# --- Files API ------------------------------------------------------------------------------

FILE: dict[str, Any] = {
    "id": "file_1",
    "created_at": "2025-11-20T10:00:00+00:00",
    "mime_type": "image/png",
    "purpose": "input",
    "size_bytes": 1234,
    "state": "pending",
    "checksum": "sha256:abc",
}


def test_create_file_response_presigned() -> None:
    answer = CreateFileResponse.model_validate(
        {
            "id": "file_1",
            "file": FILE,
            "state": "pending",
            "upload": {
                "expires_at": "2025-11-20T11:00:00Z",
                "method": "PUT",
                "url": "https://s3.example.com/put?sig=1",
                "headers": {"Content-Type": "image/png"},
            },
        }
    )
    assert answer.upload is not None
    assert answer.upload.headers == {"Content-Type": "image/png"}
    assert answer.file.model_extra == {"checksum": "sha256:abc"}
    assert answer.file.deleted_at is None


def test_create_file_response_inline_has_no_upload() -> None:
    answer = CreateFileResponse.model_validate({"id": "file_1", "file": FILE, "state": "pending"})
    assert answer.upload is None


def test_file_list_and_refusals() -> None:
    page = FileList.model_validate({"data": [FILE, FILE], "has_more": True, "next_cursor": "c2"})
    assert (len(page.data), page.has_more, page.next_cursor) == (2, True, "c2")
    with pytest.raises(ValidationError) as info:
        File.model_validate({**FILE, "state": None})
    assert [e["loc"] for e in info.value.errors()] == [("state",)]


def test_file_create_request_wire() -> None:
    request = FileCreateRequest(
        mime_type="Video/MP4",
        size_bytes=5 * 1024**3,
        filename="clip.mp4",
        purpose="input",
        expires_at=datetime(2025, 12, 1, tzinfo=UTC),
    )
    assert request.to_wire() == {
        "mime_type": "video/mp4",
        "size_bytes": 5 * 1024**3,
        "filename": "clip.mp4",
        "purpose": "input",
        "expires_at": "2025-12-01T00:00:00Z",
    }


@pytest.mark.parametrize(
    ("changes", "loc", "error_type"),
    [
        ({"size_bytes": 0}, ("size_bytes",), "luma_field"),
        ({"size_bytes": 5 * 1024**3 + 1}, ("size_bytes",), "luma_field"),
        ({"mime_type": "mp4"}, ("mime_type",), "luma_field"),
        ({"user_id": "u" * 257}, ("user_id",), "luma_field"),
        ({"expires_at": "2025-12-01T00:00:00"}, ("expires_at",), "timezone_aware"),
        ({"purpose": "style"}, ("purpose",), "literal_error"),
        ({"name": "clip.mp4"}, ("name",), "extra_forbidden"),
    ],
)
def test_file_create_request_refusals(
    changes: dict[str, Any], loc: tuple[Any, ...], error_type: str
) -> None:
    with pytest.raises(ValidationError) as info:
        FileCreateRequest.model_validate({"mime_type": "image/png", "size_bytes": 10, **changes})
    assert [(e["loc"], e["type"]) for e in info.value.errors()] == [(loc, error_type)]


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ({"detail": "Invalid aspect ratio"}, "Invalid aspect ratio"),
        ({"detail": [{"loc": ["body"], "msg": "bad"}]}, '[{"loc": ["body"], "msg": "bad"}]'),
        ({"detail": "x", "code": "E42"}, "x"),
    ],
)
def test_error_body(payload: dict[str, Any], detail: str) -> None:
    assert ErrorBody.model_validate(payload).detail == detail


def test_error_body_requires_detail() -> None:
    with pytest.raises(ValidationError):
        ErrorBody.model_validate({"message": "oops"})


# --- Vocabulary -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("constant", "expected"),
    [
        (
            ASPECT_RATIOS,
            ("3:1", "2:1", "21:9", "16:9", "4:3", "3:2", "1:1", "3:4", "2:3", "9:16", "1:2", "1:3"),
        ),
        (
            GENERATION_TYPES,
            ("image", "image_edit", "video", "video_edit", "video_reframe", "layering"),
        ),
        (MODELS, ("uni-1", "uni-1-max", "ray-3.2")),
        (VIDEO_RESOLUTIONS, ("360p", "540p", "720p", "1080p")),
        (
            VIDEO_EDIT_STRENGTHS,
            tuple(f"{k}_{n}" for k in ("adhere", "flex", "reimagine") for n in (1, 2, 3)),
        ),
        (VIDEO_TYPES, frozenset({"video", "video_edit", "video_reframe"})),
    ],
)
def test_vocabulary_constants(constant: object, expected: object) -> None:
    assert constant == expected


def test_the_documented_failure_codes_and_the_studios_transient_ones() -> None:
    assert len(FAILURE_CODES) == 9
    # The studio retries only documented codes Luma's guides call worth another try, and its own
    # code for an upstream that did not answer.
    assert TRANSIENT_CODES - set(FAILURE_CODES) == {"upstream_unavailable"}
    assert sorted(TRANSIENT_CODES & set(FAILURE_CODES)) == [
        "generation_failed",
        "output_not_found",
        "rate_limited",
    ]
