"""Upstream notifications: a per-job signed URL an upstream calls when the job's state changes.

A notification is only a hint that there is news: the job is polled at once, before the
notification is answered, and its body is kept in the job's events as received, never taken as
the job's state (anybody who learns the URL could send anything). Generic over providers: any
that takes a callback URL (`Capabilities.callbacks`) gives `hook_url(generation)`; hooks exist
only when `LUMAWEB_PUBLIC_URL` says where the upstream can reach the studio.
"""

import json
import math
from datetime import datetime, timedelta

from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from generations import providers
from generations.models import UPSTREAM_ACTIVE_STATES, EventKind, Generation
from generations.providers.http import storable
from generations.public import public_base
from generations.tasks import poll_once, schedule_poll

SALT = "lumaweb.hooks"
# What is kept of a notification's body in the job's events.
MAX_KEPT_BYTES = 64 * 1024
# How many of a job's notifications are kept in its events (a job sees a handful: anyone who
# found its hook could otherwise grow the database without end).
MAX_KEPT_CALLS = 20
# A job's notifications bring at most one poll here in this time, and one by the worker at its
# end: a flood of them cannot turn into a flood of calls upstream.
MIN_POLL_GAP = 1.0
# The poll a notification brings is made before it is answered, so it must end well within the
# upstream's own wait for that answer (Dream Machine's: 5 s); one that does not is the worker's.
HOOK_POLL_OPTIONS = {"connect_timeout": 1.0, "read_timeout": 2.5, "max_retries": 0}


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
    """An upstream's notification: poll the job now, here, so that its news is on the page at
    the page's next poll; one within MIN_POLL_GAP of the job's last notification makes the
    worker's poll due when the gap ends instead. One for a job still being sent (no id to poll
    by yet) is kept, and the worker polls at once when the id is stored (tasks.submit_generation).
    """
    if request.method not in ("POST", "PUT", "GET"):
        return JsonResponse({"detail": "Method not allowed."}, status=405)
    try:
        uuid = signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return JsonResponse({"detail": "This hook's signature does not match."}, status=403)
    generation = Generation.objects.filter(uuid=uuid).first()
    if generation is None:
        return JsonResponse({"detail": "No such job."}, status=404)
    hooks = generation.events.filter(kind=EventKind.HOOK).order_by("-at", "-id")
    kept = list(hooks.values_list("pk", "at")[:MAX_KEPT_CALLS])
    last = kept[0][1] if kept else None
    if len(kept) < MAX_KEPT_CALLS:
        generation.log(EventKind.HOOK, data=_kept(request))
    else:  # the newest takes the place of the last kept: the gap below counts from it
        hooks.filter(pk=kept[0][0]).update(at=timezone.now(), data=_kept(request))
    # Read again now that the news is kept: the worker may have stored the job's id since. It
    # looks for kept news only after storing the id, so one of the two sees the other.
    generation.refresh_from_db()
    now = timezone.now()
    gap_ends = last + timedelta(seconds=MIN_POLL_GAP) if last else None
    if gap_ends and gap_ends > now:
        polling = _poll_at(generation, gap_ends)  # the end of the gap, by the worker
    elif polling := _poll_at(generation, now):
        _poll_here(generation, now)
    # 200: some upstreams (Dream Machine) count nothing else as delivered, and try again.
    return JsonResponse({"polling": polling})


def _poll_at(generation: Generation, due: datetime) -> bool:
    """Make the unfinished job's next poll due at `due` when it was due later, and queue it for
    the worker; False when it was due as soon already, or the job is finished."""
    sooner = Generation.objects.filter(
        pk=generation.pk, state__in=UPSTREAM_ACTIVE_STATES, next_poll_at__gt=due
    )
    if not generation.upstream_id or not sooner.update(next_poll_at=due):
        return False
    schedule_poll(generation, due)
    return True


def _poll_here(generation: Generation, due: datetime) -> None:
    """Take the poll just made due at `due` (`_poll_at`) here, at once, whenever the job's last
    poll was: Dream Machine calls back the moment a job finishes, often just after a poll that
    still saw it running.

    The poll is the worker's own (`tasks.poll_once`): queued as well, it is done only once,
    here or by the worker if this request ends first. It waits on the upstream no longer than
    HOOK_POLL_OPTIONS allow and is not tried again here; an error is kept in the job's events
    and makes the worker's poll due at once (with its own timeouts and retries), unless the
    upstream said how long to wait.
    """
    try:
        provider = providers.get(generation.provider, **HOOK_POLL_OPTIONS)
    except providers.ProviderOff:
        return  # turned off since: the worker's poll says so in the job's events
    failed = poll_once(generation, due, provider)
    if failed is not None and not failed.retry_after:
        _poll_at(generation, timezone.now())


def _kept(request: HttpRequest) -> dict[str, object]:
    """The notification as received (its body as JSON when it is, else as text), bounded: no
    more of the body is read than is kept, however large it is."""
    read = request.read(MAX_KEPT_BYTES + 1)
    body = read[:MAX_KEPT_BYTES]
    try:
        payload: object = (
            json.loads(body, parse_constant=_finite, parse_float=_finite) if body else None
        )
        dumped = json.dumps(payload, ensure_ascii=False)
        if "\\u0000" in dumped or storable(dumped) != dumped:  # a NUL, a lone surrogate
            raise ValueError("not storable as JSON")
    except (ValueError, RecursionError):  # not JSON, or JSON no database column or page takes
        payload = storable(body.decode(errors="replace"))
    return {"method": request.method, "payload": payload, "truncated": len(read) > len(body)}


def _finite(number: str) -> float:
    """A number as Python reads it, unless it is NaN or infinite: NaN and Infinity, and a number
    too large for a float (1e999) that Python reads as infinity, are not JSON, and a JSON column
    refuses them."""
    value = float(number)
    if not math.isfinite(value):
        raise ValueError(f"{number} is not a finite number")
    return value
