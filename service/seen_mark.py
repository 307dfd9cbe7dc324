"""What replaces a compacted session's dedup set: the count of events it accepted and its
high-water mark, the event time of its latest event (epoch milliseconds). Both are kept in
its cold pointer (``cold.ColdPointer``); while a new event has woken the session, its
older mark is in its seen key, in the form below.

Why a mark and not a filter of ids: a compacted session's events all lie at or before its
mark, so every resend of one of them (same event, same time) is recognised as a duplicate
without keeping anything per event — two numbers where a Bloom filter took a byte per event
(~400 B a session, plus a key of its own: the largest thing a compacted session kept). A really new event of a
compacted session comes after its mark (a page visit's events are sent in time order: the
tracker's queue goes oldest first) and wakes it, applied once. What the mark gives up:
an event that is new *and* dated at or before the mark, arriving after the retry window,
is taken for a resend (the Bloom filter took 2.2 % of all new events for resends instead).

The mark covers only events the session's record holds, so a session is compacted only
when its record applied every event it accepted (``Compactor``): one with an event still
on its way, or dead-lettered, stays live.

Ingest (``scripts.INGEST``, in Lua) and compaction (Python) must agree on an event's time
to the millisecond: both take ``millis`` of the same epoch seconds (an event's ``ts`` as
``epoch_seconds`` gives it; the record's ``max_ts`` is the largest of those).

A seen key's layout: ``m<count>:<mark>`` in ASCII. A value not starting with ``m`` is a
Bloom filter written by compaction before marks (4-byte big-endian count, then the filter)
and is still honoured by ingest; re-compaction replaces it with a mark in the pointer.
"""

from __future__ import annotations

from datetime import datetime, timezone  # noqa: F401  (timezone: the doctest)

MARK = b"m"
LEGACY_HEADER = 4


def millis(seconds: float) -> int:
    """Epoch seconds as the milliseconds a mark compares (the same rounding on both sides).

    >>> millis(1772330400.0004), millis(1772330400 / 1), millis(1_772_330_400_123 / 1000.0)
    (1772330400000, 1772330400000, 1772330400123)
    """
    return round(seconds * 1000)


def event_millis(ts: datetime | int) -> int:
    """An event's ``ts`` as ``millis(epoch_seconds(ts))`` gives it; an int is already that
    (``round(v / 1000.0 * 1000) == v`` for every contract time), so ingest skips the floats.

    >>> event_millis(1_772_330_400_123), event_millis(datetime(2026, 3, 1, tzinfo=timezone.utc))
    (1772330400123, 1772323200000)
    """
    return ts if isinstance(ts, int) else millis(ts.timestamp())


def encode(count: int, mark_ms: int) -> bytes:
    """The stored value.

    >>> encode(393, 1772330400123)
    b'm393:1772330400123'
    """
    return b"m%d:%d" % (count, mark_ms)


def count_of(blob: bytes | None) -> int:
    """Events the session accepted before it was compacted (0 when it never was).

    >>> count_of(encode(393, 1)), count_of(None), count_of((12).to_bytes(4, "big") + bytes(8))
    (393, 0, 12)
    """
    if not blob:
        return 0
    if blob[:1] == MARK:
        return int(blob[1:blob.index(b":")])
    return int.from_bytes(blob[:LEGACY_HEADER], "big")


def mark_of(blob: bytes | None) -> int | None:
    """The high-water mark (epoch ms), or None for no value or a legacy filter.

    >>> mark_of(encode(3, 1772330400123)), mark_of(None)
    (1772330400123, None)
    """
    if not blob or blob[:1] != MARK:
        return None
    return int(blob[blob.index(b":") + 1:])
