"""The Agents API's request rules as data, shared by the schema's tests and the simulator's.

Each RULES case is (accepted neighbour, refused body, loc of the error, part of its message);
FIELD_CHECKS names the cases that are one field's own check (HTTP 400, the rest are 422).
"""

import base64
import copy
from typing import Any

import pytest

IMG = "https://cdn.example.com/in.png"
VID = "https://cdn.example.com/in.mp4"
B64 = base64.b64encode(b"\x89PNG not really").decode()
GEN_ID = "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"
PROMPT = "a lighthouse at dusk"

# The smallest valid body of each type; cases below change one thing at a time.
BASE: dict[str, dict[str, Any]] = {
    "image": {"prompt": PROMPT},
    "image_edit": {"prompt": PROMPT, "type": "image_edit", "source": {"url": IMG}},
    "video": {"prompt": PROMPT, "type": "video", "model": "ray-3.2"},
    "video_edit": {
        "prompt": PROMPT,
        "type": "video_edit",
        "model": "ray-3.2",
        "source": {"url": VID, "media_type": "video/mp4"},
    },
    "video_reframe": {
        "prompt": PROMPT,
        "type": "video_reframe",
        "model": "ray-3.2",
        "source": {"url": VID, "media_type": "video/mp4"},
    },
    "layering": {"prompt": PROMPT, "type": "layering", "source": {"url": IMG}},
}


def body(kind: str, **fields: Any) -> dict[str, Any]:
    """The base body of `kind` with top-level fields replaced (None removes one)."""
    payload = {**copy.deepcopy(BASE[kind]), **fields}
    return {key: value for key, value in payload.items() if value is not None}


def video(kind: str, **options: Any) -> dict[str, Any]:
    """The base body of `kind` with these video options."""
    return body(kind, video=options)


def edit(**options: Any) -> dict[str, Any]:
    """A video_edit body with these video.edit options."""
    return video("video_edit", edit=options)


def refs(count: int) -> list[dict[str, str]]:
    """`count` distinct image references."""
    return [{"url": f"{IMG}?n={n}"} for n in range(count)]


# (accepted neighbour, refused body, loc of the error, part of its message)
RULES = [
    # prompt
    pytest.param(
        body("image"),
        body("image", prompt="   "),
        ("prompt",),
        "Write a prompt.",
        id="prompt-blank",
    ),
    pytest.param(
        body("image"), body("image", prompt=""), ("prompt",), "Write a prompt.", id="prompt-empty"
    ),
    pytest.param(
        body("image", prompt="x" * 6000),
        body("image", prompt="x" * 6001),
        ("prompt",),
        "6000 at most",
        id="prompt-6000",
    ),
    pytest.param(
        body("layering", prompt="x" * 500),
        body("layering", prompt="x" * 501),
        ("prompt",),
        "For layering the prompt only guides the split: 500 characters at most.",
        id="prompt-layering-500",
    ),
    # model / type pairing
    pytest.param(
        body("video"), body("video", model="uni-1"), ("model",), "ray-3.2", id="model-video"
    ),
    pytest.param(
        body("video_edit"),
        body("video_edit", model="uni-1-max"),
        ("model",),
        "ray-3.2",
        id="model-video_edit",
    ),
    pytest.param(
        body("video_reframe"),
        body("video_reframe", model="uni-1"),
        ("model",),
        "ray-3.2",
        id="model-video_reframe",
    ),
    pytest.param(
        body("image", model="uni-1-max"),
        body("image", model="ray-3.2"),
        ("model",),
        "video model",
        id="model-image",
    ),
    pytest.param(
        body("image_edit", model="uni-1-max"),
        body("image_edit", model="ray-3.2"),
        ("model",),
        "video model",
        id="model-image_edit",
    ),
    pytest.param(
        body("layering", model="uni-1"),
        body("layering", model="uni-1-max"),
        ("model",),
        "Layering runs on model uni-1",
        id="model-layering-max",
    ),
    pytest.param(
        body("layering"),
        body("layering", model="ray-3.2"),
        ("model",),
        "Layering runs on model uni-1",
        id="model-layering-ray",
    ),
    # image_ref
    pytest.param(
        body("image", image_ref=refs(9)),
        body("image", image_ref=refs(10)),
        ("image_ref",),
        "At most 9",
        id="image_ref-image-9",
    ),
    pytest.param(
        body("image_edit", image_ref=refs(8)),
        body("image_edit", image_ref=refs(9)),
        ("image_ref",),
        "At most 8",
        id="image_ref-edit-8",
    ),
    pytest.param(
        body("video"),
        body("video", image_ref=refs(1)),
        ("image_ref",),
        "only for image and image_edit",
        id="image_ref-video",
    ),
    pytest.param(
        body("video_edit"),
        body("video_edit", image_ref=refs(1)),
        ("image_ref",),
        "only for image and image_edit",
        id="image_ref-video_edit",
    ),
    pytest.param(
        body("layering"),
        body("layering", image_ref=refs(1)),
        ("image_ref",),
        "only for image and image_edit",
        id="image_ref-layering",
    ),
    pytest.param(
        body("image", image_ref=[{"url": IMG}, {"url": IMG, "media_type": "image/png"}]),
        body("image", image_ref=[{"url": IMG}, {"url": VID, "media_type": "video/mp4"}]),
        ("image_ref", 1, "media_type"),
        "image/*",
        id="image_ref-media",
    ),
    # source
    pytest.param(
        body("image_edit"),
        body("image_edit", source=None),
        ("source",),
        "A source is needed for image_edit: the image to edit.",
        id="source-missing-image_edit",
    ),
    pytest.param(
        body("video_edit"),
        body("video_edit", source=None),
        ("source",),
        "A source is needed for video_edit: the video to edit.",
        id="source-missing-video_edit",
    ),
    pytest.param(
        body("video_reframe"),
        body("video_reframe", source=None),
        ("source",),
        "A source is needed for video_reframe: the video to reframe.",
        id="source-missing-video_reframe",
    ),
    pytest.param(
        body("layering"),
        body("layering", source=None),
        ("source",),
        "A source is needed for layering: the image to split",
        id="source-missing-layering",
    ),
    pytest.param(
        body("image"),
        body("image", source={"url": IMG}),
        ("source",),
        "image_ref",
        id="source-refused-image",
    ),
    pytest.param(
        body("video"),
        body("video", source={"url": IMG}),
        ("source",),
        "video.start_frame",
        id="source-refused-video",
    ),
    pytest.param(
        body("video_edit"),
        body("video_edit", source={"url": VID}),
        ("source", "media_type"),
        "video/mp4",
        id="source-video-url-needs-media",
    ),
    pytest.param(
        body("video_reframe"),
        body("video_reframe", source={"url": VID}),
        ("source", "media_type"),
        "video/mp4",
        id="source-reframe-url-needs-media",
    ),
    pytest.param(
        body("video_edit"),
        body("video_edit", source={"url": IMG, "media_type": "image/png"}),
        ("source", "media_type"),
        "must be video/*",
        id="source-video-url-image-media",
    ),
    pytest.param(
        body("video_reframe", source={"data": B64, "media_type": "video/mp4"}),
        body("video_reframe", source={"data": B64, "media_type": "image/png"}),
        ("source", "media_type"),
        "must be video/*",
        id="source-video-data-image-media",
    ),
    pytest.param(
        body("image_edit", source={"url": IMG, "media_type": "image/png"}),
        body("image_edit", source={"url": VID, "media_type": "video/mp4"}),
        ("source", "media_type"),
        "image/*",
        id="source-image_edit-video-media",
    ),
    pytest.param(
        body("layering", source={"data": B64, "media_type": "image/jpeg"}),
        body("layering", source={"data": B64, "media_type": "video/mp4"}),
        ("source", "media_type"),
        "image/*",
        id="source-layering-video-media",
    ),
    # image-only options
    pytest.param(
        body("image_edit", style="manga"),
        body("video", style="manga"),
        ("style",),
        "only applies to image and image_edit",
        id="style-video",
    ),
    pytest.param(
        body("image", output_format="jpeg"),
        body("video_edit", output_format="png"),
        ("output_format",),
        "only applies to image and image_edit",
        id="output_format-video_edit",
    ),
    pytest.param(
        body("layering"),
        body("layering", output_format="png"),
        ("output_format",),
        "only applies to image and image_edit",
        id="output_format-layering",
    ),
    pytest.param(
        body("image", web_search=True),
        body("layering", web_search=True),
        ("web_search",),
        "only applies to image and image_edit",
        id="web_search-layering",
    ),
    # layering options
    pytest.param(
        body("layering", layering={"resolution": "2k"}),
        body("image", layering={"resolution": "2k"}),
        ("layering",),
        "only for type layering",
        id="layering-options-image",
    ),
    # video options
    pytest.param(
        video("video"),
        video("image"),
        ("video",),
        "only for video, video_edit and video_reframe",
        id="video-on-image",
    ),
    pytest.param(
        video("video"),
        video("layering"),
        ("video",),
        "only for video, video_edit and video_reframe",
        id="video-on-layering",
    ),
    pytest.param(
        edit(strength="flex_1"),
        video("video", edit={"strength": "flex_1"}),
        ("video", "edit"),
        "only for type video_edit",
        id="edit-on-video",
    ),
    pytest.param(
        edit(),
        video("video_reframe", edit={}),
        ("video", "edit"),
        "only for type video_edit",
        id="edit-on-reframe",
    ),
    pytest.param(
        video(
            "video_reframe", source_position={"x_norm": 0, "y_norm": 0, "w_norm": 1, "h_norm": 1}
        ),
        video("video", source_position={"x_norm": 0, "y_norm": 0, "w_norm": 1, "h_norm": 1}),
        ("video", "source_position"),
        "only for type video_reframe",
        id="source_position-video",
    ),
    pytest.param(
        video("video_edit"),
        video("video_edit", duration="5s"),
        ("video", "duration"),
        "keeps the source's duration",
        id="duration-video_edit",
    ),
    # loop
    pytest.param(
        video("video", loop=True),
        video("video_edit", loop=True),
        ("video", "loop"),
        "only available for type video",
        id="loop-video_edit",
    ),
    pytest.param(
        video("video", loop=True),
        video("video_reframe", loop=True),
        ("video", "loop"),
        "only available for type video",
        id="loop-reframe",
    ),
    pytest.param(
        video("video", loop=True, duration="5s"),
        video("video", loop=True, duration="10s"),
        ("video", "loop"),
        "Loop is not available for 10-second videos.",
        id="loop-10s",
    ),
    pytest.param(
        video("video", loop=True, hdr=False),
        video("video", loop=True, hdr=True),
        ("video", "loop"),
        "not available with HDR",
        id="loop-hdr",
    ),
    pytest.param(
        video("video", loop=True, start_frame={"url": IMG}),
        video("video", loop=True, keyframes=refs(1), keyframe_indexes=[0]),
        ("video", "loop"),
        "cannot be combined with keyframes",
        id="loop-keyframes",
    ),
    # hdr / exr / 360p
    pytest.param(
        video("video", hdr=True, exr_export=True),
        video("video", exr_export=True),
        ("video", "exr_export"),
        "needs HDR",
        id="exr-without-hdr",
    ),
    pytest.param(
        video("video_edit", hdr=True),
        video("video_reframe", hdr=True),
        ("video", "hdr"),
        "not available for video_reframe",
        id="hdr-reframe",
    ),
    pytest.param(
        video("video", hdr=True, resolution="540p"),
        video("video", hdr=True, resolution="360p"),
        ("video", "resolution"),
        "SDR",
        id="hdr-360p",
    ),
    # video.keyframes
    pytest.param(
        video("video", keyframes=refs(1), keyframe_indexes=[0]),
        video("video_edit", keyframes=refs(1), keyframe_indexes=[0]),
        ("video", "keyframes"),
        "only for type video",
        id="keyframes-video_edit",
    ),
    pytest.param(
        video("video", keyframes=refs(1), keyframe_indexes=[0]),
        video("video_reframe", keyframe_indexes=[0]),
        ("video", "keyframe_indexes"),
        "only for type video",
        id="keyframe_indexes-reframe",
    ),
    pytest.param(
        video("video", keyframes=refs(64), keyframe_indexes=list(range(64))),
        video("video", keyframes=refs(65), keyframe_indexes=list(range(65))),
        ("video", "keyframes"),
        "between 1 and 64",
        id="keyframes-65",
    ),
    pytest.param(
        video("video", keyframes=refs(1), keyframe_indexes=[60]),
        video("video", keyframes=[], keyframe_indexes=[]),
        ("video", "keyframes"),
        "between 1 and 64",
        id="keyframes-0",
    ),
    pytest.param(
        video("video", start_frame={"url": IMG}),
        video("video", start_frame={"url": IMG}, keyframes=refs(1), keyframe_indexes=[60]),
        ("video", "start_frame"),
        "cannot be combined with keyframes",
        id="keyframes-start_frame",
    ),
    pytest.param(
        video("video", end_frame={"url": IMG}),
        video("video", end_frame={"url": IMG}, keyframes=refs(1), keyframe_indexes=[0]),
        ("video", "end_frame"),
        "cannot be combined with keyframes",
        id="keyframes-end_frame",
    ),
    pytest.param(
        video("video", keyframes=refs(2), keyframe_indexes=[0, 120]),
        video("video", keyframes=refs(2)),
        ("video", "keyframe_indexes"),
        "Give keyframe_indexes",
        id="keyframe_indexes-missing",
    ),
    pytest.param(
        video("video", keyframes=refs(2), keyframe_indexes=[0, 120]),
        video("video", keyframes=refs(2), keyframe_indexes=[0]),
        ("video", "keyframe_indexes"),
        "2 keyframes, 1 indexes",
        id="keyframe_indexes-length",
    ),
    pytest.param(
        video("video", keyframes=refs(2), keyframe_indexes=[0, 1]),
        video("video", keyframes=refs(2), keyframe_indexes=[0, -1]),
        ("video", "keyframe_indexes", 1),
        "start at 0",
        id="keyframe_indexes-negative",
    ),
    pytest.param(
        video("video", keyframes=refs(3), keyframe_indexes=[0, 12, 24]),
        video("video", keyframes=refs(3), keyframe_indexes=[0, 12, 12]),
        ("video", "keyframe_indexes", 2),
        "Frame 12 already holds",
        id="keyframe_indexes-duplicate",
    ),
    pytest.param(
        video("video", keyframes=refs(2), keyframe_indexes=[0, 120]),
        video("video", keyframes=refs(2), keyframe_indexes=[0, 121]),
        ("video", "keyframe_indexes", 1),
        "a 5s video has frames 0 to 120",
        id="keyframe_indexes-default-5s",
    ),
    pytest.param(
        video("video", duration="5s", keyframes=refs(1), keyframe_indexes=[120]),
        video("video", duration="5s", keyframes=refs(1), keyframe_indexes=[121]),
        ("video", "keyframe_indexes", 0),
        "0 to 120",
        id="keyframe_indexes-5s",
    ),
    pytest.param(
        video("video", duration="10s", keyframes=refs(2), keyframe_indexes=[0, 240]),
        video("video", duration="10s", keyframes=refs(2), keyframe_indexes=[0, 241]),
        ("video", "keyframe_indexes", 1),
        "a 10s video has frames 0 to 240",
        id="keyframe_indexes-10s",
    ),
    pytest.param(
        video("video", keyframes=refs(1), keyframe_indexes=[0]),
        video("video", keyframe_indexes=[0]),
        ("video", "keyframe_indexes"),
        "without keyframes",
        id="keyframe_indexes-alone",
    ),
    pytest.param(
        video("video", keyframes=[{"url": IMG, "media_type": "image/webp"}], keyframe_indexes=[0]),
        video("video", keyframes=[{"url": VID, "media_type": "video/mp4"}], keyframe_indexes=[0]),
        ("video", "keyframes", 0, "media_type"),
        "image/*",
        id="keyframes-media",
    ),
    # start_frame / end_frame
    pytest.param(
        video("video_edit", start_frame={"url": IMG}),
        video("video_reframe", start_frame={"url": IMG}),
        ("video", "start_frame"),
        "only for type video or video_edit",
        id="start_frame-reframe",
    ),
    pytest.param(
        video("video", end_frame={"generation_id": GEN_ID}),
        video("video_edit", end_frame={"generation_id": GEN_ID}),
        ("video", "end_frame"),
        "only for type video",
        id="end_frame-video_edit",
    ),
    pytest.param(
        video("video", keyframes=refs(1), keyframe_indexes=[0], duration="10s"),
        video("video", start_frame={"url": IMG}, duration="10s"),
        ("video", "start_frame"),
        "5-second videos only",
        id="start_frame-10s",
    ),
    pytest.param(
        video("video", keyframes=refs(2), keyframe_indexes=[0, 120], hdr=True),
        video("video", end_frame={"url": IMG}, hdr=True),
        ("video", "end_frame"),
        "does not support HDR",
        id="end_frame-hdr",
    ),
    pytest.param(
        video("video", start_frame={"url": IMG, "media_type": "image/png"}),
        video("video", start_frame={"url": VID, "media_type": "video/mp4"}),
        ("video", "start_frame", "media_type"),
        "image/*",
        id="start_frame-media",
    ),
    # video.edit keyframes
    pytest.param(
        edit(keyframes=refs(64), keyframe_indexes=list(range(64))),
        edit(keyframes=refs(65), keyframe_indexes=list(range(65))),
        ("video", "edit", "keyframes"),
        "between 1 and 64",
        id="edit-keyframes-65",
    ),
    pytest.param(
        edit(keyframes=refs(2), keyframe_indexes=[0, 432]),
        edit(keyframes=refs(2), keyframe_indexes=[0, 433]),
        ("video", "edit", "keyframe_indexes", 1),
        "frames 0 to 432",
        id="edit-keyframe_indexes-432",
    ),
    pytest.param(
        edit(keyframes=refs(2), keyframe_indexes=[5, 0]),
        edit(keyframes=refs(2), keyframe_indexes=[5, 5]),
        ("video", "edit", "keyframe_indexes", 1),
        "Frame 5 already holds",
        id="edit-keyframe_indexes-duplicate",
    ),
    pytest.param(
        edit(keyframes=refs(1), keyframe_indexes=[0]),
        edit(keyframes=refs(1), keyframe_indexes=[-3]),
        ("video", "edit", "keyframe_indexes", 0),
        "start at 0",
        id="edit-keyframe_indexes-negative",
    ),
    pytest.param(
        edit(keyframes=refs(2), keyframe_indexes=[0, 1]),
        edit(keyframes=refs(2), keyframe_indexes=[0, 1, 2]),
        ("video", "edit", "keyframe_indexes"),
        "2 keyframes, 3 indexes",
        id="edit-keyframe_indexes-length",
    ),
    pytest.param(
        edit(keyframes=refs(1), keyframe_indexes=[0]),
        edit(keyframes=refs(1)),
        ("video", "edit", "keyframe_indexes"),
        "Give keyframe_indexes",
        id="edit-keyframe_indexes-missing",
    ),
    pytest.param(
        edit(keyframes=refs(1), keyframe_indexes=[0]),
        edit(keyframe_indexes=[0]),
        ("video", "edit", "keyframe_indexes"),
        "without keyframes",
        id="edit-keyframe_indexes-alone",
    ),
    pytest.param(
        video("video_edit", start_frame={"url": IMG}, edit={"strength": "adhere_1"}),
        video(
            "video_edit",
            start_frame={"url": IMG},
            edit={"keyframes": refs(1), "keyframe_indexes": [0]},
        ),
        ("video", "start_frame"),
        "cannot be combined with edit keyframes",
        id="edit-keyframes-start_frame",
    ),
    # bounded numbers
    pytest.param(
        edit(controls={"depth": {"blur": 1}}),
        edit(controls={"depth": {"blur": 1.5}}),
        ("video", "edit", "controls", "depth", "blur"),
        "between 0 and 1",
        id="depth-blur",
    ),
    pytest.param(
        edit(controls={"normals": {"augmentation": 0}}),
        edit(controls={"normals": {"augmentation": -0.1}}),
        ("video", "edit", "controls", "normals", "augmentation"),
        "between 0 and 1",
        id="normals-augmentation",
    ),
    pytest.param(
        edit(controls={"trajectory": {"sparsity": 0.5}}),
        edit(controls={"trajectory": {"sparsity": 2}}),
        ("video", "edit", "controls", "trajectory", "sparsity"),
        "between 0 and 1",
        id="trajectory-sparsity",
    ),
    pytest.param(
        video(
            "video_reframe",
            source_position={"x_norm": -2, "y_norm": 2, "w_norm": 2, "h_norm": 0.01},
        ),
        video(
            "video_reframe",
            source_position={"x_norm": -2.01, "y_norm": 0, "w_norm": 1, "h_norm": 1},
        ),
        ("video", "source_position", "x_norm"),
        "between -2 and 2",
        id="x_norm",
    ),
    pytest.param(
        video(
            "video_reframe", source_position={"x_norm": 0, "y_norm": 2, "w_norm": 1, "h_norm": 1}
        ),
        video(
            "video_reframe", source_position={"x_norm": 0, "y_norm": 2.5, "w_norm": 1, "h_norm": 1}
        ),
        ("video", "source_position", "y_norm"),
        "between -2 and 2",
        id="y_norm",
    ),
    pytest.param(
        video(
            "video_reframe",
            source_position={"x_norm": 0, "y_norm": 0, "w_norm": 0.001, "h_norm": 1},
        ),
        video(
            "video_reframe", source_position={"x_norm": 0, "y_norm": 0, "w_norm": 0, "h_norm": 1}
        ),
        ("video", "source_position", "w_norm"),
        "more than 0 and at most 2",
        id="w_norm",
    ),
    pytest.param(
        video(
            "video_reframe", source_position={"x_norm": 0, "y_norm": 0, "w_norm": 1, "h_norm": 2}
        ),
        video(
            "video_reframe", source_position={"x_norm": 0, "y_norm": 0, "w_norm": 1, "h_norm": 2.1}
        ),
        ("video", "source_position", "h_norm"),
        "more than 0 and at most 2",
        id="h_norm",
    ),
    pytest.param(
        body("image", user_id="u" * 256),
        body("image", user_id="u" * 257),
        ("user_id",),
        "256 at most",
        id="user_id-256",
    ),
    # ImageRef, as the source of an image_edit
    pytest.param(
        body("image_edit"),
        body("image_edit", source={"url": IMG, "file_id": "file_1"}),
        ("source",),
        "Give exactly one of url, data, generation_id or file_id.",
        id="ref-two",
    ),
    pytest.param(
        body("image_edit", source={"file_id": "file_1"}),
        body("image_edit", source={}),
        ("source",),
        "Give exactly one of url, data, generation_id or file_id.",
        id="ref-none",
    ),
    pytest.param(
        body("image_edit", source={"data": B64, "media_type": "image/png"}),
        body("image_edit", source={"data": B64}),
        ("source", "media_type"),
        "media_type is required with inline data.",
        id="ref-data-no-media",
    ),
    pytest.param(
        body("image_edit", source={"url": "http://cdn.example.com/a.png"}),
        body("image_edit", source={"url": "ftp://cdn.example.com/a.png"}),
        ("source", "url"),
        "http:// or https://",
        id="ref-url-ftp",
    ),
    pytest.param(
        body("image_edit", source={"url": "HTTPS://cdn.example.com/a.png"}),
        body("image_edit", source={"url": "cdn.example.com/a.png"}),
        ("source", "url"),
        "http:// or https://",
        id="ref-url-no-scheme",
    ),
    pytest.param(
        body("image_edit", source={"data": B64, "media_type": "image/png"}),
        body(
            "image_edit", source={"data": "data:image/png;base64," + B64, "media_type": "image/png"}
        ),
        ("source", "data"),
        "base64",
        id="ref-data-url",
    ),
    pytest.param(
        body("image_edit", source={"data": B64, "media_type": "image/png"}),
        body("image_edit", source={"data": "", "media_type": "image/png"}),
        ("source", "data"),
        "base64",
        id="ref-data-empty",
    ),
    pytest.param(
        body("image_edit", source={"generation_id": GEN_ID}),
        body("image_edit", source={"generation_id": "gen-42"}),
        ("source", "generation_id"),
        "UUID",
        id="ref-generation_id",
    ),
    pytest.param(
        body("image_edit", source={"file_id": "file_1"}),
        body("image_edit", source={"file_id": " "}),
        ("source", "file_id"),
        "file_id is empty",
        id="ref-file_id-blank",
    ),
    pytest.param(
        body("image_edit", source={"url": IMG, "media_type": "image/png"}),
        body("image_edit", source={"url": IMG, "media_type": "png"}),
        ("source", "media_type"),
        "MIME type",
        id="ref-media_type-shape",
    ),
]


# Rules about one field alone; every other rule refuses a combination of fields.
FIELD_CHECKS = {
    "prompt-blank",
    "prompt-empty",
    "prompt-6000",
    "depth-blur",
    "normals-augmentation",
    "trajectory-sparsity",
    "x_norm",
    "y_norm",
    "w_norm",
    "h_norm",
    "user_id-256",
    "ref-url-ftp",
    "ref-url-no-scheme",
    "ref-data-url",
    "ref-data-empty",
    "ref-generation_id",
    "ref-file_id-blank",
    "ref-media_type-shape",
}
