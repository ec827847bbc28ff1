"""What can be made from a finished piece: the chain links on its page."""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from generations import providers
from generations.forms import MODE_FORMS
from generations.models import Generation, Lineage, State

IMAGE_KINDS = ("image", "image_edit")
VIDEO_KINDS = ("video", "video_edit", "video_reframe")


@dataclass(frozen=True)
class ChainAction:
    label: str
    url: str
    hint: str


def _link(generation: Generation, mode: str, role: str, lineage: str) -> str:
    query = {"mode": mode, "from": generation.uuid, "as": role, "lineage": lineage}
    return f"{reverse('home')}?{urlencode(query)}#create-form"


def remix_mode(generation: Generation) -> str:
    """The creation mode that made this job: its provider's form for its kind."""
    for mode, form in MODE_FORMS.items():
        if generation.provider == form.PROVIDER and generation.kind == form.KIND:
            return mode
    return generation.kind


def chain_actions(generation: Generation) -> list[ChainAction]:
    """The actions that make something new from this piece; Remix for any finished request."""
    actions: list[ChainAction] = []
    # Agents requests name a piece by its Agents id: only the Agents API's own pieces chain there.
    agents = generation.provider == "agents"
    if generation.state == State.COMPLETED and generation.kind in IMAGE_KINDS and agents:
        actions += [
            ChainAction("Edit", _link(generation, "image_edit", "source", Lineage.EDIT),
                        "Change it with a prompt"),
            ChainAction("Animate", _link(generation, "video", "start_frame", Lineage.ANIMATE),
                        "A video that starts here"),
            ChainAction("Use as end frame", _link(generation, "video", "end_frame",
                        Lineage.ANIMATE), "A video that ends here"),
            ChainAction("Split into layers", _link(generation, "layering", "source",
                        Lineage.LAYERS), "Separate subject and background"),
        ]  # fmt: skip
    proxy_on = "proxy" in settings.LUMA_PROVIDERS
    if generation.state == State.COMPLETED and generation.kind in IMAGE_KINDS and proxy_on:
        gateway = providers.get("proxy").display_name
        actions += [
            ChainAction(f"Animate via {gateway}", _link(generation, "proxy", "image_url",
                        Lineage.ANIMATE), "A gateway video that starts here"),
            ChainAction(f"End frame via {gateway}", _link(generation, "proxy", "image_end_url",
                        Lineage.ANIMATE), "A gateway video that ends here"),
        ]  # fmt: skip
    if generation.state == State.COMPLETED and generation.kind in VIDEO_KINDS and agents:
        actions += [
            ChainAction("Extend", _link(generation, "video", "start_frame", Lineage.EXTEND),
                        "Continue from its last frame"),
            ChainAction("Edit video", _link(generation, "video_edit", "source", Lineage.EDIT),
                        "Restyle or change it"),
            ChainAction("Reframe", _link(generation, "video_reframe", "source", Lineage.REFRAME),
                        "Another aspect ratio"),
        ]  # fmt: skip
    remix = (
        f"{reverse('home')}?{urlencode({'mode': remix_mode(generation), 'remix': generation.uuid})}"
    )
    actions.append(ChainAction("Remix", f"{remix}#create-form", "The same request, to adjust"))
    return actions
