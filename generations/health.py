"""Operations endpoints: /healthz for load balancers, /metrics for Prometheus."""

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe
from django_tasks_db.models import DBTaskResult

from generations import providers
from generations.credits import balances
from generations.models import Generation, State, UpstreamCallCount, WorkerHeartbeat


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Database, worker and upstream status; 503 when the studio cannot do its job."""
    checks: dict[str, Any] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
        checks["worker"] = _worker_status()
    except DatabaseError:
        checks["database"] = "down"
        checks["worker"] = "unknown"
    checks["upstream"] = "simulator" if settings.LUMA_SIMULATOR else "luma"
    enabled = providers.enabled()
    checks["providers"] = {
        provider.name: "simulator" if provider.simulated else "configured" for provider in enabled
    }
    # What people here call each upstream (a reseller's gateway goes by its own name).
    checks["provider_names"] = {provider.name: provider.display_name for provider in enabled}
    healthy = checks["database"] == "ok" and checks["worker"] == "ok"
    checks["status"] = "ok" if healthy else "degraded"
    return JsonResponse(checks, status=200 if healthy else 503)


def _worker_status() -> str:
    """ "ok" when every task queue has a live worker: sends and polls wait on "default",
    archives on "bulk" (an output left unarchived is lost when its upstream link expires)."""
    unserved = WorkerHeartbeat.queues_unserved()
    if not unserved:
        return "ok"
    if len(unserved) == len(settings.TASK_QUEUES):
        return "down"
    return f"no worker takes the {' or '.join(unserved)} queue"


@login_not_required
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text: upstream calls, jobs by state, queue depth. Staff or a bearer token."""
    if not _may_read_metrics(request):
        raise PermissionDenied
    lines = [
        "# HELP lumaweb_upstream_requests_total Calls to the Luma API by endpoint and status.",
        "# TYPE lumaweb_upstream_requests_total counter",
    ]
    for call in UpstreamCallCount.objects.order_by("endpoint", "status"):
        lines.append(
            f'lumaweb_upstream_requests_total{{endpoint="{call.endpoint}",'
            f'status="{call.status}"}} {call.count}'
        )
    lines += ["# HELP lumaweb_jobs Jobs by state.", "# TYPE lumaweb_jobs gauge"]
    counts = dict(Generation.objects.values_list("state").annotate(n=Count("id")))
    for state in State:
        lines.append(f'lumaweb_jobs{{state="{state.value}"}} {counts.get(state.value, 0)}')
    lines += [
        "# HELP lumaweb_upstream_credit_cents An upstream account's balance in US cents.",
        "# TYPE lumaweb_upstream_credit_cents gauge",
        *(
            f'lumaweb_upstream_credit_cents{{provider="{b.provider}"}} {b.cents:g}'
            for b in balances()
        ),
        "# HELP lumaweb_task_queue_depth Tasks waiting for a worker, by queue.",
        "# TYPE lumaweb_task_queue_depth gauge",
        *(
            f'lumaweb_task_queue_depth{{queue="{queue}"}} {depth}'
            for queue, depth in _queue_depths().items()
        ),
        "# HELP lumaweb_workers_alive Workers with a recent heartbeat.",
        "# TYPE lumaweb_workers_alive gauge",
        f"lumaweb_workers_alive {WorkerHeartbeat.alive().count()}",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; version=0.0.4")


def _may_read_metrics(request: HttpRequest) -> bool:
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and constant_time_compare(given, token)


def _queue_depths() -> dict[str, int]:
    if settings.TASKS_BACKEND == "rq":
        import django_rq  # only installed as an app with the RQ backend

        return {queue: len(django_rq.get_queue(queue)) for queue in settings.TASK_QUEUES}
    ready = dict(
        DBTaskResult.objects.ready().values_list("queue_name").annotate(n=Count("id")).order_by()
    )
    return {queue: ready.get(queue, 0) for queue in settings.TASK_QUEUES}
