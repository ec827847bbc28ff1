"""Template filters for the gallery: safe media addresses, human labels, elapsed time."""

from datetime import datetime

from django import template
from django.contrib.messages.storage.base import Message
from django.utils import timezone

from generations import trash
from generations.chaining import reference_url
from generations.models import Generation, Output, State, media_url
from generations.wording import ago, elapsed

register = template.Library()
register.filter("ago", ago)
register.filter("elapsed", elapsed)
register.filter("reference_url", reference_url)


@register.filter
def media_src(output: Output | None, rendition: str = "original") -> str:
    """Our copy, or a presigned URL that is not about to die, or "" (see Output.src)."""
    return output.src(rendition) if output else ""


@register.filter
def needs_refresh(generation: Generation) -> bool:
    """A completed job with an output that has neither our copy nor a fresh URL."""
    if generation.state != State.COMPLETED:
        return False
    return any(output.needs_refresh for output in generation.shown_outputs)


@register.filter
def datetime_attr(moment: datetime) -> str:
    """A `datetime` attribute's value: local time to the second (HTML allows no microseconds)."""
    return timezone.localtime(moment).replace(microsecond=0).isoformat()


@register.filter
def stored_url(name: str) -> str:
    """The protected address of a file in our storage."""
    return media_url(name) if name else ""


@register.filter
def undo_of(message: Message) -> trash.Undo | None:
    """The Undo a message offers (the delete tags its message so), or None."""
    return trash.undo_of(message.extra_tags)
