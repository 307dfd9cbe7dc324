"""Compaction: a session nothing changed for ``compact_after_s`` (its retry window, 7 days by
default) leaves hot memory. Its record goes to the cold store (Parquet), its key keeps a
pointer; its dedup set becomes a seen mark (``seen_mark``: the count of its events and the
time of its latest), kept in the pointer, that still recognises every resend of its events
as a duplicate. Its summary moves from its learner x course record's live part to the
compressed archive part (``sessions.archive_summaries``; readers merge the two).
Only a session whose record applied every event it accepted is compacted: an event still
on its way (accepted, not yet applied) or dead-lettered would be under no mark, and its
resend would count twice. Such a session stays live and is looked at again a retry
window later (or sooner: applying the event touches it).

Run by the worker that owns the shard, guarded by the shard's lease, so it never races
that shard's commits, in slices of ``compact_slice_ms`` between batches of events: a
backlog of due sessions (the sessions of a busy morning all turn 7 days old within the
hour) is worked off over many rounds instead of stopping event processing while it
lasts. An event that arrives for a session while it is being compacted keeps it live
(``scripts.COMPACT`` checks its dedup set did not grow).
A compacted session that receives a new event wakes: the worker reads its record back,
applies the event and stores it live again; its mark, copied to the session's seen key
when the worker reads the record back, still answers for its older events. It is compacted
again later, under a new mark (back in the pointer; the seen key goes).
"""

from __future__ import annotations

import logging
import time
from typing import Any, cast

import msgspec

from learnguard.service import metrics, scripts, seen_mark
from learnguard.service.cold import ColdStore, is_cold, pointer_blob
from learnguard.service.store import Store

log = logging.getLogger(__name__)


class _Progress(msgspec.Struct):
    """The fields of a session's state the compactor needs (the rest is skipped unread)."""

    learner_id: str = ""
    course_id: str = ""
    applied_events: int = 0
    max_ts: float = 0.0


class _RecordProgress(msgspec.Struct):
    state: _Progress


_progress = msgspec.msgpack.Decoder(_RecordProgress).decode


def seen_value(progress: _Progress, ids: int, previous: bytes | None) -> tuple[int, int] | None:
    """The seen mark (events accepted, event time of the latest in ms) a session's record,
    dedup set and seen key (``previous``: set while a compacted session is woken) come to,
    or None when the record has not applied every event the session accepted (it must
    stay live)."""
    accepted = seen_mark.count_of(previous) + ids
    if progress.applied_events != accepted:
        return None
    return accepted, max(seen_mark.millis(progress.max_ts), seen_mark.mark_of(previous) or 0)


class Compactor:
    """Compacts the sessions of shards this process owns."""

    def __init__(self, store: Store, cold: ColdStore, after_s: float, batch: int = 1000) -> None:
        self.store = store
        self.cold = cold
        self.after_s = after_s
        self.batch = batch
        self._compact = store.client.register_script(scripts.COMPACT)

    def run(self, shard: int, owner: str, now: float | None = None, until: float | None = None
            ) -> tuple[int, list[str], bool]:
        """Compact the sessions of ``shard`` untouched for ``after_s``, a batch at a time, until
        none is left or the monotonic clock passes ``until`` (at least one batch either way).
        Returns how many were compacted, the sessions it looked at (a worker drops them from
        its cache), and whether more are due (the caller comes back for them)."""
        done = 0
        looked: list[str] = []
        while True:
            compacted, sessions = self._one_batch(shard, owner, now if now is not None else time.time())
            done += max(0, compacted)
            looked += sessions
            if len(sessions) < self.batch or compacted <= 0:
                return done, looked, False
            if until is not None and time.monotonic() >= until:
                return done, looked, True

    def _one_batch(self, shard: int, owner: str, now: float) -> tuple[int, list[str]]:
        keys = self.store.keys
        client = self.store.client
        cutoff_ms = int((now - self.after_s) * 1000)
        due = cast(list[tuple[bytes, float]], client.zrangebyscore(
            keys.touched(shard), 0, cutoff_ms, start=0, num=self.batch, withscores=True))
        if not due:
            return 0, []
        sessions = [member.decode() for member, _ in due]
        records, marks, pairs = self._compactable(shard, sessions, now)
        if not records:
            return 0, sessions
        path = self.cold.write(shard, records)
        by_pair: dict[tuple[str, str], set[str]] = {}
        for name, pair in pairs.items():
            by_pair.setdefault(pair, set()).add(name)
        self.store.sessions.archive_summaries(shard, owner, by_pair)
        script_keys = [keys.lease(shard), keys.touched(shard)]
        args: list[Any] = [owner]
        for member, score in due:
            name = member.decode()
            if name not in records:
                continue
            size, (count, mark) = marks[name]
            script_keys += [keys.session(shard, name), keys.event_ids(shard, name), keys.seen(shard, name)]
            args += [name, str(int(score)), size, pointer_blob(path, count, mark)]
        return int(self._compact(keys=script_keys, args=args)), sessions

    def _compactable(self, shard: int, sessions: list[str], now: float
                     ) -> tuple[dict[str, bytes], dict[str, tuple[int, tuple[int, int]]], dict[str, tuple[str, str]]]:
        """The due sessions' live records, their (dedup set size, seen mark) and their (learner,
        course), for those that can be compacted. The others leave the compactor's list: already cold ones for good,
        ones with an event not yet applied until a retry window from ``now``."""
        keys = self.store.keys
        pipe = self.store.client.pipeline(transaction=False)
        for session_id in sessions:
            pipe.get(keys.session(shard, session_id))
            pipe.scard(keys.event_ids(shard, session_id))
            pipe.get(keys.seen(shard, session_id))
        replies: list[Any] = pipe.execute()
        records: dict[str, bytes] = {}
        marks: dict[str, tuple[int, tuple[int, int]]] = {}
        pairs: dict[str, tuple[str, str]] = {}
        unfinished: dict[str, int] = {}
        gone: list[str] = []
        for i, session_id in enumerate(sessions):
            raw, ids, previous = replies[3 * i: 3 * i + 3]
            if not raw or is_cold(raw):
                gone.append(session_id)
                continue
            progress = _progress(raw).state
            if (mark := seen_value(progress, int(ids), previous)) is None:
                unfinished[session_id] = int(now * 1000)
            else:
                records[session_id] = raw
                marks[session_id] = (int(ids), mark)
                pairs[session_id] = (progress.learner_id, progress.course_id)
        pipe = self.store.client.pipeline(transaction=False)
        if unfinished:
            metrics.SESSIONS_KEPT_LIVE.inc(len(unfinished))
            log.warning("shard %d: %d sessions past their retry window kept live, an event they accepted not applied "
                        "(dead letters? `learnguard dead-letters list`): %s", shard, len(unfinished),
                        ", ".join(sorted(unfinished)[:5]))
            pipe.zadd(keys.touched(shard), unfinished, xx=True)  # type: ignore[arg-type]
        if gone:
            pipe.zrem(keys.touched(shard), *gone)
        pipe.execute()
        return records, marks, pairs
