"""The archive of the log: applied stream entries, written to Parquet by day before Redis
trims them, so replays and retraining reach further back than memory does (DESIGN §2).

Files are ``{root}/shard={n}/day={YYYY-MM-DD}/{first_id}_{last_id}.parquet`` with one row
per event (``stream_id``, ``event`` as contract JSON), day = the day the platform's batch
was accepted (the stream id). Writing the same entries twice (a crash between archiving
and trimming) only repeats events, which a replay drops as duplicates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def _day(stream_id: bytes) -> str:
    return datetime.fromtimestamp(int(stream_id.split(b"-")[0]) / 1000, tz=UTC).strftime("%Y-%m-%d")


def write_entries(root: Path, shard: int, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> int:
    """Archive stream entries; returns how many events were written."""
    by_day: dict[str, list[tuple[bytes, dict[bytes, bytes]]]] = defaultdict(list)
    for entry_id, fields in entries:
        if fields:
            by_day[_day(entry_id)].append((entry_id, fields))
    written = 0
    for day, day_entries in by_day.items():
        ids, events = [], []
        for entry_id, fields in day_entries:
            for line in fields.get(b"e", b"").split(b"\n"):
                if line:
                    ids.append(entry_id.decode())
                    events.append(line.decode())
        folder = root / f"shard={shard}" / f"day={day}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{day_entries[0][0].decode()}_{day_entries[-1][0].decode()}.parquet"
        pq.write_table(pa.table({"stream_id": ids, "event": events}), folder / name, compression="zstd")
        written += len(events)
    return written


def read_events(root: Path) -> Iterator[bytes]:
    """Every archived event (contract JSON), in stream order within each file."""
    for path in sorted(root.glob("shard=*/day=*/*.parquet")):
        for event in pq.read_table(path, columns=["event"]).column("event").to_pylist():
            yield event.encode()
