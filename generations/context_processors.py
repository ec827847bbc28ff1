from typing import Any

from django.conf import settings
from django.http import HttpRequest


def studio(request: HttpRequest) -> dict[str, Any]:
    """What every page needs to know about the studio itself."""
    return {"demo_mode": settings.LUMA_SIMULATOR, "trash_days": settings.LUMAWEB_TRASH_DAYS}
