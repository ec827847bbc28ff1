"""The video form of a reseller's gateway (the "Luma proxy" dialect): only what it offers."""

from typing import Any

from django import forms

from generations.forms.base import (
    CreateForm,
    Slot,
    labelled_choices,
    true_or_none,
)
from generations.models import Generation
from generations.providers.proxy import schema


class ProxyVideoForm(CreateForm):
    KIND = "video"
    MODE = "proxy"
    LABEL = "Video"  # through a reseller's gateway: the page adds its name
    PROVIDER = "proxy"
    REQUEST = schema.ProxyRequest
    PICKS_FROM = None  # a piece goes as its archived file or its URL, whoever made it
    PROMPT_MAX = schema.PROMPT_MAX
    START = Slot("image_url", "image", "image_url", label="Start image", help="The first frame.")
    END = Slot("image_end_url", "image", "image_end_url", label="End image", help="The last frame.")
    SLOTS = (START, END)
    PLACEHOLDER = "Describe the shot: subject, motion, camera…"
    FIELD_FOR_PATH = {
        "user_prompt": "prompt",
        "expand_prompt": "expand_prompt",
        "aspect_ratio": "aspect_ratio",
        "loop": "loop",
        "image_url": "image_url",
        "image_end_url": "image_end_url",
    }

    aspect_ratio = forms.ChoiceField(
        choices=labelled_choices(schema.ASPECT_RATIOS), initial="16:9", required=False
    )
    expand_prompt = forms.BooleanField(required=False, label="Let the gateway improve my prompt")
    loop = forms.BooleanField(required=False, label="Loop the video end to end")

    def pick_ref(self, picked: Generation, slot: Slot) -> str:
        return f"{schema.PIECE_REFERENCE}{picked.uuid}"

    def upload_ref(self, placeholder: str, mime_type: str, slot: Slot) -> str:
        return placeholder

    @classmethod
    def initial_from(cls, generation: Generation, user: Any = None) -> dict[str, Any]:
        initial = super().initial_from(generation, user)
        for name in schema.IMAGE_FIELDS:
            value = str(generation.request.get(name) or "")
            if value.startswith(schema.PIECE_REFERENCE):
                initial[f"{name}_pick"] = value.removeprefix(schema.PIECE_REFERENCE)
        return initial

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        return {
            "user_prompt": data.get("prompt") or "",
            "expand_prompt": true_or_none(data.get("expand_prompt")),
            "aspect_ratio": data.get("aspect_ratio") or None,
            "loop": true_or_none(data.get("loop")),
            "image_url": refs.get("image_url"),
            "image_end_url": refs.get("image_end_url"),
        }
