"""Words a card says that depend on the clock: "5 min ago", "2 min 5 s" (shared by the card
templates and the card cache's keys, generations/cards.py)."""

from datetime import datetime

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

from generations.models import Generation


def elapsed(generation: Generation) -> SafeString:
    """How long an unfinished job has been going ("8 s", "2 min 5 s", "1 h 4 min", "3 d 4 h"), as a
    `<time>` the browser keeps ticking from its start (static/js/app.js formats it the same)."""
    return elapsed_since(generation.created_at, generation.submitted_at)


def elapsed_since(created_at: datetime, submitted_at: datetime | None) -> SafeString:
    """`elapsed` from a job's times: it started when it was sent, or else when it was made."""
    started = submitted_at or created_at
    seconds = max(0, int((timezone.now() - started).total_seconds()))
    if seconds < 60:
        text = f"{seconds} s"
    elif seconds < 3600:
        text = f"{seconds // 60} min {seconds % 60} s"
    elif seconds < 86400:
        text = f"{seconds // 3600} h {seconds % 3600 // 60} min"
    else:
        text = f"{seconds // 86400} d {seconds % 86400 // 3600} h"
    return format_html('<time class="elapsed" data-since="{}">{}</time>', started.isoformat(), text)


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
