from typing import Any

from django.conf import settings
from django.http import HttpRequest


def studio(request: HttpRequest) -> dict[str, Any]:
    """What every page needs to know about the studio itself."""
    context: dict[str, Any] = {
        "demo_mode": settings.LUMA_SIMULATOR,
        "trash_days": settings.LUMAWEB_TRASH_DAYS,
    }
    if getattr(request, "user", None) is not None and request.user.is_staff:
        from generations.credits import balances

        context["balances"] = balances()
    return context
