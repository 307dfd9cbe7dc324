"""The cold store: the full records of compacted sessions, in Parquet, read back on demand.

A compacted session keeps in Redis only a pointer (``COLD`` and the file's path, relative
to the cold root) and its seen mark; everything else — its state with the playback
timeline, its score — is one row of ``{root}/{shard}/{YYYY-MM}/{batch}.parquet`` (columns
``session_id``, ``record``: the msgpack record as it was in Redis). A read of a cold session
(its score, its timeline on the dashboard, a portrait) reads that row; nothing else
changes, so a year-old session answers as it did while live.

Files are written before Redis points at them and never rewritten: a compaction that dies
between the two leaves an unreferenced file and live sessions, which the next run compacts
again into a new file.

A file that is missing or damaged (a lost disk, a restore that left it out) is never
mistaken for "no such session": a read says which session and which file cannot be read
(``ColdUnavailable``, a 503), and the callers that read many sessions are told which ones
failed and leave them as they are (the worker dead-letters the events that would wake them,
the report refresher keeps their rows) until the file is back.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from learnguard.errors import Unavailable

COLD = b"\xc1"  # never a msgpack byte: a stored record that starts with it is a cold pointer


class ColdPointer(msgspec.Struct, array_like=True):
    """Where a compacted session's record is, and its seen mark (``seen_mark``): how many
    events it accepted and the event time of its latest (epoch ms). Pointers written before
    2026-11-30 hold the path alone (their session's seen key holds the rest)."""

    path: str
    count: int | None = None
    mark: int | None = None


_encode_pointer = msgspec.msgpack.Encoder().encode
_decode_pointer = msgspec.msgpack.Decoder(ColdPointer).decode
POINTER_HEAD = 160  # bytes that always hold a whole pointer (its path is ~50 characters)


def pointer_blob(path: str, count: int | None = None, mark: int | None = None) -> bytes:
    """The stored pointer (the ingest script reads it with ``cmsgpack``: keep it an array).

    >>> pointer_of(pointer_blob("3/2026-11/f.parquet", 393, 1772330400123))
    ColdPointer(path='3/2026-11/f.parquet', count=393, mark=1772330400123)
    >>> len(pointer_blob("7/2026-11/" + "f" * 32 + ".parquet", 2**31, 4_102_444_800_000)) < POINTER_HEAD
    True
    """
    return COLD + _encode_pointer(ColdPointer(path, count, mark))


def is_cold(raw: bytes) -> bool:
    return raw[:1] == COLD


def pointer_of(raw: bytes) -> ColdPointer:
    return _decode_pointer(raw[1:])


def compacted_count(raw: bytes | None) -> int:
    """Events a compacted session accepted, as its pointer holds them (0 for a live record, or
    a pointer written before marks: its seen key holds the count)."""
    if not raw or not is_cold(raw):
        return 0
    return pointer_of(raw).count or 0


class ColdUnavailable(Unavailable):
    """A compacted session's archived record cannot be read: its file is missing or damaged."""

    def __init__(self, session_id: str, problem: str) -> None:
        super().__init__(f"the archived record of session {session_id!r} cannot be read: {problem}; restore the "
                         f"cold store's file from backup (the session's pointer and seen mark are kept in Redis)",
                         session_id=session_id)


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

    def read(self, wanted: dict[str, str]) -> tuple[dict[str, bytes], dict[str, str]]:
        """Records of sessions (session id → the file its pointer names), one read per file,
        and what is wrong for each session whose file cannot be read or does not hold it."""
        by_file: dict[str, set[str]] = defaultdict(set)
        for session_id, path in wanted.items():
            by_file[path].add(session_id)
        found: dict[str, bytes] = {}
        problems: dict[str, str] = {}
        for path, sessions in by_file.items():
            try:
                table = pq.read_table(self.root / path, filters=[("session_id", "in", sorted(sessions))])
            except (OSError, pa.ArrowException) as exc:
                reason = "is missing" if isinstance(exc, FileNotFoundError) else f"is damaged ({exc})"
                problems.update(dict.fromkeys(sessions, f"cold file {path} {reason}"))
                continue
            for session_id, record in zip(table.column("session_id").to_pylist(),
                                          table.column("record").to_pylist(), strict=True):
                found[session_id] = record
            problems.update(dict.fromkeys(sessions - set(found), f"cold file {path} does not hold it"))
        return found, problems
