"""What replaces a compacted session's dedup set: the count of events accepted and a Bloom
filter over their id digests, one byte per event.

Ingest (``scripts.INGEST``, in Lua) and compaction (here, in Python) must find the same bit
positions for the same digest, so positions come from the digest's *decimal text*, which
both sides see identically (redis-py sends an int as its decimal text; ``SMEMBERS`` returns
it): ``h1`` = its last 9 digits, ``h2`` = the 9 before them, doubled plus one (odd), and the
i-th of ``HASHES`` positions is ``(h1 + i·h2) mod bits``. Every number stays below 2^53, so
Lua's doubles compute it exactly.

A Bloom filter never misses a member: every resend of an event the session accepted is
recognised as a duplicate. It may take a new event for a resend: with 8 bits and 5 hashes
per member about 2.2 % of *new* events reaching a compacted session (one silent for the
whole retry window) are counted as duplicates. Such events are rare (a session id belongs
to one page visit) and the rate is documented in the README.

Layout: 4-byte big-endian count of events, then the filter's bytes.
"""

from __future__ import annotations

HASHES = 5
BITS_PER_EVENT = 8
HEADER = 4


def positions(digest: bytes | str | int, bits: int) -> list[int]:
    """The filter bits of one event-id digest (see the module docstring).

    >>> positions(b"-1234567890123456789", 64) == positions(-1234567890123456789, 64)
    True
    >>> positions("42", 64)  # h1 = 42, h2 = 1: the positions 42, 43, ...
    [42, 43, 44, 45, 46]
    """
    text = digest.decode() if isinstance(digest, bytes) else str(digest)
    text = text.lstrip("-")
    h1 = int(text[-9:])
    h2 = int(text[-18:-9] or 0) * 2 + 1
    return [(h1 + i * h2) % bits for i in range(HASHES)]


def build(digests: list[bytes], previous: bytes | None = None) -> bytes:
    """A filter over ``digests``; ``previous`` (a filter of the same session compacted
    before and woken since) keeps its members, its size and its count."""
    if previous is not None:
        count = int.from_bytes(previous[:HEADER], "big")
        body = bytearray(previous[HEADER:])
    else:
        count = 0
        body = bytearray(max(8, (len(digests) * BITS_PER_EVENT + 7) // 8))
    bits = len(body) * 8
    for digest in digests:
        for pos in positions(digest, bits):
            body[pos // 8] |= 1 << (pos % 8)
    return (count + len(digests)).to_bytes(HEADER, "big") + bytes(body)


def count_of(blob: bytes | None) -> int:
    """Events accepted before the session was compacted."""
    return int.from_bytes(blob[:HEADER], "big") if blob else 0


def holds(blob: bytes, digest: bytes | str | int) -> bool:
    """Whether the filter (probably) holds the digest; never False for a member.

    >>> f = build([b"123456789012", b"-987654321"])
    >>> holds(f, 123456789012), holds(f, b"-987654321"), count_of(f)
    (True, True, 2)
    """
    body = blob[HEADER:]
    return all(body[pos // 8] >> (pos % 8) & 1 for pos in positions(digest, len(body) * 8))
