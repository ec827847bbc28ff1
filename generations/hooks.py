"""Upstream notifications: a per-job signed URL an upstream calls when the job's state changes.

A notification is only a hint that there is news: it makes the worker poll the job now, and its
body is kept in the job's events as received, never taken as the job's state (anybody who
learns the URL could send anything). Generic over providers: any that takes a callback URL
(`Capabilities.callbacks`) gives `hook_url(generation)`; hooks exist only when
`LUMAWEB_PUBLIC_URL` says where the upstream can reach the studio.
"""

import json
from datetime import timedelta

from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from generations.models import UPSTREAM_ACTIVE_STATES, EventKind, Generation
from generations.public import public_base
from generations.tasks import schedule_poll

SALT = "lumaweb.hooks"
# What is kept of a notification's body in the job's events.
MAX_KEPT_BYTES = 64 * 1024
# A notification brings a poll no sooner than this after the last one: a flood of them cannot
# turn into a flood of calls upstream.
MIN_POLL_GAP = 1.0


def hook_url(generation: Generation) -> str | None:
    """The job's own signed notification URL, or None when the studio has no public address."""
    base = public_base()
    if not base:
        return None
    token = signing.Signer(salt=SALT).sign(str(generation.uuid))
    return base + reverse("upstream-hook", args=[token])


@csrf_exempt
@login_not_required
def hook(request: HttpRequest, token: str) -> JsonResponse:
    """An upstream's notification: poll the job now (never more than one poll in MIN_POLL_GAP)."""
    if request.method not in ("POST", "PUT", "GET"):
        return JsonResponse({"detail": "Method not allowed."}, status=405)
    try:
        uuid = signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return JsonResponse({"detail": "This hook's signature does not match."}, status=403)
    generation = Generation.objects.filter(uuid=uuid).first()
    if generation is None:
        return JsonResponse({"detail": "No such job."}, status=404)
    generation.log(EventKind.HOOK, data=_kept(request))
    # 200: some upstreams (Dream Machine) count nothing else as delivered, and try again.
    return JsonResponse({"polling": _hasten(generation)})


def _hasten(generation: Generation) -> bool:
    """Make the job's next poll due now, or when MIN_POLL_GAP after its last poll ends.

    A notification often comes just after a poll that still saw the job running (Dream Machine
    calls back the moment a job finishes): kept for the end of the gap, its news shows within a
    second, where dropping it left the job to its next regular poll. The update holds only
    while the job's last poll is the one the time was worked out from; one taken meanwhile
    moves it, and the time is worked out again.
    """
    gap = timedelta(seconds=MIN_POLL_GAP)
    for _ in range(2):
        last = generation.last_polled_at
        due = timezone.now() if last is None else max(timezone.now(), last + gap)
        polled_then = Q(last_polled_at__isnull=True) if last is None else Q(last_polled_at=last)
        if Generation.objects.filter(
            polled_then, pk=generation.pk, state__in=UPSTREAM_ACTIVE_STATES, next_poll_at__gt=due
        ).update(next_poll_at=due):
            schedule_poll(generation, due)
            return True
        generation.refresh_from_db(fields=["last_polled_at"])
        if generation.last_polled_at == last:
            return False  # already due as soon, or finished
    return False


def _kept(request: HttpRequest) -> dict[str, object]:
    """The notification as received (its body as JSON when it is, else as text), bounded."""
    body = request.body[:MAX_KEPT_BYTES]
    try:
        payload: object = json.loads(body) if body else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = body.decode(errors="replace")
    return {
        "method": request.method,
        "payload": payload,
        "truncated": len(request.body) > len(body),
    }
