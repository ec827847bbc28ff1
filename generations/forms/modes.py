"""The six creation forms, one per generation type: what a person picks becomes the request."""

import math
from typing import Any, ClassVar
from uuid import UUID

from django import forms

from generations.forms.base import (
    MODEL_LABELS,
    STRENGTH_LABELS,
    VIDEO_RATIOS,
    WIDGETS,
    CreateForm,
    Kept,
    Slot,
    dig_path,
    kept_tokens,
    labelled_choices,
    references_in,
    slot_error_paths,
    true_or_none,
    with_chosen,
)
from generations.forms.proxy import ProxyVideoForm
from generations.models import Generation, Output
from generations.providers.agents import schema

REFERENCES = Slot(
    "image_ref",
    "image",
    "image_ref",
    multiple=True,
    label="Reference images",
    help=f"Up to {schema.MAX_IMAGE_REFS['image']} images that guide style or content.",
)


class ImageForm(CreateForm):
    KIND = "image"
    MODE = "image"
    LABEL = "Image"
    SLOTS = (REFERENCES,)
    PLACEHOLDER = "Describe the image…"
    FIELD_FOR_PATH = {
        "prompt": "prompt",
        "model": "model",
        "aspect_ratio": "aspect_ratio",
        "style": "style",
        "output_format": "output_format",
        "web_search": "web_search",
        **slot_error_paths("image_ref"),
    }

    model = forms.ChoiceField(
        choices=labelled_choices(("uni-1", "uni-1-max"), MODEL_LABELS), required=False
    )
    aspect_ratio = forms.ChoiceField(
        choices=labelled_choices(schema.ASPECT_RATIOS), initial="16:9", required=False
    )
    style = forms.ChoiceField(
        choices=labelled_choices(schema.STYLES), initial="auto", required=False
    )
    output_format = forms.ChoiceField(
        choices=labelled_choices(schema.OUTPUT_FORMATS), initial="png", required=False
    )
    web_search = forms.BooleanField(required=False, label="Let the model search the web")

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        return {
            "prompt": data.get("prompt") or "",
            "type": "image",
            "model": data.get("model") or "uni-1",
            "aspect_ratio": data.get("aspect_ratio") or None,
            "style": data.get("style") or None,
            "output_format": data.get("output_format") or None,
            "web_search": true_or_none(data.get("web_search")),
            "image_ref": refs.get("image_ref") or None,
        }


class ImageEditForm(CreateForm):
    KIND = "image_edit"
    MODE = "image_edit"
    LABEL = "Edit image"
    SOURCE = Slot("source", "image", "source", label="Image to edit")
    REFS = Slot(
        "image_ref",
        "image",
        "image_ref",
        multiple=True,
        label="Reference images",
        help=f"Up to {schema.MAX_IMAGE_REFS['image_edit']} images that guide the edit.",
    )
    SLOTS = (SOURCE, REFS)
    PLACEHOLDER = "What should change?"
    FIELD_FOR_PATH = {
        **ImageForm.FIELD_FOR_PATH,
        **slot_error_paths("source"),
    }

    model = forms.ChoiceField(
        choices=labelled_choices(("uni-1", "uni-1-max"), MODEL_LABELS), required=False
    )
    aspect_ratio = forms.ChoiceField(
        choices=[("", "Same as the source"), *labelled_choices(schema.ASPECT_RATIOS)],
        required=False,
    )
    output_format = forms.ChoiceField(
        choices=labelled_choices(schema.OUTPUT_FORMATS), initial="png", required=False
    )

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        return {
            "prompt": data.get("prompt") or "",
            "type": "image_edit",
            "model": data.get("model") or "uni-1",
            "aspect_ratio": data.get("aspect_ratio") or None,
            "output_format": data.get("output_format") or None,
            "source": refs.get("source"),
            "image_ref": refs.get("image_ref") or None,
        }


VIDEO_FIELD_PATHS = {
    "prompt": "prompt",
    "model": "prompt",
    "aspect_ratio": "aspect_ratio",
    "video.duration": "duration",
    "video.resolution": "resolution",
    "video.hdr": "hdr",
    "video.exr_export": "exr_export",
    "video.loop": "loop",
}


class KeyframeForm(forms.Form):
    """One anchor of a keyframe timeline: an image pinned at a frame position."""

    default_renderer = WIDGETS

    image = forms.FileField(
        required=False, widget=forms.ClearableFileInput(attrs={"accept": "image/*"})
    )
    pick = forms.ChoiceField(required=False, choices=[])
    frame = forms.IntegerField(
        min_value=0,
        required=False,
        error_messages={
            "invalid": "A frame position is a whole number.",
            "min_value": "A frame position starts at 0.",
        },
    )

    def __init__(self, *args: Any, pick_choices: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The picker (or a Remix) may name an older piece.
        chosen = self.data.get(self.add_prefix("pick")) or self.initial.get("pick")
        self.fields["pick"].choices = with_chosen(list(pick_choices), chosen)  # type: ignore[attr-defined]


class TimelineForm(CreateForm):
    """A mode with a keyframe timeline: images pinned at frame positions, on Video's output grid
    (`video.keyframes`) or on Edit video's source grid (`video.edit.keyframes`)."""

    # One image a row: a new upload or pick replaces the row's kept one.
    KEYFRAMES = Slot("keyframes", "image", "keyframes")
    # Where the anchors go in the request (a dotted path), and what the timeline says of its grid.
    KEYFRAMES_AT: ClassVar[str]
    TIMELINE_HELP: ClassVar[str]
    # The grid's last frame when no duration option sets it (the page narrows it to a source
    # video it can read); None: the duration option's.
    LAST_FRAME: ClassVar[int | None] = None

    keyframes = forms.CharField(required=False, widget=forms.HiddenInput)

    @property
    def source_frames(self) -> int | None:
        """The last frame of the source the timeline's grid is (None: no source, or a grid of
        its own)."""
        return None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Through form_kwargs, so that the empty row "Add keyframe" copies (a new form at each
        # `empty_form`) offers the gallery too.
        choices = self.offered("image")
        timeline = self.data
        if self.is_bound and "kf-TOTAL_FORMS" not in timeline:  # a script's: no keyframes
            timeline = timeline.copy()
            timeline.update({"kf-TOTAL_FORMS": "0", "kf-INITIAL_FORMS": "0"})
        self.timeline = KeyframeFormSet(
            timeline or None, self.files or None, prefix="kf",
            initial=self.initial.get("timeline"), form_kwargs={"pick_choices": choices},
        )  # fmt: skip
        for form in self.timeline.forms:
            self._read_kept(form.add_prefix("kept"))

    def timeline_rows(self) -> list[tuple[forms.Form, list[Kept], str]]:
        """Each keyframe row, with its kept image (if any) and that field's name."""
        return [
            (form, self.kept.get(form.add_prefix("kept"), []), form.add_prefix("kept"))
            for form in self.timeline.forms
        ]

    def is_valid(self) -> bool:
        return super().is_valid() and self.timeline.is_valid()

    @classmethod
    def initial_from(cls, generation: Generation, user: Any = None) -> dict[str, Any]:
        """A Remix keeps the keyframe timeline too: each anchor's frame and image."""
        initial = super().initial_from(generation, user)
        options = dig_path(generation.request, cls.KEYFRAMES_AT) or {}
        anchors = zip(
            options.get("keyframes") or [], options.get("keyframe_indexes") or [], strict=False
        )
        rows: list[dict[str, Any]] = []
        for index, (ref, frame) in enumerate(anchors):
            uploads, picks = references_in(ref)
            if tokens := kept_tokens(uploads, user, generation):
                initial[f"kf-{index}-kept"] = tokens
            picked = Generation.objects.filter(upstream_id__in=picks).only("uuid").first()
            rows.append({"frame": frame, "pick": str(picked.uuid) if picked else ""})
        initial["timeline"] = rows
        return initial

    def again(self, generation: Generation) -> dict[str, Any]:
        initial = super().again(generation)
        rows: list[dict[str, Any]] = []
        for form, anchor in zip(self.timeline.forms, self.timeline.cleaned_data, strict=True):
            kept = initial.pop(form.add_prefix("kept"), None)
            if anchor and not anchor.get("DELETE") and anchor.get("frame") is not None:
                if kept:  # its image, renumbered with the rows kept
                    initial[f"kf-{len(rows)}-kept"] = kept
                rows.append({"frame": anchor["frame"], "pick": anchor.get("pick") or ""})
        initial["timeline"] = rows
        return initial

    def _slot_refs(self, data: dict[str, Any]) -> dict[str, Any]:
        refs = super()._slot_refs(data)
        anchors: list[schema.ImageRef] = []
        indexes: list[int] = []
        valid = self.timeline.is_valid()
        # The rows not removed, numbered as the strip numbers its markers.
        live = [form for form in self.timeline.forms if not form.cleaned_data.get("DELETE")]
        if not valid:
            errors = self.timeline.non_form_errors().as_data()
            refused = [(n, form) for n, form in enumerate(live, 1) if form.errors]
            if any(error.code == "too_many_forms" for error in errors):
                problem = f"A timeline takes at most {schema.MAX_KEYFRAMES} keyframes."
            elif refused:
                number, row = refused[0]
                problem = f"Keyframe {number}: {' '.join(next(iter(row.errors.values())))}"
            else:  # its hidden counts, sent by a script
                problem = "The timeline's rows could not be read: add the keyframes again."
            self.add_error("keyframes", problem)
            for form in live:  # their images are kept, as every refused upload is
                upload = form.files.get(form.add_prefix("image"))
                self._refs(self.KEYFRAMES, None, upload, form.add_prefix("kept"))
            return refs
        for number, form in enumerate(live, 1):
            anchor = form.cleaned_data
            kept = form.add_prefix("kept")
            found = self._refs(self.KEYFRAMES, anchor.get("pick"), anchor.get("image"), kept)
            if len(found) > 1:  # a new upload and a pick: one image a keyframe
                self.add_error(
                    "keyframes", f"Keyframe {number}: upload an image or pick one, not both."
                )
            elif found and anchor.get("frame") is None:
                self.add_error("keyframes", "Give every keyframe a frame position.")
            elif found:
                anchors += found
                indexes.append(anchor["frame"])
        refs["keyframes"] = anchors
        refs["keyframe_indexes"] = indexes
        return refs

    def _probe_all_refs(self) -> dict[str, Any]:
        """Timeline rows with a frame position count as placed keyframes."""
        refs = super()._probe_all_refs()
        try:
            rows = int(self.data.get("kf-TOTAL_FORMS") or 0)
        except ValueError:
            rows = 0
        frames = [
            self.data.get(f"kf-{i}-frame")
            for i in range(min(rows, schema.MAX_KEYFRAMES))
            if not self.data.get(f"kf-{i}-DELETE")
        ]
        # Plain numbers only (a longer one is past any grid, and Generate says it in words).
        placed = [int(f) for f in frames if f and f.isascii() and f.isdigit() and len(f) < 10]
        refs["keyframes"] = [schema.ImageRef(file_id="probe", media_type="image/png")] * len(placed)
        refs["keyframe_indexes"] = placed
        return refs


class VideoForm(TimelineForm):
    KIND = "video"
    MODE = "video"
    LABEL = "Video"
    KEYFRAMES_AT = "video"
    # A frame may be an image, or a prior video (its last frame: extend; first: lead into it).
    START = Slot(
        "start_frame",
        "frame",
        "start_frame",
        label="Start frame",
        help="The first frame; pick a video to extend it from its last frame.",
    )
    END = Slot("end_frame", "frame", "end_frame", label="End frame", help="Where it should end.")
    SLOTS = (START, END)
    PLACEHOLDER = "Describe the shot: subject, motion, camera…"
    FIELD_FOR_PATH = {
        **VIDEO_FIELD_PATHS,
        "video.start_frame": "start_frame",
        "video.start_frame.generation_id": "start_frame_pick",
        "video.end_frame": "end_frame",
        "video.end_frame.generation_id": "end_frame_pick",
        "video.keyframes": "keyframes",
        "video.keyframe_indexes": "keyframes",
    }
    PROBED = ("loop", "hdr", "exr_export", "duration", "resolution")
    TIMELINE_HELP = (
        "Pin up to 64 images at frame positions on the 24 fps grid (frames 0 to 120 for 5 s,"
        " 0 to 240 for 10 s). Use keyframes instead of start/end frames for 10-second or HDR"
        " videos."
    )

    duration = forms.ChoiceField(
        choices=labelled_choices(schema.VIDEO_DURATIONS, {"5s": "5 seconds", "10s": "10 seconds"}),
        required=False,
    )
    resolution = forms.ChoiceField(
        choices=labelled_choices(schema.VIDEO_RESOLUTIONS), initial="720p", required=False
    )
    aspect_ratio = forms.ChoiceField(
        choices=labelled_choices(VIDEO_RATIOS), initial="16:9", required=False
    )
    hdr = forms.BooleanField(required=False, label="HDR")
    exr_export = forms.BooleanField(required=False, label="EXR export (needs HDR)")
    loop = forms.BooleanField(required=False, label="Seamless loop")

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        return {
            "prompt": data.get("prompt") or "",
            "type": "video",
            "model": schema.VIDEO_MODEL,
            "aspect_ratio": data.get("aspect_ratio") or None,
            "video": {
                "duration": data.get("duration") or None,
                "resolution": data.get("resolution") or None,
                "hdr": true_or_none(data.get("hdr")),
                "exr_export": true_or_none(data.get("exr_export")),
                "loop": true_or_none(data.get("loop")),
                "start_frame": refs.get("start_frame"),
                "end_frame": refs.get("end_frame"),
                "keyframes": refs.get("keyframes") or None,
                "keyframe_indexes": refs.get("keyframe_indexes") or None,
            },
        }


# At most MAX_KEYFRAMES (64) rows are ever built, whatever kf-TOTAL_FORMS claims: Django's
# absolute_max would otherwise allow max_num + 1000, each a row to clean and render.
KeyframeFormSet = forms.formset_factory(
    KeyframeForm,
    extra=2,
    max_num=schema.MAX_KEYFRAMES,
    absolute_max=schema.MAX_KEYFRAMES,
    validate_max=True,
    can_delete=True,
)


class VideoEditForm(TimelineForm):
    KIND = "video_edit"
    MODE = "video_edit"
    LABEL = "Edit video"
    KEYFRAMES_AT = "video.edit"
    LAST_FRAME = schema.MAX_EDIT_FRAME
    TIMELINE_HELP = (
        "Pin up to 64 images at frames of the source video, 24 a second (frames 0 to 432 for"
        " an 18-second source; a shorter source ends sooner). The edit follows them there."
    )
    SOURCE = Slot(
        "source",
        "video",
        "source",
        label="Video to edit",
        help=f"{schema.MAX_EDIT_SOURCE_SECONDS} seconds at most; the result keeps its length.",
    )
    SLOTS = (SOURCE,)
    PLACEHOLDER = "How should the video change?"
    FIELD_FOR_PATH = {
        **VIDEO_FIELD_PATHS,
        **slot_error_paths("source"),
        "video.edit.strength": "strength",
        "video.edit.auto_controls": "auto_controls",
        "video.edit.controls.depth.blur": "depth_blur",
        "video.edit.controls.normals.augmentation": "normals_augmentation",
        "video.edit.controls.trajectory.sparsity": "trajectory_sparsity",
        "video.edit.controls.depth.enabled": "depth",
        "video.edit.controls.face.enabled": "face",
        "video.edit.controls.normals.enabled": "normals",
        "video.edit.controls.pose.enabled": "pose",
        "video.edit.controls.pose.strength": "pose_strength",
        "video.edit.controls.trajectory.enabled": "trajectory",
        "video.edit.keyframes": "keyframes",
        "video.edit.keyframe_indexes": "keyframes",
    }

    strength = forms.ChoiceField(
        choices=labelled_choices(schema.VIDEO_EDIT_STRENGTHS, STRENGTH_LABELS),
        initial="flex_2",
        required=False,
    )
    CONTROLS = (
        "depth",
        "depth_blur",
        "face",
        "normals",
        "normals_augmentation",
        "pose",
        "pose_strength",
        "trajectory",
        "trajectory_sparsity",
    )

    auto_controls = forms.BooleanField(
        required=False, initial=True, label="Let the model choose the controls"
    )
    depth = forms.BooleanField(required=False, label="Depth")
    depth_blur = forms.FloatField(required=False, min_value=0, max_value=1, initial=0.5)
    face = forms.BooleanField(required=False, label="Face identity")
    normals = forms.BooleanField(required=False, label="Surface normals")
    normals_augmentation = forms.FloatField(required=False, min_value=0, max_value=1, initial=0.5)
    pose = forms.BooleanField(required=False, label="Pose")
    pose_strength = forms.ChoiceField(
        choices=labelled_choices(schema.POSE_STRENGTHS), required=False
    )
    trajectory = forms.BooleanField(required=False, label="Motion trajectory")
    trajectory_sparsity = forms.FloatField(required=False, min_value=0, max_value=1, initial=0.5)
    resolution = forms.ChoiceField(
        choices=labelled_choices(schema.VIDEO_RESOLUTIONS), initial="720p", required=False
    )

    @classmethod
    def initial_from(cls, generation: Generation, user: Any = None) -> dict[str, Any]:
        initial = super().initial_from(generation, user)
        initial["auto_controls"] = bool(dig_path(generation.request, "video.edit.auto_controls"))
        return initial

    @property
    def source_frames(self) -> int | None:
        """The source's last frame at 24 a second, when its length is known: a new upload's
        (read once the form is checked), a kept one's, or a picked piece's."""
        seconds = next(
            (checked.duration for _, checked, role, _ in self._uploads if role == "source"), None
        )
        pick = self["source_pick"].value()
        if seconds is None and pick:
            try:
                picked = Output.objects.filter(generation__uuid=UUID(str(pick)), index=0)
            except ValueError:
                picked = Output.objects.none()
            seconds = picked.values_list("duration", flat=True).first()
        elif seconds is None and (kept := self.kept.get("source_kept")):
            seconds = kept[0].item.duration
        if seconds is None:
            return None
        return min(math.floor(seconds * schema.FPS), schema.MAX_EDIT_FRAME)

    def _slot_refs(self, data: dict[str, Any]) -> dict[str, Any]:
        refs = super()._slot_refs(data)
        if refs.get("source") is None or self.has_error("source") or self.has_error("source_pick"):
            return refs  # a refused source is said as such, not measured
        last = self.source_frames
        past = [f for f in refs.get("keyframe_indexes") or [] if last is not None and f > last]
        if past:
            self.add_error(
                "keyframes", f"Frame {past[0]} is past the end: this source has frames 0 to {last}."
            )
        return refs

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        edit: dict[str, Any] = {
            "strength": data.get("strength") or None,
            "keyframes": refs.get("keyframes") or None,
            "keyframe_indexes": refs.get("keyframe_indexes") or None,
        }
        if data.get("auto_controls"):
            edit["auto_controls"] = True
        else:
            edit["controls"] = {
                "depth": {"enabled": bool(data.get("depth")), "blur": data.get("depth_blur")},
                "face": {"enabled": bool(data.get("face"))},
                "normals": {
                    "enabled": bool(data.get("normals")),
                    "augmentation": data.get("normals_augmentation"),
                },
                "pose": {
                    "enabled": bool(data.get("pose")),
                    "strength": data.get("pose_strength") or None,
                },
                "trajectory": {
                    "enabled": bool(data.get("trajectory")),
                    "sparsity": data.get("trajectory_sparsity"),
                },
            }
        return {
            "prompt": data.get("prompt") or "",
            "type": "video_edit",
            "model": schema.VIDEO_MODEL,
            "source": refs.get("source"),
            "video": {"resolution": data.get("resolution") or None, "edit": edit},
        }


class ReframeForm(CreateForm):
    KIND = "video_reframe"
    MODE = "video_reframe"
    LABEL = "Reframe video"
    INHERITS = ("prompt",)  # the API requires one; the ratio is the reframe's own
    SOURCE = Slot("source", "video", "source", label="Video to reframe")
    SLOTS = (SOURCE,)
    PLACEHOLDER = "What the video shows, to fill the new parts of the frame"
    FIELD_FOR_PATH = {
        **VIDEO_FIELD_PATHS,
        **slot_error_paths("source"),
        "video.source_position": "model_chooses",
        "video.source_position.x_norm": "x_norm",
        "video.source_position.y_norm": "y_norm",
        "video.source_position.w_norm": "w_norm",
        "video.source_position.h_norm": "h_norm",
    }
    PROBED = ("resolution",)
    LAYOUT_FIELDS = ("model_chooses", "x_norm", "y_norm", "w_norm", "h_norm")

    aspect_ratio = forms.ChoiceField(
        choices=labelled_choices(VIDEO_RATIOS), initial="9:16", required=False
    )
    resolution = forms.ChoiceField(
        choices=labelled_choices(schema.VIDEO_RESOLUTIONS), initial="720p", required=False
    )
    model_chooses = forms.BooleanField(
        required=False, initial=True, label="Let the model place the source"
    )
    x_norm = forms.FloatField(required=False, initial=0.0)
    y_norm = forms.FloatField(required=False, initial=0.0)
    w_norm = forms.FloatField(required=False, initial=1.0)
    h_norm = forms.FloatField(required=False, initial=1.0)

    @classmethod
    def initial_from(cls, generation: Generation, user: Any = None) -> dict[str, Any]:
        initial = super().initial_from(generation, user)
        initial["model_chooses"] = dig_path(generation.request, "video.source_position") is None
        return initial

    def clean(self) -> dict[str, Any]:
        """The API takes a source placed wholly outside the frame (edges from -2 to 2), which
        makes a paid video that never shows it: refused, whatever else is wrong."""
        data = super().clean()
        x, y, w, h = (data.get(key) for key in ("x_norm", "y_norm", "w_norm", "h_norm"))
        if data.get("model_chooses") or None in (x, y, w, h):
            return data
        if x >= 1 or y >= 1 or x + w <= 0 or y + h <= 0:
            self.add_error(
                "x_norm",
                "The video would be entirely outside the frame: place it so that some of it "
                "shows (the frame's edges are 0 and 1).",
            )
        return data

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        position = None
        if not data.get("model_chooses"):
            position = {key: data.get(key) for key in ("x_norm", "y_norm", "w_norm", "h_norm")}
        return {
            "prompt": data.get("prompt") or "",
            "type": "video_reframe",
            "model": schema.VIDEO_MODEL,
            "aspect_ratio": data.get("aspect_ratio") or None,
            "source": refs.get("source"),
            "video": {"resolution": data.get("resolution") or None, "source_position": position},
        }


class LayersForm(CreateForm):
    INHERITS = ()
    KIND = "layering"
    MODE = "layering"
    LABEL = "Layers"
    SOURCE = Slot("source", "image", "source", label="Image to split")
    SLOTS = (SOURCE,)
    PROMPT_MAX = schema.LAYERING_PROMPT_MAX
    PLACEHOLDER = "Optional: how to split it (for example: the person, the car, the sky)"
    FIELD_FOR_PATH = {
        "prompt": "prompt",
        **slot_error_paths("source"),
        "layering.resolution": "resolution",
    }

    resolution = forms.ChoiceField(
        choices=labelled_choices(
            schema.LAYERING_RESOLUTIONS, {"1k": "1K (faster)", "2k": "2K (sharper)"}
        ),
        required=False,
    )

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        return {
            # The API needs a prompt; an empty guide means "split it as you see fit".
            "prompt": data.get("prompt") or "Split this image into its layers.",
            "type": "layering",
            "model": "uni-1",
            "source": refs.get("source"),
            "layering": {"resolution": data.get("resolution") or None},
        }


MODE_FORMS: dict[str, type[CreateForm]] = {
    form.MODE: form
    for form in (
        ImageForm,
        ImageEditForm,
        VideoForm,
        VideoEditForm,
        ReframeForm,
        LayersForm,
        ProxyVideoForm,
    )
}
