"""Forms that turn what a person typed into the upstream schema, and its errors back onto fields.

No rule of the API is written here: the schema validates, the form only maps its messages.
"""

import secrets
from typing import Any

from django import forms
from pydantic import ValidationError

from generations.luma import schema

MODEL_LABELS = {"uni-1": "uni-1 (fast)", "uni-1-max": "uni-1-max (best quality)"}


class ImageForm(forms.Form):
    """Text to image: the home page's quick form."""

    prompt = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "Describe the image…", "data-counter": "prompt"}
        ),
        strip=False,
        # The schema refuses an empty prompt with its own message.
        required=False,
    )
    model = forms.ChoiceField(
        choices=[(m, MODEL_LABELS[m]) for m in ("uni-1", "uni-1-max")], initial="uni-1"
    )
    aspect_ratio = forms.ChoiceField(choices=[(r, r) for r in schema.ASPECT_RATIOS], initial="16:9")
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    # Where each schema path shows its message on this form.
    FIELD_FOR_PATH = {"prompt": "prompt", "model": "model", "aspect_ratio": "aspect_ratio"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["idempotency_key"] = secrets.token_urlsafe(24)
        self.fields["prompt"].widget.attrs["data-max"] = schema.PROMPT_MAX
        self.upstream_request: schema.GenerationRequest | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.upstream_request = schema.GenerationRequest(
                prompt=data.get("prompt") or "",
                type="image",
                model=data["model"],
                aspect_ratio=data["aspect_ratio"],
            )
        except ValidationError as exc:
            for path, messages in schema.field_errors(exc).items():
                field = self.FIELD_FOR_PATH.get(path)
                for message in messages:
                    self.add_error(field, message)
        return data
