"""Compaction: a session nothing changed for ``compact_after_s`` (its retry window, 7 days by
default) leaves hot memory. Its record goes to the cold store (Parquet), its key keeps a
pointer; its dedup set becomes a seen filter (``seen_filter``) that still recognises
every resend of its events as a duplicate.

Run by the worker that owns the shard, guarded by the shard's lease, so it never races
that shard's commits, in slices of ``compact_slice_ms`` between batches of events: a
backlog of due sessions (the sessions of a busy morning all turn 7 days old within the
hour) is worked off over many rounds instead of stopping event processing while it
lasts. An event that arrives for a session while it is being compacted keeps it live
(``scripts.COMPACT`` checks its dedup set did not grow).
A compacted session that receives a new event wakes: the worker reads its record back,
applies the event and stores it live again; it is compacted again later, its filter kept.
"""

from __future__ import annotations

import time
from typing import Any, cast

from learnguard.service import scripts, seen_filter
from learnguard.service.cold import ColdStore, is_cold, pointer_blob
from learnguard.service.store import Store


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
        pipe = client.pipeline(transaction=False)
        for session_id in sessions:
            pipe.get(keys.session(shard, session_id))
            pipe.smembers(keys.event_ids(shard, session_id))
            pipe.get(keys.seen(shard, session_id))
        replies: list[Any] = pipe.execute()
        records: dict[str, bytes] = {}
        filters: dict[str, tuple[int, bytes]] = {}
        for i, session_id in enumerate(sessions):
            raw, ids, previous = replies[3 * i: 3 * i + 3]
            if not raw or is_cold(raw):
                continue
            records[session_id] = raw
            filters[session_id] = (len(ids), seen_filter.build(sorted(ids), previous))
        if not records:
            client.zrem(keys.touched(shard), *sessions)  # nothing left to compact of them
            return 0, sessions
        path = self.cold.write(shard, records)
        blob = pointer_blob(path)
        script_keys = [keys.lease(shard), keys.touched(shard)]
        args: list[Any] = [owner]
        for member, score in due:
            name = member.decode()
            if name not in records:
                continue
            size, filter_blob = filters[name]
            script_keys += [keys.session(shard, name), keys.event_ids(shard, name), keys.seen(shard, name)]
            args += [name, str(int(score)), size, blob, filter_blob]
        return int(self._compact(keys=script_keys, args=args)), sessions
