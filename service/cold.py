"""The cold store: the full records of compacted sessions, in Parquet, read back on demand.

A compacted session keeps in Redis only a pointer (``COLD`` and the file's path, relative
to the cold root) and its seen filter; everything else — its state with the playback
timeline, its score — is one row of ``{root}/{shard}/{YYYY-MM}/{batch}.parquet`` (columns
``session_id``, ``record``: the msgpack record as it was in Redis). A read of a cold session
(its score, its timeline on the dashboard, a portrait) reads that row; nothing else
changes, so a year-old session answers as it did while live.

Files are written before Redis points at them and never rewritten: a compaction that dies
between the two leaves an unreferenced file and live sessions, which the next run compacts
again into a new file.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

COLD = b"\xc1"  # never a msgpack byte: a stored record that starts with it is a cold pointer


class ColdPointer(msgspec.Struct, array_like=True):
    """Where a compacted session's record is."""

    path: str


_encode_pointer = msgspec.msgpack.Encoder().encode
_decode_pointer = msgspec.msgpack.Decoder(ColdPointer).decode


def pointer_blob(path: str) -> bytes:
    return COLD + _encode_pointer(ColdPointer(path))


def is_cold(raw: bytes) -> bool:
    return raw[:1] == COLD


def pointer_of(raw: bytes) -> ColdPointer:
    return _decode_pointer(raw[1:])


class ColdStore:
    """Parquet files of compacted session records under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, shard: int, records: dict[str, bytes]) -> str:
        """Write records (session id → msgpack record) to a new file; returns its path."""
        month = datetime.now(tz=UTC).strftime("%Y-%m")
        relative = f"{shard}/{month}/{uuid.uuid4().hex[:12]}.parquet"
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        table = pa.table({"session_id": pa.array(list(records), pa.string()),
                          "record": pa.array(list(records.values()), pa.binary())})
        pq.write_table(table, partial, compression="zstd")
        partial.replace(target)  # a reader never sees half a file
        return relative

    def read(self, wanted: dict[str, str]) -> dict[str, bytes]:
        """Records of sessions (session id → the file its pointer names), one read per file."""
        by_file: dict[str, set[str]] = defaultdict(set)
        for session_id, path in wanted.items():
            by_file[path].add(session_id)
        found: dict[str, bytes] = {}
        for path, sessions in by_file.items():
            table = pq.read_table(self.root / path, filters=[("session_id", "in", sorted(sessions))])
            for session_id, record in zip(table.column("session_id").to_pylist(),
                                          table.column("record").to_pylist(), strict=True):
                found[session_id] = record
        return found
