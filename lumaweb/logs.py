"""Signed URLs are logged without their signatures.

The simulators' output and upload URLs (`?expires=…&signature=…`) are requests to this app, so
the access log would otherwise keep working credentials for an hour; S3's presigned URLs carry
theirs in `X-Amz-Signature` and friends. Every handler of Django's logging (settings.LOGGING)
and gunicorn's access log (`GunicornLogger`, which `manage.py serve` and docs/deploy.md use)
pass records through `RedactSignatures`.
"""

import logging
import re
from typing import Any

from gunicorn import glogging

# Query parameters that carry a signature or a credential, and their values.
SIGNED = re.compile(
    r"(?P<name>[?&;](?:signature|sig|token|policy|x-amz-signature|x-amz-credential"
    r"|x-amz-security-token|x-goog-signature|x-goog-credential)=)[^&\s\"']*",
    re.IGNORECASE,
)
REMOVED = "[removed]"


def redact(text: str) -> str:
    return SIGNED.sub(rf"\g<name>{REMOVED}", text)


class RedactSignatures(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class GunicornLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger, with the access log passed through RedactSignatures."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.access_log.addFilter(RedactSignatures())
