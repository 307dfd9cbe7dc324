"""Response times: RFC 3339 in UTC (contract: 'Responses use RFC 3339 UTC'); exports people
read (CSV, spreadsheets) in the org's own time zone, with its offset.

>>> from zoneinfo import ZoneInfo
>>> rfc3339(1772326800), local_time(1772326800, ZoneInfo("Asia/Shanghai"))
('2026-03-01T01:00:00.000Z', '2026-03-01 09:00:00+08:00')
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def rfc3339(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_time(epoch_s: float, zone: ZoneInfo) -> str:
    """A time as an office reads it: local date and clock, and the offset."""
    return datetime.fromtimestamp(epoch_s, tz=zone).isoformat(sep=" ", timespec="seconds")
