"""Template filters for the gallery: safe media addresses, human labels, elapsed time."""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from generations.gallery import KIND_LABELS
from generations.models import Generation, Output, State, media_url

register = template.Library()


@register.filter
def media_src(output: Output | None, rendition: str = "original") -> str:
    """Our copy, or a presigned URL that is not about to die, or "" (see Output.src)."""
    return output.src(rendition) if output else ""


@register.filter
def needs_refresh(generation: Generation) -> bool:
    """A completed job with an output that has neither our copy nor a fresh URL."""
    if generation.state != State.COMPLETED:
        return False
    return any(output.needs_refresh for output in generation.outputs.all())


@register.filter
def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


@register.filter
def elapsed(generation: Generation) -> str:
    """How long an unfinished job has been going ("8 s", "2 min 5 s", "1 h 4 min"), as a
    `<time>` the browser keeps ticking from its start (static/js/app.js formats it the same)."""
    started = generation.submitted_at or generation.created_at
    seconds = max(0, int((timezone.now() - started).total_seconds()))
    if seconds < 60:
        text = f"{seconds} s"
    elif seconds < 3600:
        text = f"{seconds // 60} min {seconds % 60} s"
    else:
        text = f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return format_html('<time class="elapsed" data-since="{}">{}</time>', started.isoformat(), text)


@register.filter
def stored_url(name: str) -> str:
    """The protected address of a file in our storage."""
    return media_url(name) if name else ""


@register.filter
def ago(moment: datetime) -> str:
    """ "just now", "5 min ago", "3 h ago", "2 days ago", then the date."""
    seconds = int((timezone.now() - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    if seconds < 7 * 86400:
        days = seconds // 86400
        return f"{days} day{'s' if days > 1 else ''} ago"
    return date_format(timezone.localtime(moment), "j M Y")
