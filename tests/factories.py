"""Objects tests need, made one way: import from here, never from another test module."""

from typing import Any

from django.conf import settings
from django_tasks_db.models import DBTaskResult

from generations.simulators.api import owner_of
from generations.simulators.models import SimFault


def sim_fault(kind: str, *, token: str | None = None, **fields: Any) -> SimFault:
    """Queue a fault in the simulators for the calls made with `token` (default: the app's own)."""
    token = token or settings.LUMA_PROVIDERS["agents"]["api_key"]
    return SimFault.objects.create(owner=owner_of(token), kind=kind, **fields)


def _rq_queue() -> Any:
    import django_rq  # installed as an app only with the RQ backend

    return django_rq.get_queue("default")


def nothing_queued() -> bool:
    """No task waits to run now, on the backend this run uses (the database, or RQ)."""
    if settings.TASKS_BACKEND == "rq":
        return int(_rq_queue().count) == 0
    return not DBTaskResult.objects.ready().exists()


def drop_queued_tasks() -> None:
    """What a dead worker loses: every queued and deferred task, on either backend."""
    if settings.TASKS_BACKEND == "rq":
        _rq_queue().connection.flushdb()
    else:
        DBTaskResult.objects.all().delete()
