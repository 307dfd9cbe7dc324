"""Response times: RFC 3339 in UTC (contract: 'Responses use RFC 3339 UTC'); exports people
read (CSV, spreadsheets) in the org's own time zone, with its offset.

>>> from zoneinfo import ZoneInfo
>>> rfc3339(1772326800), local_time(1772326800, ZoneInfo("Asia/Shanghai"))
('2026-03-01T01:00:00.000Z', '2026-03-01 09:00:00+08:00')
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from learnguard.errors import BadRequest
from learnguard.features.events import MAX_TIME_MS, MIN_TIME_MS


def rfc3339(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_time(epoch_s: float, zone: ZoneInfo) -> str:
    """A time as an office reads it: local date and clock, and the offset."""
    return datetime.fromtimestamp(epoch_s, tz=zone).isoformat(sep=" ", timespec="seconds")


def parse_time(value: str | None, name: str) -> float | None:
    """An RFC 3339 time with an offset, or epoch milliseconds, as epoch seconds (None stays None),
    within the years the contract's times may take (2000–2099).

    >>> parse_time("2026-03-01T09:00:00+08:00", "since"), parse_time("1772326800000", "since")
    (1772326800.0, 1772326800.0)
    """
    if value is None:
        return None
    shown = value if len(value) <= 40 else value[:40] + "…"
    try:
        if value.isdigit() and len(value) <= 15:
            seconds = int(value) / 1000
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                raise BadRequest(f"{name}: needs an offset, e.g. 2026-03-01T00:00:00+08:00")
            seconds = parsed.timestamp()
    except (ValueError, OverflowError) as exc:
        raise BadRequest(f"{name}: must be an RFC 3339 time with an offset or epoch milliseconds, "
                         f"got {shown!r}") from exc
    if not MIN_TIME_MS <= seconds * 1000 < MAX_TIME_MS:
        raise BadRequest(f"{name}: must lie between 2000 and 2099, got {shown!r}")
    return seconds
