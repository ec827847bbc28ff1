"""When a presigned URL dies, read from the URL itself where the object store says so."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit


def presigned_expiry(url: str, trusted_until: datetime) -> datetime:
    """The earlier of `trusted_until` and the expiry the URL's own signature carries.

    Understands plain `expires`/`Expires` (unix time: the simulator, S3 v2, CloudFront) and
    the `X-Amz-`/`X-Goog-` `Date` + `Expires` pairs of S3 SigV4 and GCS V4 signing.
    """
    query = {key.lower(): values[-1] for key, values in parse_qs(urlsplit(url).query).items()}
    found: datetime | None = None
    try:
        if "expires" in query:
            found = datetime.fromtimestamp(int(query["expires"]), tz=UTC)
        for vendor in ("x-amz", "x-goog"):
            if f"{vendor}-date" in query and f"{vendor}-expires" in query:
                signed = datetime.strptime(query[f"{vendor}-date"], "%Y%m%dT%H%M%SZ")
                lifetime = timedelta(seconds=int(query[f"{vendor}-expires"]))
                found = signed.replace(tzinfo=UTC) + lifetime
    except (ValueError, OverflowError):
        found = None
    return min(found, trusted_until) if found else trusted_until
