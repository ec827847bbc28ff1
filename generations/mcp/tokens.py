"""Personal access tokens: made and shown once, kept as a digest, checked in constant time."""

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.crypto import constant_time_compare

from generations.models import TOKEN_PREFIX, AccessToken

# last_used_at is written at most this often per token, not on every call.
LAST_USE_RESOLUTION = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: Any, name: str) -> tuple[AccessToken, str]:
    """A new token for `user`; the secret is returned here and nowhere else, ever."""
    key_id = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    record = AccessToken.objects.create(
        user=user, name=name.strip() or "Unnamed token", key_id=key_id, digest=_digest(token)
    )
    return record, token


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer …` header, or ""."""
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def check_token(token: str) -> AccessToken | None:
    """The active token this secret belongs to (its person loaded), or None; records the use."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    key_id, _, secret = token.removeprefix(TOKEN_PREFIX).partition("_")
    if not key_id or not secret:
        return None
    record = (
        AccessToken.objects.active()
        .select_related("user")
        .filter(key_id=key_id, user__is_active=True)
        .first()
    )
    if record is None or not constant_time_compare(record.digest, _digest(token)):
        return None
    now = timezone.now()
    if record.last_used_at is None or now - record.last_used_at > LAST_USE_RESOLUTION:
        AccessToken.objects.filter(pk=record.pk).update(last_used_at=now)
        record.last_used_at = now
    return record
