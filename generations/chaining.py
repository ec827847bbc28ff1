"""What can be made from a finished piece: the chain links on its page."""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse

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


def _dream_actions(generation: Generation) -> list[ChainAction]:
    """What Dream Machine can make from one of its own pieces, then Remix."""
    from generations.forms.dream_machine import MODE_FOR_TYPE

    actions: list[ChainAction] = []
    done = generation.state == State.COMPLETED
    if done and generation.kind in IMAGE_KINDS:
        actions += [
            ChainAction("Reframe", _link(generation, "dm_reframe_image", "media",
                        Lineage.REFRAME), "Another aspect ratio"),
            ChainAction("Modify", _link(generation, "dm_image", "modify_image_ref", Lineage.EDIT),
                        "A new image from this one"),
        ]  # fmt: skip
    if done and generation.kind in VIDEO_KINDS:
        actions += [
            ChainAction("Upscale", _link(generation, "dm_upscale", "source", Lineage.EDIT),
                        "To 1080p or 4K"),
            ChainAction("Add audio", _link(generation, "dm_audio", "source", Lineage.EDIT),
                        "A soundtrack from a prompt"),
            ChainAction("Extend", _link(generation, "dm_video", "frame0", Lineage.EXTEND),
                        "Continue from its last frame"),
            ChainAction("Reverse extend", _link(generation, "dm_video", "frame1",
                        Lineage.EXTEND), "What came before it"),
            ChainAction("Reframe", _link(generation, "dm_reframe_video", "media",
                        Lineage.REFRAME), "Another aspect ratio"),
            ChainAction("Modify", _link(generation, "dm_modify", "media", Lineage.EDIT),
                        "Restyle it"),
        ]  # fmt: skip
    mode = MODE_FOR_TYPE.get(str(generation.request.get("generation_type")), "dm_video")
    remix = f"{reverse('home')}?{urlencode({'mode': mode, 'remix': generation.uuid})}"
    actions.append(ChainAction("Remix", f"{remix}#create-form", "The same request, to adjust"))
    return actions


def chain_actions(generation: Generation) -> list[ChainAction]:
    """The actions that make something new from this piece; Remix for any finished request."""
    if generation.provider == "dream_machine":
        return _dream_actions(generation)
    actions: list[ChainAction] = []
    if generation.state == State.COMPLETED and generation.kind in IMAGE_KINDS:
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
    if generation.state == State.COMPLETED and generation.kind in VIDEO_KINDS:
        actions += [
            ChainAction("Extend", _link(generation, "video", "start_frame", Lineage.EXTEND),
                        "Continue from its last frame"),
            ChainAction("Edit video", _link(generation, "video_edit", "source", Lineage.EDIT),
                        "Restyle or change it"),
            ChainAction("Reframe", _link(generation, "video_reframe", "source", Lineage.REFRAME),
                        "Another aspect ratio"),
        ]  # fmt: skip
    remix = f"{reverse('home')}?{urlencode({'mode': generation.kind, 'remix': generation.uuid})}"
    actions.append(ChainAction("Remix", f"{remix}#create-form", "The same request, to adjust"))
    return actions
