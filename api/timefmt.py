"""Response times: RFC 3339 in UTC (contract: 'Responses use RFC 3339 UTC')."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
