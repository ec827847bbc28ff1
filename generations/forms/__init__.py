"""Forms for the six kinds of job, built on the upstream schema (see `base` for how)."""

from generations.forms.base import MODES, CreateForm, OptionRow, Slot, option_rows
from generations.forms.modes import (
    MODE_FORMS,
    ImageEditForm,
    ImageForm,
    LayersForm,
    ReframeForm,
    VideoEditForm,
    VideoForm,
)

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
