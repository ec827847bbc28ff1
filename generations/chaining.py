"""What can be made from a finished piece (the chain links on its page), and whether a new job
really was made from the piece its form names as its parent."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from generations import providers
from generations.models import Generation, Lineage, State

IMAGE_KINDS = ("image", "image_edit")
VIDEO_KINDS = ("video", "video_edit", "video_reframe")


@dataclass(frozen=True)
class ChainAction:
    label: str
    url: str
    hint: str


@dataclass(frozen=True)
class Link:
    """One way to make something new from a finished piece: which form, which slot it fills."""

    label: str
    mode: str
    role: str
    lineage: str
    hint: str
    from_kinds: tuple[str, ...]


LINKS = (
    Link("Edit", "image_edit", "source", Lineage.EDIT, "Change it with a prompt", IMAGE_KINDS),
    Link("Animate", "video", "start_frame", Lineage.ANIMATE, "A video that starts here",
         IMAGE_KINDS),
    Link("Use as end frame", "video", "end_frame", Lineage.ANIMATE, "A video that ends here",
         IMAGE_KINDS),
    Link("Split into layers", "layering", "source", Lineage.LAYERS,
         "Separate subject and background", IMAGE_KINDS),
    Link("Extend", "video", "start_frame", Lineage.EXTEND, "Continue from its last frame",
         VIDEO_KINDS),
    Link("Edit video", "video_edit", "source", Lineage.EDIT, "Restyle or change it", VIDEO_KINDS),
    Link("Reframe", "video_reframe", "source", Lineage.REFRAME, "Another aspect ratio",
         VIDEO_KINDS),
)  # fmt: skip


def _link(generation: Generation, link: Link) -> str:
    query = {"mode": link.mode, "from": generation.uuid, "as": link.role, "lineage": link.lineage}
    return f"{reverse('home')}?{urlencode(query)}#create-form"


def chain_actions(generation: Generation) -> list[ChainAction]:
    """The actions that make something new from this piece; Remix for any finished request."""
    actions: list[ChainAction] = []
    if generation.state == State.COMPLETED:
        actions += [
            ChainAction(link.label, _link(generation, link), link.hint)
            for link in LINKS
            if generation.kind in link.from_kinds
        ]
    remix = f"{reverse('home')}?{urlencode({'mode': generation.kind, 'remix': generation.uuid})}"
    actions.append(ChainAction("Remix", f"{remix}#create-form", "The same request, to adjust"))
    return actions


def fits(
    parent: Generation, mode: str, lineage: str, request: dict[str, Any], provider: str
) -> bool:
    """Whether a job of `mode` with this request may be recorded as `lineage` of `parent`.

    A retry is made only by retry.py, never from a form. A remix is another request of the same
    kind. Any other link is one of LINKS from a finished piece of the right kind, which the
    request really uses (by its upstream id).
    """
    if parent.deleted_at is not None or lineage == Lineage.RETRY:
        return False
    if lineage in ("", Lineage.REMIX):
        return parent.kind == mode
    if parent.state != State.COMPLETED or not parent.upstream_id:
        return False
    if not any(
        link.mode == mode and link.lineage == lineage and parent.kind in link.from_kinds
        for link in LINKS
    ):
        return False
    refs = providers.references(provider, request)
    return any(ref.get("generation_id") == parent.upstream_id for _, ref in refs)
