"""Links the studio hands to an upstream: an upload's public URL, a job's callback hook.

Some upstreams (Dream Machine) only take inputs by URL and report progress by calling a URL.
Both need LUMAWEB_PUBLIC_URL, the address the upstream reaches the studio at (in demo mode the
studio's own). Each link is signed and names exactly one thing: an input link serves that one
upload, until it expires; a hook only makes the worker poll that one job now (its body is
unsigned upstream, so it is never read as truth).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from generations.models import UPSTREAM_ACTIVE_STATES, Generation, Input

INPUT_SALT = "lumaweb.public-input"
HOOK_SALT = "lumaweb.job-hook"


class NoPublicUrl(Exception):
    """LUMAWEB_PUBLIC_URL is not set: the upstream cannot reach the studio's uploads."""


def available() -> bool:
    """Whether the studio can give the upstream links to itself."""
    return bool(settings.LUMAWEB_PUBLIC_URL)


def input_url(item: Input) -> str:
    """A link the upstream can fetch this one upload from: presigned on S3, else a signed,
    expiring link to the studio; raises NoPublicUrl when neither is possible."""
    if not isinstance(item.file.storage, FileSystemStorage):
        return str(item.file.url)  # object storage presigns its own links
    if not available():
        raise NoPublicUrl("LUMAWEB_PUBLIC_URL is not set, so uploads cannot be sent upstream.")
    token = signing.dumps(str(item.uuid), salt=INPUT_SALT, compress=True)
    return settings.LUMAWEB_PUBLIC_URL + reverse("public-input", args=[token])


def hook_url(generation: Generation) -> str | None:
    """The job's callback hook, or None when the upstream cannot reach the studio."""
    if not available():
        return None
    token = signing.dumps(str(generation.uuid), salt=HOOK_SALT, compress=True)
    return settings.LUMAWEB_PUBLIC_URL + reverse("job-hook", args=[token])


@login_not_required
@require_GET
def public_input(request: HttpRequest, token: str) -> HttpResponse:
    """One upload, to whoever holds its unexpired signed link (the upstream)."""
    try:
        key = signing.loads(token, salt=INPUT_SALT, max_age=settings.LUMAWEB_PUBLIC_INPUT_TTL)
    except signing.BadSignature:
        return HttpResponse("This link is invalid or has expired.", status=404)
    item = Input.objects.filter(uuid=key).first()
    if item is None:
        return HttpResponse("This input is gone.", status=404)
    response = FileResponse(item.file.open("rb"), content_type=item.mime_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@csrf_exempt
@login_not_required
@require_POST
def job_hook(request: HttpRequest, token: str) -> HttpResponse:
    """An upstream's word that a job moved: poll it now (the body is ignored, never trusted)."""
    from generations.tasks import schedule_poll

    try:
        key = signing.loads(token, salt=HOOK_SALT)
    except signing.BadSignature:
        return HttpResponse("Unknown hook.", status=404)
    now = timezone.now()
    due = Generation.objects.filter(
        uuid=key, state__in=UPSTREAM_ACTIVE_STATES, upstream_id__isnull=False
    )
    generation = due.first()
    if generation is not None and due.filter(next_poll_at__gt=now).update(next_poll_at=now):
        generation.next_poll_at = now
        schedule_poll(generation, now)
    return HttpResponse("ok")
