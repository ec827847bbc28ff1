"""Forms for the six kinds of job: what a person picks becomes the upstream schema's request.

No rule of the API is written here. The schema validates; a form only maps the schema's
messages back onto its own fields, and asks the schema which options a combination rules out
(`disabled_options`), so the page can grey them out with the same words.
"""

import secrets
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from django import forms
from django.db import transaction
from django.db.models import QuerySet
from pydantic import ValidationError

from generations.luma import schema
from generations.models import INPUT_PLACEHOLDER, Generation, Lineage, State
from generations.submission import start_generation
from generations.uploads import CheckedUpload, UploadRefused, check_image, check_video, store

MODES = {
    "image": "Image",
    "image_edit": "Edit image",
    "video": "Video",
    "video_edit": "Edit video",
    "video_reframe": "Reframe video",
    "layering": "Layers",
}
MODEL_LABELS = {"uni-1": "uni-1 (fast)", "uni-1-max": "uni-1-max (best quality)"}
STRENGTH_LABELS = {
    "adhere_1": "Adhere 1 — keep almost everything",
    "adhere_2": "Adhere 2",
    "adhere_3": "Adhere 3",
    "flex_1": "Flex 1 — keep the layout, restyle",
    "flex_2": "Flex 2",
    "flex_3": "Flex 3",
    "reimagine_1": "Reimagine 1 — keep the idea, redraw",
    "reimagine_2": "Reimagine 2",
    "reimagine_3": "Reimagine 3 — only the motion survives",
}
# The ratios ray-3.2 renders (inferred: the server checks the per-model set).
VIDEO_RATIOS = ("21:9", "16:9", "4:3", "1:1", "3:4", "9:16")
IMAGE_KINDS = ("image", "image_edit", "layering")
VIDEO_KINDS = ("video", "video_edit", "video_reframe")
PICK_LIMIT = 60


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


@dataclass(frozen=True)
class Slot:
    """A media input of a form: an upload and/or a pick from the gallery."""

    name: str
    media: str  # "image", "video", or "frame" (an image, or a prior video's frame)
    role: str
    multiple: bool = False
    label: str = ""
    help: str = ""


@dataclass(frozen=True)
class SlotRow:
    slot: Slot
    upload: forms.BoundField
    pick: forms.BoundField


def _choice(values: Any, labels: dict[str, str] | None = None) -> list[tuple[str, str]]:
    return [(value, (labels or {}).get(value, value)) for value in values]


PICK_KINDS = {"image": IMAGE_KINDS, "video": VIDEO_KINDS, "frame": IMAGE_KINDS + VIDEO_KINDS}


def pick_choices(media: str) -> list[tuple[str, str]]:
    """The team's recent finished pieces of one media kind, newest first, for a gallery pick."""
    recent: QuerySet[Generation] = Generation.objects.filter(
        state=State.COMPLETED, kind__in=PICK_KINDS[media], upstream_id__isnull=False
    ).only("uuid", "prompt", "kind")[:PICK_LIMIT]
    return [("", "— none —"), *((str(g.uuid), f"{g.prompt[:60]} ({g.kind})") for g in recent)]


class CreateForm(forms.Form):
    """What every mode shares: the prompt, the double-submit token, chaining and the slots."""

    KIND: ClassVar[str]
    SLOTS: ClassVar[tuple[Slot, ...]] = ()
    # Schema path (dotted, no list indexes) → form field showing its messages.
    FIELD_FOR_PATH: ClassVar[dict[str, str]] = {}
    # Options the page greys out when the schema says the current combination rules them out.
    PROBED: ClassVar[tuple[str, ...]] = ()
    PROMPT_MAX: ClassVar[int] = schema.PROMPT_MAX
    # Fields the page lays out itself rather than in the options list.
    LAYOUT_FIELDS: ClassVar[tuple[str, ...]] = ()

    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "data-counter": "prompt"}),
        strip=False,
        required=False,  # the schema refuses an empty prompt with its own message
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    parent = forms.UUIDField(widget=forms.HiddenInput, required=False)
    lineage = forms.ChoiceField(
        choices=[("", ""), *Lineage.choices], widget=forms.HiddenInput, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound and "idempotency_key" not in self.initial:
            self.initial["idempotency_key"] = secrets.token_urlsafe(24)
        self.fields["prompt"].widget.attrs["data-max"] = self.PROMPT_MAX
        self.fields["prompt"].widget.attrs["placeholder"] = self.PLACEHOLDER
        for slot in self.SLOTS:
            field = self.fields[f"{slot.name}_pick"]
            field.choices = pick_choices(slot.media)  # type: ignore[attr-defined]
            chosen = self.initial.get(f"{slot.name}_pick") or self.data.get(f"{slot.name}_pick")
            if chosen and chosen not in dict(field.choices):  # type: ignore[attr-defined]
                # A piece older than the list: still pickable when a chain link names it.
                older = Generation.objects.filter(uuid=chosen).only("prompt", "kind").first()
                if older is not None:
                    label = f"{older.prompt[:60]} ({older.kind})"
                    field.choices = [*field.choices, (chosen, label)]  # type: ignore[attr-defined]
        self.upstream_request: schema.GenerationRequest | None = None
        self._uploads: list[tuple[uuid.UUID, CheckedUpload, str]] = []

    PLACEHOLDER: ClassVar[str] = "Describe what you want…"

    def slot_rows(self) -> list[SlotRow]:
        return [SlotRow(s, self[s.name], self[f"{s.name}_pick"]) for s in self.SLOTS]

    # --- turning the form into a request ---

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        """The request body for this mode from cleaned data and the slots' references."""
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        refs = self._slot_refs(data)
        if self.errors:
            return data
        try:
            self.upstream_request = schema.GenerationRequest.model_validate(self.body(data, refs))
        except ValidationError as exc:
            for path, messages in schema.field_errors(exc).items():
                for message in messages:
                    self.add_error(self.FIELD_FOR_PATH.get(path), message)
        return data

    def _slot_refs(self, data: dict[str, Any]) -> dict[str, Any]:
        """References for every slot: gallery picks by generation id, uploads as placeholders."""
        refs: dict[str, Any] = {}
        for slot in self.SLOTS:
            found = self._refs(slot, data.get(f"{slot.name}_pick"), data.get(slot.name))
            if not slot.multiple and len(found) > 1:
                self.add_error(slot.name, "Upload a file or pick one from the gallery, not both.")
            refs[slot.name] = found if slot.multiple else (found[0] if found else None)
        return refs

    def _refs(self, slot: Slot, pick: str | None, uploads: Any) -> list[schema.ImageRef]:
        """The references one slot (or one keyframe) names; problems go on its field."""
        found: list[schema.ImageRef] = []
        if pick:
            picked = Generation.objects.filter(uuid=pick, state=State.COMPLETED).first()
            if picked is None or picked.upstream_id is None:
                self.add_error(f"{slot.name}_pick", "That piece is not finished or is gone.")
            else:
                found.append(schema.ImageRef(generation_id=picked.upstream_id))
        for upload in uploads if isinstance(uploads, list) else [uploads]:
            if not upload:
                continue
            try:
                checked = self._check(upload, slot)
            except UploadRefused as exc:
                self.add_error(slot.name, str(exc))
                continue
            key = uuid.uuid4()
            self._uploads.append((key, checked, slot.role))
            found.append(
                schema.ImageRef(file_id=f"{INPUT_PLACEHOLDER}{key}", media_type=checked.mime_type)
            )
        return found

    def _check(self, upload: Any, slot: Slot) -> CheckedUpload:
        # Uploads into a "frame" slot are images; prior videos come as gallery picks.
        if slot.media == "video":
            limit = schema.MAX_EDIT_SOURCE_SECONDS if self.KIND == "video_edit" else None
            return check_video(upload, max_seconds=limit)
        return check_image(upload)

    @classmethod
    def initial_from(cls, generation: Generation) -> dict[str, Any]:
        """The form's values for an existing job's exact request (Remix)."""
        initial: dict[str, Any] = {"parent": generation.uuid, "lineage": Lineage.REMIX}
        for path, name in cls.FIELD_FOR_PATH.items():
            value = _dig(generation.request, path)
            if value is None or isinstance(value, list | dict) or name in initial:
                continue
            if name.endswith("_pick"):
                picked = Generation.objects.filter(upstream_id=value).only("uuid").first()
                if picked is not None:
                    initial[name] = str(picked.uuid)
            elif not isinstance(cls.base_fields.get(name), forms.FileField | None):
                initial[name] = value
        return initial

    def save(self, user: Any) -> tuple[Generation, bool]:
        """Record the job and its uploads together, then hand it to the worker."""
        assert self.upstream_request is not None
        parent = None
        if self.cleaned_data.get("parent"):
            parent = Generation.objects.filter(uuid=self.cleaned_data["parent"]).first()
        with transaction.atomic():
            generation, created = start_generation(
                user,
                self.upstream_request,
                idempotency_key=self.cleaned_data.get("idempotency_key") or None,
                parent=parent,
                lineage=self.cleaned_data.get("lineage") or "",
            )
            if created:
                for key, checked, role in self._uploads:
                    store(checked, user=user, role=role, key=key, generation=generation)
        return generation, created

    # --- what the current combination rules out ---

    def disabled_options(self) -> dict[str, dict[str, str]]:
        """For each probed field, the values the schema would refuse now, with its reason."""
        base = self._lenient_data()
        refs = self._probe_all_refs()
        disabled: dict[str, dict[str, str]] = {}
        for name in self.PROBED:
            field = self.fields[name]
            for value in _probe_values(field):
                trial = {**base, name: field.clean(value)}
                try:
                    schema.GenerationRequest.model_validate(self.body(trial, refs))
                except ValidationError as exc:
                    reasons = [
                        message
                        for path, messages in schema.field_errors(exc).items()
                        if self.FIELD_FOR_PATH.get(path) == name
                        for message in messages
                    ]
                    if reasons:
                        disabled.setdefault(name, {})[value] = reasons[0]
        return disabled

    def _lenient_data(self) -> dict[str, Any]:
        """The non-file fields as cleaned as they can be; a bad one counts as unset."""
        data: dict[str, Any] = {}
        for name, field in self.fields.items():
            if isinstance(field, forms.FileField):
                continue
            raw = (
                field.widget.value_from_datadict(self.data, self.files, self.add_prefix(name))
                if self.is_bound
                else self.get_initial_for_field(field, name)
            )
            try:
                data[name] = field.clean(raw)
            except forms.ValidationError:
                data[name] = None
        data["prompt"] = data.get("prompt") or "probe"
        return data

    def _probe_all_refs(self) -> dict[str, Any]:
        return {slot.name: self._probe_refs(slot) for slot in self.SLOTS}

    def _probe_refs(self, slot: Slot) -> Any:
        """A slot counts as filled when the page says files are chosen or a piece is picked."""
        try:
            count = int(self.data.get(f"{slot.name}_count") or 0)
        except ValueError:
            count = 0
        if self.data.get(f"{slot.name}_pick"):
            count += 1
        mime = "video/mp4" if slot.media == "video" else "image/png"
        ref = schema.ImageRef(file_id="probe", media_type=mime)
        return [ref] * count if slot.multiple else (ref if count else None)


def _dig(body: dict[str, Any], path: str) -> Any:
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _probe_values(field: forms.Field) -> list[str]:
    if isinstance(field, forms.BooleanField):
        return ["on"]
    return [str(value) for value, _ in field.choices if value != ""]  # type: ignore[attr-defined]


def upload_field(slot: Slot) -> forms.FileField:
    """A slot's upload: one file, or several for a multiple slot."""
    accept = "video/*" if slot.media == "video" else "image/png,image/jpeg,image/webp"
    if slot.multiple:
        return MultipleFileField(required=False, widget=MultipleFileInput(attrs={"accept": accept}))
    return forms.FileField(
        required=False, widget=forms.ClearableFileInput(attrs={"accept": accept})
    )


def pick_field() -> forms.ChoiceField:
    """A slot's gallery pick; its choices are filled in per form (recent finished pieces)."""
    return forms.ChoiceField(required=False, choices=[])


def _slot_paths(name: str) -> dict[str, str]:
    """Where the schema's messages about a slot's reference go: the upload, or the pick."""
    return {
        name: name,
        f"{name}.file_id": name,
        f"{name}.media_type": name,
        f"{name}.generation_id": f"{name}_pick",
    }


def _on(value: Any) -> bool | None:
    """A checkbox as the API wants it: true, or left out."""
    return True if value else None


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
    SLOTS = (REFERENCES,)
    PLACEHOLDER = "Describe the image…"
    FIELD_FOR_PATH = {
        "prompt": "prompt",
        "model": "model",
        "aspect_ratio": "aspect_ratio",
        "style": "style",
        "output_format": "output_format",
        "web_search": "web_search",
        **_slot_paths("image_ref"),
    }

    model = forms.ChoiceField(choices=_choice(("uni-1", "uni-1-max"), MODEL_LABELS), required=False)
    aspect_ratio = forms.ChoiceField(
        choices=_choice(schema.ASPECT_RATIOS), initial="16:9", required=False
    )
    style = forms.ChoiceField(choices=_choice(schema.STYLES), initial="auto", required=False)
    output_format = forms.ChoiceField(
        choices=_choice(schema.OUTPUT_FORMATS), initial="png", required=False
    )
    web_search = forms.BooleanField(required=False, label="Let the model search the web")
    image_ref = upload_field(REFERENCES)
    image_ref_pick = pick_field()

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        return {
            "prompt": data.get("prompt") or "",
            "type": "image",
            "model": data.get("model") or "uni-1",
            "aspect_ratio": data.get("aspect_ratio") or None,
            "style": data.get("style") or None,
            "output_format": data.get("output_format") or None,
            "web_search": _on(data.get("web_search")),
            "image_ref": refs.get("image_ref") or None,
        }


class ImageEditForm(CreateForm):
    KIND = "image_edit"
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
        **_slot_paths("source"),
    }

    model = forms.ChoiceField(choices=_choice(("uni-1", "uni-1-max"), MODEL_LABELS), required=False)
    aspect_ratio = forms.ChoiceField(
        choices=[("", "Same as the source"), *_choice(schema.ASPECT_RATIOS)], required=False
    )
    output_format = forms.ChoiceField(
        choices=_choice(schema.OUTPUT_FORMATS), initial="png", required=False
    )
    source = upload_field(SOURCE)
    source_pick = pick_field()
    image_ref = upload_field(REFS)
    image_ref_pick = pick_field()

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

    image = forms.FileField(
        required=False, widget=forms.ClearableFileInput(attrs={"accept": "image/*"})
    )
    pick = forms.ChoiceField(required=False, choices=[])
    frame = forms.IntegerField(min_value=0, required=False)


class VideoForm(CreateForm):
    KIND = "video"
    # A frame may be an image, or a prior video (its last frame: extend; first: lead into it).
    START = Slot(
        "start_frame",
        "frame",
        "start_frame",
        label="Start frame",
        help="The first frame; pick a video to extend it from its last frame.",
    )
    END = Slot("end_frame", "frame", "end_frame", label="End frame", help="Where it should end.")
    KEYFRAMES = Slot("keyframes", "image", "keyframes", multiple=True)
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

    duration = forms.ChoiceField(
        choices=_choice(schema.VIDEO_DURATIONS, {"5s": "5 seconds", "10s": "10 seconds"}),
        required=False,
    )
    resolution = forms.ChoiceField(
        choices=_choice(schema.VIDEO_RESOLUTIONS), initial="720p", required=False
    )
    aspect_ratio = forms.ChoiceField(choices=_choice(VIDEO_RATIOS), initial="16:9", required=False)
    hdr = forms.BooleanField(required=False, label="HDR")
    exr_export = forms.BooleanField(required=False, label="EXR export (needs HDR)")
    loop = forms.BooleanField(required=False, label="Seamless loop")
    keyframes = forms.CharField(required=False, widget=forms.HiddenInput)
    start_frame = upload_field(START)
    start_frame_pick = pick_field()
    end_frame = upload_field(END)
    end_frame_pick = pick_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeline = KeyframeFormSet(
            self.data or None, self.files or None, prefix="kf", form_kwargs={}
        )
        choices = pick_choices("image")
        for form in [*self.timeline.forms, self.timeline.empty_form]:
            form.fields["pick"].choices = choices

    def is_valid(self) -> bool:
        return super().is_valid() and self.timeline.is_valid()

    def _slot_refs(self, data: dict[str, Any]) -> dict[str, Any]:
        refs = super()._slot_refs(data)
        anchors: list[schema.ImageRef] = []
        indexes: list[int] = []
        if not self.timeline.is_valid():
            self.add_error("keyframes", "Check the keyframes: frame positions are whole numbers.")
            return refs
        for anchor in self.timeline.cleaned_data:
            if not anchor or anchor.get("DELETE"):
                continue
            found = self._refs(self.KEYFRAMES, anchor.get("pick"), anchor.get("image"))
            if found and anchor.get("frame") is None:
                self.add_error("keyframes", "Give every keyframe a frame position.")
                continue
            anchors += found
            indexes += [anchor["frame"]] * len(found)
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
        frames = [self.data.get(f"kf-{i}-frame") for i in range(min(rows, schema.MAX_KEYFRAMES))]
        placed = [int(f) for f in frames if f and f.isdigit()]
        refs["keyframes"] = [schema.ImageRef(file_id="probe", media_type="image/png")] * len(placed)
        refs["keyframe_indexes"] = placed
        return refs

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        return {
            "prompt": data.get("prompt") or "",
            "type": "video",
            "model": schema.VIDEO_MODEL,
            "aspect_ratio": data.get("aspect_ratio") or None,
            "video": {
                "duration": data.get("duration") or None,
                "resolution": data.get("resolution") or None,
                "hdr": _on(data.get("hdr")),
                "exr_export": _on(data.get("exr_export")),
                "loop": _on(data.get("loop")),
                "start_frame": refs.get("start_frame"),
                "end_frame": refs.get("end_frame"),
                "keyframes": refs.get("keyframes") or None,
                "keyframe_indexes": refs.get("keyframe_indexes") or None,
            },
        }


KeyframeFormSet = forms.formset_factory(
    KeyframeForm, extra=2, max_num=schema.MAX_KEYFRAMES, can_delete=True
)


class VideoEditForm(CreateForm):
    KIND = "video_edit"
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
        **_slot_paths("source"),
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
        "video.edit.keyframes": "source",
    }

    strength = forms.ChoiceField(
        choices=_choice(schema.VIDEO_EDIT_STRENGTHS, STRENGTH_LABELS),
        initial="flex_2",
        required=False,
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
    pose_strength = forms.ChoiceField(choices=_choice(schema.POSE_STRENGTHS), required=False)
    trajectory = forms.BooleanField(required=False, label="Motion trajectory")
    trajectory_sparsity = forms.FloatField(required=False, min_value=0, max_value=1, initial=0.5)
    resolution = forms.ChoiceField(
        choices=_choice(schema.VIDEO_RESOLUTIONS), initial="720p", required=False
    )
    source = upload_field(SOURCE)
    source_pick = pick_field()

    @classmethod
    def initial_from(cls, generation: Generation) -> dict[str, Any]:
        initial = super().initial_from(generation)
        initial["auto_controls"] = bool(_dig(generation.request, "video.edit.auto_controls"))
        return initial

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        edit: dict[str, Any] = {"strength": data.get("strength") or None}
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
    SOURCE = Slot("source", "video", "source", label="Video to reframe")
    SLOTS = (SOURCE,)
    PLACEHOLDER = "Anything to add to the new parts of the frame?"
    FIELD_FOR_PATH = {
        **VIDEO_FIELD_PATHS,
        **_slot_paths("source"),
        "video.source_position": "model_chooses",
        "video.source_position.x_norm": "x_norm",
        "video.source_position.y_norm": "y_norm",
        "video.source_position.w_norm": "w_norm",
        "video.source_position.h_norm": "h_norm",
    }
    PROBED = ("resolution",)
    LAYOUT_FIELDS = ("model_chooses", "x_norm", "y_norm", "w_norm", "h_norm")

    aspect_ratio = forms.ChoiceField(choices=_choice(VIDEO_RATIOS), initial="9:16", required=False)
    resolution = forms.ChoiceField(
        choices=_choice(schema.VIDEO_RESOLUTIONS), initial="720p", required=False
    )
    model_chooses = forms.BooleanField(
        required=False, initial=True, label="Let the model place the source"
    )
    x_norm = forms.FloatField(required=False, initial=0.0)
    y_norm = forms.FloatField(required=False, initial=0.0)
    w_norm = forms.FloatField(required=False, initial=1.0)
    h_norm = forms.FloatField(required=False, initial=1.0)
    source = upload_field(SOURCE)
    source_pick = pick_field()

    @classmethod
    def initial_from(cls, generation: Generation) -> dict[str, Any]:
        initial = super().initial_from(generation)
        initial["model_chooses"] = _dig(generation.request, "video.source_position") is None
        return initial

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
    KIND = "layering"
    SOURCE = Slot("source", "image", "source", label="Image to split")
    SLOTS = (SOURCE,)
    PROMPT_MAX = schema.LAYERING_PROMPT_MAX
    PLACEHOLDER = "Optional: how to split it (for example: the person, the car, the sky)"
    FIELD_FOR_PATH = {
        "prompt": "prompt",
        **_slot_paths("source"),
        "layering.resolution": "resolution",
    }

    resolution = forms.ChoiceField(
        choices=_choice(schema.LAYERING_RESOLUTIONS, {"1k": "1K (faster)", "2k": "2K (sharper)"}),
        required=False,
    )
    source = upload_field(SOURCE)
    source_pick = pick_field()

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
    "image": ImageForm,
    "image_edit": ImageEditForm,
    "video": VideoForm,
    "video_edit": VideoEditForm,
    "video_reframe": ReframeForm,
    "layering": LayersForm,
}


@dataclass(frozen=True)
class OptionRow:
    """An option as the page shows it: the field, and the values ruled out now, with why."""

    field: forms.BoundField
    disabled: dict[str, str]

    @property
    def is_checkbox(self) -> bool:
        return isinstance(self.field.field, forms.BooleanField)

    @property
    def is_choice(self) -> bool:
        return isinstance(self.field.field, forms.ChoiceField)

    @property
    def reasons(self) -> list[str]:
        return sorted(set(self.disabled.values()))


def option_rows(form: CreateForm, disabled: dict[str, dict[str, str]]) -> list[OptionRow]:
    """The form's options (everything but the prompt, media slots and layout fields)."""
    skip = {"prompt", "keyframes", *form.LAYOUT_FIELDS}
    for slot in form.SLOTS:
        skip |= {slot.name, f"{slot.name}_pick"}
    return [
        OptionRow(field, disabled.get(field.name, {}))
        for field in form
        if field.name not in skip and not field.is_hidden
    ]
