"""What can be made from a finished piece (the chain links on its page), and whether a new job
really was made from the piece its form names as its parent."""

import math
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

from django.conf import settings
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
    """One way to make something new from a finished piece: which form, which slot it fills.

    `provider` is the upstream of the form the link opens; it is offered only while that one is
    on, and `{upstream}` in its label is that provider's name. `from_providers` are the upstreams
    whose pieces the form can take (an Agents request names a piece by its Agents id); None: any
    (a gateway takes an image by its URL).
    """

    label: str
    mode: str
    role: str
    lineage: str
    hint: str
    from_kinds: tuple[str, ...]
    provider: str = "agents"
    from_providers: tuple[str, ...] | None = ("agents",)


# A reference guides a new image without being its parent: no lineage.
REFERENCE = Link("Use as reference", "image", "image_ref", "", "Guide a new image by this one",
                 IMAGE_KINDS)  # fmt: skip

LINKS = (
    Link("Edit", "image_edit", "source", Lineage.EDIT, "Change it with a prompt", IMAGE_KINDS),
    REFERENCE,
    Link("Animate", "video", "start_frame", Lineage.ANIMATE, "A video that starts here",
         IMAGE_KINDS),
    Link("Use as end frame", "video", "end_frame", Lineage.ANIMATE, "A video that ends here",
         IMAGE_KINDS),
    Link("Split into layers", "layering", "source", Lineage.LAYERS,
         "Separate subject and background", IMAGE_KINDS),
    Link("Animate via {upstream}", "proxy", "image_url", Lineage.ANIMATE,
         "A gateway video that starts here", IMAGE_KINDS, "proxy", None),
    Link("End frame via {upstream}", "proxy", "image_end_url", Lineage.ANIMATE,
         "A gateway video that ends here", IMAGE_KINDS, "proxy", None),
    Link("Extend", "video", "start_frame", Lineage.EXTEND, "Continue from its last frame",
         VIDEO_KINDS),
    Link("Edit video", "video_edit", "source", Lineage.EDIT, "Restyle or change it", VIDEO_KINDS),
    Link("Reframe", "video_reframe", "source", Lineage.REFRAME, "Another aspect ratio",
         VIDEO_KINDS),
    # Dream Machine's own pieces, by their Dream Machine id or their output's URL.
    Link("Reframe", "dm_reframe_image", "media", Lineage.REFRAME, "Another aspect ratio",
         IMAGE_KINDS, "dream_machine", ("dream_machine",)),
    Link("Modify", "dm_image", "modify_image_ref", Lineage.EDIT, "A new image from this one",
         IMAGE_KINDS, "dream_machine", ("dream_machine",)),
    Link("Upscale", "dm_upscale", "source", Lineage.EDIT, "To 1080p or 4K", VIDEO_KINDS,
         "dream_machine", ("dream_machine",)),
    Link("Add audio", "dm_audio", "source", Lineage.EDIT, "A soundtrack from a prompt",
         VIDEO_KINDS, "dream_machine", ("dream_machine",)),
    Link("Extend", "dm_video", "frame0", Lineage.EXTEND, "Continue from its last frame",
         VIDEO_KINDS, "dream_machine", ("dream_machine",)),
    Link("Reverse extend", "dm_video", "frame1", Lineage.EXTEND, "What came before it",
         VIDEO_KINDS, "dream_machine", ("dream_machine",)),
    Link("Reframe", "dm_reframe_video", "media", Lineage.REFRAME, "Another aspect ratio",
         VIDEO_KINDS, "dream_machine", ("dream_machine",)),
    Link("Modify", "dm_modify", "media", Lineage.EDIT, "Restyle it", VIDEO_KINDS,
         "dream_machine", ("dream_machine",)),
)  # fmt: skip


def _takes(link: Link, piece: Generation) -> bool:
    """Whether the link's form takes this piece in its slot."""
    return piece.kind in link.from_kinds and (
        link.from_providers is None or piece.provider in link.from_providers
    )


def _link(generation: Generation, link: Link) -> str:
    query = {"mode": link.mode, "from": generation.uuid, "as": link.role}
    if link.lineage:
        query["lineage"] = link.lineage
    return f"{reverse('home')}?{urlencode(query)}#create-form"


def reference_url(generation: Generation) -> str:
    """Where "Use as reference" on a card leads (the studio with the piece picked), or ""."""
    usable = generation.state == State.COMPLETED and _takes(REFERENCE, generation)
    on = REFERENCE.provider in settings.LUMA_PROVIDERS
    return _link(generation, REFERENCE) if usable and on else ""


def chain_actions(generation: Generation, remix_mode: str) -> list[ChainAction]:
    """The actions that make something new from this piece; Remix (in `remix_mode`, the form
    that made it) for any finished request."""
    actions: list[ChainAction] = []
    if generation.state == State.COMPLETED:
        for link in LINKS:
            if _takes(link, generation) and link.provider in settings.LUMA_PROVIDERS:
                label = link.label.format(upstream=providers.get(link.provider).display_name)
                actions.append(ChainAction(label, _link(generation, link), link.hint))
    query = urlencode({"mode": remix_mode, "remix": generation.uuid})
    remix = f"{reverse('home')}?{query}"
    actions.append(ChainAction("Remix", f"{remix}#create-form", "The same request, to adjust"))
    return actions


def inherited(parent: Generation, fields: dict[str, Any], takes: tuple[str, ...]) -> dict[str, Any]:
    """What a chain link's form starts with from its source, of what it `takes`: the source's
    prompt, and its aspect ratio or the nearest one the form offers (none where the form offers
    "same as the source", its empty choice)."""
    initial: dict[str, Any] = {}
    if "prompt" in takes and parent.prompt:
        initial["prompt"] = parent.prompt
    field = fields.get("aspect_ratio") if "aspect_ratio" in takes else None
    offered = [str(value) for value, _ in getattr(field, "choices", [])]
    wanted = _ratio(parent.aspect_ratio)
    if wanted is not None and offered and "" not in offered:
        sized = [(abs(math.log(ratio / wanted)), value)
                 for value in offered if (ratio := _ratio(value)) is not None]  # fmt: skip
        if sized:
            initial["aspect_ratio"] = min(sized)[1]
    return initial


def _ratio(value: str) -> float | None:
    """ "9:16" as 0.5625; None for anything else."""
    width, _, height = (value or "").partition(":")
    try:
        ratio = float(width) / float(height)
    except (ValueError, ZeroDivisionError):
        return None
    return ratio if ratio > 0 else None


class Made(Protocol):
    """What a create form says of the jobs it makes (generations.forms.CreateForm)."""

    MODE: str
    KIND: str
    PROVIDER: str


def fits(parent: Generation, form: Made, lineage: str, request: dict[str, Any]) -> bool:
    """Whether a job of `form` with this request may be recorded as `lineage` of `parent`.

    A retry is made only by retry.py, never from a form. A remix is another request of the same
    kind. Any other link is one of LINKS from a finished piece of the right kind, which the
    request really uses (by its upstream id).
    """
    if parent.deleted_at is not None or lineage == Lineage.RETRY:
        return False
    if lineage in ("", Lineage.REMIX):
        return parent.kind == form.KIND
    if parent.state != State.COMPLETED or not parent.upstream_id:
        return False
    if not any(
        link.mode == form.MODE and link.lineage == lineage and _takes(link, parent)
        for link in LINKS
    ):
        return False
    refs = providers.references(form.PROVIDER, request)
    urls = {output.url for output in parent.outputs.all()}
    return any(
        ref.get("generation_id") == parent.upstream_id or ref.get("url") in urls for _, ref in refs
    )
