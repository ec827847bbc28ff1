"""Signed URLs are logged without their signatures.

The simulators' output and upload URLs (`?expires=…&signature=…`) are requests to this app, so
the access log would otherwise keep working credentials for an hour; S3's presigned URLs carry
theirs in `X-Amz-Signature` and friends. Three of the app's own routes carry theirs in the path
(SECRET_PATHS), where a log line would keep a link anyone could open without a login. Every
handler of Django's logging (settings.LOGGING) and gunicorn's access and error logs
(`GunicornLogger`, which `manage.py serve` and docs/deploy.md use) pass records through
`RedactSignatures`.
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
# Routes whose path segment is the credential (generations/urls.py), as the part a log line
# keeps: the route, and the job it names where that is readable. The rest of the segment goes,
# whatever its spelling (`%3A` for the colon, say): only a plain id is kept.
SECRET_PATHS = (
    r"/public/",  # any upload, 24 h (public.public_link); the token encodes the file's name
    r"/mcp/media/[\w-]*+(?::|%3a)?",  # <job>_<output>:…, outputs for 1 h (mcp.answers.media_link)
    r"/hooks/[\w-]*+(?::|%3a)?",  # <job>:…, a job's callback URL, for ever (hooks.hook_url)
)
SECRET_PATH = re.compile(rf"(?P<name>{'|'.join(SECRET_PATHS)})[^/?#\s\"']+", re.IGNORECASE)
REMOVED = "[removed]"


def redact(text: str) -> str:
    for pattern in (SIGNED, SECRET_PATH):
        text = pattern.sub(rf"\g<name>{REMOVED}", text)
    return text


class RedactSignatures(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class GunicornLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger, with the access log and the error log (which names the path of a
    request that fails in gunicorn's hands) passed through RedactSignatures."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            log.addFilter(RedactSignatures())
