"""The Dream Machine creation forms: video, image, reframe, modify, upscale and add audio.

Built like the Agents forms (see `base`): the schema (providers/dream_machine/schema.py) decides,
a form maps its messages onto fields. The API takes media by URL only: a gallery pick becomes a
prior generation (keyframes, upscale, audio) or its output's URL, and an upload becomes a
placeholder the provider swaps for a signed public link when it sends the job. Without
LUMAWEB_PUBLIC_URL there is no such link, so uploads are greyed with the reason.
"""

from typing import Any, ClassVar

from django import forms
from pydantic import BaseModel

from generations import public
from generations.forms.base import (
    STRENGTH_LABELS,
    CreateForm,
    Slot,
    labelled_choices,
    slot_error_paths,
    true_or_none,
)
from generations.models import Generation
from generations.providers.dream_machine import schema

NO_PUBLIC_URL = (
    "Uploads need LUMAWEB_PUBLIC_URL (Dream Machine fetches inputs by link); pick from the "
    "gallery instead."
)
GALLERY_ONLY = "Works on a finished Dream Machine video from the gallery."
MODEL_LABELS = {
    "ray-2": "Ray 2 (best quality)",
    "ray-flash-2": "Ray Flash 2 (faster, cheaper)",
    "photon-1": "Photon 1 (best quality)",
    "photon-flash-1": "Photon Flash 1 (faster, cheaper)",
}
WEIGHT_HELP = "How strongly it guides the result, from 0 to 1."


def weight_field(initial: float) -> forms.FloatField:
    return forms.FloatField(required=False, min_value=0, max_value=1, initial=initial)


def _concept_label(key: str) -> str:
    return key.replace("_", " ").capitalize()


class DreamForm(CreateForm):
    """What the Dream Machine forms share: URL references and uploads that need a public link."""

    PROVIDER = "dream_machine"
    # A Dream Machine request names a piece by its Dream Machine id or its output's URL.
    PICKS_FROM = ("dream_machine",)
    PROMPT_MAX = schema.PROMPT_MAX
    # Slots whose input must be a prior generation (no upload, no URL).
    GALLERY_ONLY: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for slot in self.SLOTS:
            field = self.fields[slot.name]
            if slot.name in self.GALLERY_ONLY:
                field.disabled, field.help_text = True, GALLERY_ONLY
            elif not public.available():
                field.disabled, field.help_text = True, NO_PUBLIC_URL

    @classmethod
    def validate(cls, body: dict[str, Any]) -> BaseModel:
        return schema.parse_request(body)

    @classmethod
    def made(cls, generation: Generation) -> bool:
        """Dream Machine's kinds are shared by several forms: its request type says which."""
        kind = str(generation.request.get("generation_type"))
        return generation.provider == cls.PROVIDER and MODE_FOR_TYPE.get(kind) == cls.MODE

    def pick_ref(self, picked: Generation, slot: Slot) -> Any:
        if slot.media == "frame" or slot.name in self.GALLERY_ONLY:
            return {"type": "generation", "id": picked.upstream_id}
        output = picked.outputs.order_by("index").first()
        return {"url": output.url if output else ""}

    def upload_ref(self, placeholder: str, mime_type: str, slot: Slot) -> Any:
        if slot.media == "frame":
            return {"type": "image", "url": placeholder}
        return {"url": placeholder}


def _weighted(ref: Any, weight: Any) -> Any:
    return {**ref, "weight": weight} if ref and weight is not None else ref


class DreamVideoForm(DreamForm):
    KIND = "video"
    MODE = "dm_video"
    LABEL = "Video"
    START = Slot(
        "frame0",
        "frame",
        "frame0",
        label="Start frame",
        help="An image to start from, or a video to extend from its last frame.",
    )
    END = Slot(
        "frame1",
        "frame",
        "frame1",
        label="End frame",
        help="An image to end on, or a video to lead into (reverse extend).",
    )
    SLOTS = (START, END)
    PLACEHOLDER = "Describe the shot: subject, motion, camera…"
    FIELD_FOR_PATH = {
        "prompt": "prompt",
        "model": "model",
        "aspect_ratio": "aspect_ratio",
        "resolution": "resolution",
        "duration": "duration",
        "loop": "loop",
        "concepts": "concepts",
        "concepts.key": "concepts",
        "keyframes.frame0.image.url": "frame0",
        "keyframes.frame0.generation.id": "frame0_pick",
        "keyframes.frame1.image.url": "frame1",
        "keyframes.frame1.generation.id": "frame1_pick",
        # A Remix finds the picked pieces by their ids.
        "keyframes.frame0.id": "frame0_pick",
        "keyframes.frame1.id": "frame1_pick",
    }
    PROBED = ("loop",)
    LAYOUT_FIELDS = ("concepts",)

    model = forms.ChoiceField(
        choices=labelled_choices(schema.VIDEO_MODELS, MODEL_LABELS), required=False
    )
    resolution = forms.ChoiceField(
        choices=labelled_choices(schema.RESOLUTIONS), initial="720p", required=False
    )
    duration = forms.ChoiceField(
        choices=labelled_choices(schema.DURATIONS, {"5s": "5 seconds", "9s": "9 seconds"}),
        required=False,
    )
    aspect_ratio = forms.ChoiceField(
        choices=labelled_choices(schema.ASPECT_RATIOS), initial="16:9", required=False
    )
    loop = forms.BooleanField(required=False, label="Seamless loop")
    concepts = forms.MultipleChoiceField(
        choices=[(key, _concept_label(key)) for key in schema.CONCEPTS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Camera moves",
    )

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        frames = {role: refs[role] for role in ("frame0", "frame1") if refs.get(role)}
        return {
            "generation_type": "video",
            "model": data.get("model") or "ray-2",
            "prompt": data.get("prompt") or None,
            "aspect_ratio": data.get("aspect_ratio") or None,
            "resolution": data.get("resolution") or None,
            "duration": data.get("duration") or None,
            "loop": true_or_none(data.get("loop")),
            "keyframes": frames or None,
            "concepts": [{"key": key} for key in data.get("concepts") or []] or None,
        }


class DreamImageForm(DreamForm):
    KIND = "image"
    MODE = "dm_image"
    LABEL = "Image"
    REFS = Slot(
        "image_ref",
        "image",
        "image_ref",
        multiple=True,
        label="Reference images",
        help=f"Up to {schema.MAX_IMAGE_REFS} images that guide the content.",
    )
    STYLE = Slot("style_ref", "image", "style_ref", label="Style reference")
    CHARACTER = Slot(
        "character_ref",
        "image",
        "character_ref",
        multiple=True,
        label="Character",
        help="Photos of one person to keep their identity.",
    )
    MODIFY = Slot("modify_image_ref", "image", "modify_image_ref", label="Image to modify")
    SLOTS = (REFS, STYLE, CHARACTER, MODIFY)
    PLACEHOLDER = "Describe the image…"
    FIELD_FOR_PATH = {
        "prompt": "prompt",
        "model": "model",
        "aspect_ratio": "aspect_ratio",
        "format": "format",
        **slot_error_paths("image_ref"),
        "image_ref.url": "image_ref",
        "image_ref.weight": "image_ref_weight",
        **slot_error_paths("style_ref"),
        "style_ref.url": "style_ref",
        "style_ref.weight": "style_ref_weight",
        **slot_error_paths("character_ref"),
        "character_ref.identity0.images": "character_ref",
        **slot_error_paths("modify_image_ref"),
        "modify_image_ref.url": "modify_image_ref",
        "modify_image_ref.weight": "modify_image_ref_weight",
    }

    model = forms.ChoiceField(
        choices=labelled_choices(schema.IMAGE_MODELS, MODEL_LABELS), required=False
    )
    aspect_ratio = forms.ChoiceField(
        choices=labelled_choices(schema.ASPECT_RATIOS), initial="16:9", required=False
    )
    format = forms.ChoiceField(
        choices=labelled_choices(schema.IMAGE_FORMATS, {"jpg": "JPEG", "png": "PNG"}),
        initial="png",
        required=False,
    )
    image_ref_weight = weight_field(0.85)
    style_ref_weight = weight_field(0.8)
    modify_image_ref_weight = weight_field(1.0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("image_ref_weight", "style_ref_weight", "modify_image_ref_weight"):
            self.fields[name].help_text = WEIGHT_HELP
        self.fields["image_ref_weight"].label = "Reference weight"
        self.fields["style_ref_weight"].label = "Style weight"
        self.fields["modify_image_ref_weight"].label = "Modify weight"

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        images = [ref["url"] for ref in refs.get("character_ref") or []]
        style = _weighted(refs.get("style_ref"), data.get("style_ref_weight"))
        return {
            "generation_type": "image",
            "model": data.get("model") or "photon-1",
            "prompt": data.get("prompt") or "",
            "aspect_ratio": data.get("aspect_ratio") or None,
            "format": data.get("format") or None,
            "image_ref": [
                _weighted(ref, data.get("image_ref_weight")) for ref in refs.get("image_ref") or []
            ]
            or None,
            "style_ref": [style] if style else None,
            "character_ref": {"identity0": {"images": images}} if images else None,
            "modify_image_ref": _weighted(
                refs.get("modify_image_ref"), data.get("modify_image_ref_weight")
            ),
        }


class _SourceForm(DreamForm):
    """A job on one input (the `media`): reframe or modify."""

    # A reframe's prompt says what fills the new parts (as the Agents API's Reframe starts from
    # its source's), its point another ratio; a modify's prompt is a new look (DreamModifyForm).
    INHERITS = ("prompt",)
    NEEDS = ("media",)

    FIELD_FOR_PATH = {
        "prompt": "prompt",
        "model": "model",
        "aspect_ratio": "aspect_ratio",
        "format": "format",
        "mode": "strength",  # the studio's own `mode` names the form
        **slot_error_paths("media"),
        "media.url": "media",
    }


class DreamReframeImageForm(_SourceForm):
    KIND = "image_edit"
    MODE = "dm_reframe_image"
    LABEL = "Reframe image"
    SOURCE = Slot("media", "image", "media", label="Image to reframe")
    SLOTS = (SOURCE,)
    PLACEHOLDER = "Optional: what fills the new parts of the frame"

    model = forms.ChoiceField(
        choices=labelled_choices(schema.IMAGE_MODELS, MODEL_LABELS), required=False
    )
    aspect_ratio = forms.ChoiceField(
        choices=labelled_choices(schema.ASPECT_RATIOS), initial="9:16", required=False
    )
    format = forms.ChoiceField(
        choices=labelled_choices(schema.IMAGE_FORMATS, {"jpg": "JPEG", "png": "PNG"}),
        initial="png",
        required=False,
    )

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        return {
            "generation_type": "reframe_image",
            "model": data.get("model") or "photon-1",
            "prompt": data.get("prompt") or None,
            "media": refs.get("media"),
            "aspect_ratio": data.get("aspect_ratio") or "9:16",
            "format": data.get("format") or None,
        }


class DreamReframeVideoForm(_SourceForm):
    KIND = "video_reframe"
    MODE = "dm_reframe_video"
    LABEL = "Reframe video"
    SOURCE = Slot("media", "video", "media", label="Video to reframe")
    SLOTS = (SOURCE,)
    PLACEHOLDER = "Optional: what fills the new parts of the frame"

    model = forms.ChoiceField(
        choices=labelled_choices(schema.VIDEO_MODELS, MODEL_LABELS), required=False
    )
    aspect_ratio = forms.ChoiceField(
        choices=labelled_choices(schema.ASPECT_RATIOS), initial="9:16", required=False
    )

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        return {
            "generation_type": "reframe_video",
            "model": data.get("model") or "ray-2",
            "prompt": data.get("prompt") or None,
            "media": refs.get("media"),
            "aspect_ratio": data.get("aspect_ratio") or "9:16",
        }


class DreamModifyForm(_SourceForm):
    INHERITS = ()
    KIND = "video_edit"
    MODE = "dm_modify"
    LABEL = "Modify video"
    SOURCE = Slot("media", "video", "media", label="Video to modify")
    SLOTS = (SOURCE,)
    PLACEHOLDER = "How should it look? (for example: as a watercolour)"

    model = forms.ChoiceField(
        choices=labelled_choices(schema.VIDEO_MODELS, MODEL_LABELS), required=False
    )
    strength = forms.ChoiceField(
        choices=labelled_choices(schema.MODIFY_MODES, STRENGTH_LABELS),
        initial="flex_1",
        required=False,
        label="How far to go",
    )

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        return {
            "generation_type": "modify_video",
            "model": data.get("model") or "ray-2",
            "prompt": data.get("prompt") or None,
            "media": refs.get("media"),
            "mode": data.get("strength") or "flex_1",
        }


class _ChainedForm(DreamForm):
    """A job on a finished Dream Machine video, named by its id."""

    SOURCE = Slot("source", "video", "source", label="Video")
    SLOTS = (SOURCE,)
    GALLERY_ONLY = ("source",)
    NEEDS = ("source",)
    FIELD_FOR_PATH = {
        "prompt": "prompt",
        "negative_prompt": "negative_prompt",
        "resolution": "resolution",
        "generation_id": "source_pick",
    }

    def missing_media(self, slot: Slot) -> tuple[str, str]:
        return (
            f"{slot.name}_pick",
            "Pick the video from the gallery: a finished Dream Machine video.",
        )

    def source_id(self, refs: dict[str, Any]) -> str:
        return str((refs.get("source") or {}).get("id") or "")


class DreamUpscaleForm(_ChainedForm):
    INHERITS = ()
    KIND = "video_edit"
    MODE = "dm_upscale"
    LABEL = "Upscale"
    PLACEHOLDER = "Nothing to write: pick a resolution"

    resolution = forms.ChoiceField(
        choices=labelled_choices(("1080p", "4k")), initial="1080p", required=False
    )

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        return {
            "generation_type": "upscale_video",
            "generation_id": self.source_id(refs),
            "resolution": data.get("resolution") or None,
        }


class DreamAudioForm(_ChainedForm):
    INHERITS = ()
    KIND = "video_edit"
    MODE = "dm_audio"
    LABEL = "Add audio"
    PLACEHOLDER = "The sound you want (for example: waves and gulls)"

    negative_prompt = forms.CharField(
        required=False, max_length=schema.PROMPT_MAX, label="Not this (negative prompt)"
    )

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        return {
            "generation_type": "add_audio",
            "generation_id": self.source_id(refs),
            "prompt": data.get("prompt") or None,
            "negative_prompt": data.get("negative_prompt") or None,
        }


DREAM_FORMS: dict[str, type[CreateForm]] = {
    form.MODE: form
    for form in (
        DreamVideoForm,
        DreamImageForm,
        DreamReframeImageForm,
        DreamReframeVideoForm,
        DreamModifyForm,
        DreamUpscaleForm,
        DreamAudioForm,
    )
}
# The mode that remakes a request of each type (Remix).
MODE_FOR_TYPE = {
    "video": "dm_video",
    "image": "dm_image",
    "reframe_image": "dm_reframe_image",
    "reframe_video": "dm_reframe_video",
    "modify_video": "dm_modify",
    "upscale_video": "dm_upscale",
    "add_audio": "dm_audio",
}
