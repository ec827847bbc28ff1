"""Forms for every kind of job of every provider, built on its schema (see `base` for how)."""

from generations.forms.base import CreateForm, OptionRow, Slot, option_rows
from generations.forms.dream_machine import DREAM_FORMS
from generations.forms.modes import MODE_FORMS as AGENTS_FORMS
from generations.forms.modes import (
    ImageEditForm,
    ImageForm,
    LayersForm,
    ReframeForm,
    VideoEditForm,
    VideoForm,
)

MODE_FORMS: dict[str, type[CreateForm]] = {**AGENTS_FORMS, **DREAM_FORMS}
# Each mode's label in the studio's switch, from its form.
MODES = {mode: form.LABEL for mode, form in MODE_FORMS.items()}

__all__ = [
    "MODES",
    "MODE_FORMS",
    "CreateForm",
    "ImageEditForm",
    "ImageForm",
    "LayersForm",
    "OptionRow",
    "ReframeForm",
    "Slot",
    "VideoEditForm",
    "VideoForm",
    "option_rows",
]
