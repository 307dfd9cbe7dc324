"""The log: shard streams, dedup on ingest, leases, consumer-group reads, atomic commits,
trimming, worker liveness and the per-shard counters (lag, dead letters).

Every key it touches is built by ``keys.Keys``; every multi-key write is one Lua script on
one shard's hash tag (``scripts``), so it runs unchanged on Redis Cluster.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis
from redis.exceptions import RedisClusterException

from learnguard.errors import Unavailable
from learnguard.features.compact import event_id_digest
from learnguard.features.events import Event, encode_event
from learnguard.service import scripts, seen_mark
from learnguard.service.cold import POINTER_HEAD, compacted_count
from learnguard.service.keys import STREAM_GROUP, Keys, shard_of
from learnguard.service.redis_conn import is_cluster, read_many, run_scripts, run_scripts_replicated

Entry = tuple[bytes, dict[bytes, bytes]]
log = logging.getLogger(__name__)


@dataclass
class ShardStats:
    shard: int
    accepted: int
    applied: int
    dead: int
    stream_length: int
    owner: str | None

    @property
    def lag(self) -> int:
        return max(0, self.accepted - self.applied)


@dataclass(frozen=True)
class DeadLetter:
    """An entry the worker gave up on, with the error of its last try."""

    shard: int
    entry_id: str
    source_id: str  # its id on the shard's stream
    error: str
    events: int


class Streams:
    """The shard streams of one deployment."""

    def __init__(self, client: redis.Redis, keys: Keys, shards: int) -> None:
        self.client = client
        self.keys = keys
        self.shards = shards
        self._ingest = client.register_script(scripts.INGEST)
        self._commit = client.register_script(scripts.COMMIT)
        self._renew = client.register_script(scripts.RENEW_LEASE)
        self._release = client.register_script(scripts.RELEASE_LEASE)
        self._requeue = client.register_script(scripts.REQUEUE_DEAD)
        self.replica_acks = 0        # replicas that must hold a batch before it counts as accepted
        self.replica_ack_timeout_ms = 1000

    def ensure_groups(self) -> None:
        for shard in range(self.shards):
            try:
                self.client.xgroup_create(self.keys.events(shard), STREAM_GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    # -- ingest -----------------------------------------------------------------------
    def ingest(self, events: list[Event]) -> list[bool]:
        """Append events to their shard streams, dropping ids already accepted.

        Returns, per event, whether it was new. One script call per shard, all in one
        pipeline: a single round trip whatever the batch size.
        """
        by_shard: dict[int, list[int]] = defaultdict(list)
        for index, event in enumerate(events):
            by_shard[shard_of(event.learner_id, self.shards)].append(index)
        calls: list[tuple[Any, list[str], list[Any]]] = []
        order: list[list[int]] = []
        for shard, indexes in by_shard.items():
            session_keys: dict[str, int] = {}
            args: list[bytes | str | int] = [len(indexes)]
            for index in indexes:
                event = events[index]
                key = self.keys.event_ids(shard, event.session_id)
                if key not in session_keys:
                    session_keys[key] = len(session_keys) + 3
                    session_keys[self.keys.seen(shard, event.session_id)] = 0  # after its dedup set
                    session_keys[self.keys.session(shard, event.session_id)] = 0  # its record (a pointer holds a mark)
                args += [session_keys[key], event_id_digest(event.event_id),
                         seen_mark.event_millis(event.ts), encode_event(event)]
            key_list = [self.keys.events(shard), self.keys.stats(shard), *session_keys]
            calls.append((self._ingest, key_list, args))
            order.append(indexes)
        fresh = [False] * len(events)
        try:
            if self.replica_acks:
                results, acked = run_scripts_replicated(self.client, calls, self.replica_acks,
                                                        self.replica_ack_timeout_ms)
            else:
                results, acked = run_scripts(self.client, calls), 0
        except (redis.RedisError, RedisClusterException) as exc:
            log.error("ingest failed: %s", exc)  # the details stay in the log
            raise Unavailable("the event store did not take the whole batch; send it again (events it did take "
                              "are answered as duplicates)", retry_after=2) from exc
        if acked < self.replica_acks:  # a failover now could lose the batch: not accepted yet
            log.error("ingest: %d of %d replicas acknowledged within %d ms", acked, self.replica_acks,
                      self.replica_ack_timeout_ms)
            raise Unavailable(f"the batch reached {acked} of the {self.replica_acks} replicas it must reach "
                              f"before it counts as accepted; send it again (events it did take are answered as "
                              f"duplicates)", retry_after=2)
        for indexes, flags in zip(order, results, strict=True):
            for index, flag in zip(indexes, flags, strict=True):
                fresh[index] = bool(flag)
        return fresh

    def accepted_counts(self, session_id: str) -> dict[int, int]:
        """Events accepted for a session, per shard that has any (one round trip): its
        dedup set, plus what its seen mark counts if it was compacted."""
        return self.accepted_and_records(session_id, with_records=False)[0]

    def accepted_and_records(self, session_id: str, with_records: bool = True
                             ) -> tuple[dict[int, int], dict[int, bytes]]:
        """``accepted_counts``, and the session's stored record blob on each shard that has one,
        in the same round trip (a score needs both, one after the other)."""
        record_op = "get" if with_records else str(POINTER_HEAD)  # without: a pointer's mark is all it needs
        reads: list[tuple[str, str]] = []
        for shard in range(self.shards):
            reads += [("scard", self.keys.event_ids(shard, session_id)), ("get", self.keys.seen(shard, session_id)),
                      (record_op, self.keys.session(shard, session_id))]
        replies = read_many(self.client, reads)
        counts: dict[int, int] = {}
        records: dict[int, bytes] = {}
        for shard in range(self.shards):
            ids, seen, record = replies[3 * shard:3 * (shard + 1)]
            if count := int(ids) + (seen_mark.count_of(seen) if seen else compacted_count(record)):
                counts[shard] = count
            if with_records and record:
                records[shard] = record
        return counts, records

    # -- dead letters -----------------------------------------------------------------
    def dead_letters(self, shard: int) -> list[DeadLetter]:
        """The shard's dead letters, oldest first."""
        return [DeadLetter(shard, entry_id.decode(), fields.get(b"source_id", b"").decode(),
                           fields.get(b"error", b"").decode(errors="replace"),
                           fields.get(b"e", b"").count(b"\n") + 1 if fields.get(b"e") else 0)
                for entry_id, fields in cast(list[Entry], self.client.xrange(self.keys.dead(shard)))]

    def requeue_dead(self, shard: int, entry_ids: list[str]) -> int:
        """Put dead letters back on the shard's stream (atomically, see ``REQUEUE_DEAD``);
        returns how many moved. Their events are applied like new ones: a session whose
        event was dead-lettered gets it once the cause is gone."""
        if not entry_ids:
            return 0
        return int(self._requeue(keys=[self.keys.dead(shard), self.keys.events(shard), self.keys.stats(shard)],
                                 args=entry_ids))

    # -- leases -----------------------------------------------------------------------
    def try_lease(self, shard: int, owner: str, lease_ms: int) -> bool:
        return bool(self.client.set(self.keys.lease(shard), owner, nx=True, px=lease_ms))

    def renew_leases(self, shards: list[int], owner: str, lease_ms: int) -> list[int]:
        """Renew the given leases; returns the shards still held."""
        replies = run_scripts(self.client, [(self._renew, [self.keys.lease(shard)], [owner, lease_ms])
                                            for shard in shards])
        return [shard for shard, ok in zip(shards, replies, strict=True) if ok]

    def release_lease(self, shard: int, owner: str) -> None:
        self._release(keys=[self.keys.lease(shard)], args=[owner])

    # -- reading ----------------------------------------------------------------------
    def claim_idle(self, shard: int, consumer: str, min_idle_ms: int) -> bool:
        """Take over entries idle for ``min_idle_ms`` (a dead owner's); True if any were claimed."""
        start: bytes | str = "0-0"
        claimed = False
        while True:
            reply = cast(list[Any], self.client.xautoclaim(self.keys.events(shard), STREAM_GROUP, consumer,
                                                           min_idle_ms, start_id=start, count=1000))
            start = reply[0]
            claimed = claimed or bool(reply[1])
            if start in (b"0-0", "0-0"):
                return claimed

    def read_pending(self, shard: int, consumer: str, count: int) -> list[Entry]:
        """Entries delivered to ``consumer`` and not acked yet."""
        reply = cast(list[Any], self.client.xreadgroup(STREAM_GROUP, consumer, {self.keys.events(shard): "0"},
                                                       count=count))
        return reply[0][1] if reply else []

    def read_new(self, shards: list[int], consumer: str, count: int, block_ms: int | None
                 ) -> dict[int, list[Entry]]:
        """New entries of several shards in one call (blocking up to ``block_ms``); on a
        cluster, where shards live in different slots, one call per shard."""
        if is_cluster(self.client):
            found: dict[int, list[Entry]] = {}
            for shard in shards:
                reply = self.client.xreadgroup(STREAM_GROUP, consumer, {self.keys.events(shard): ">"}, count=count)
                if reply and cast(list[Any], reply)[0][1]:
                    found[shard] = cast(list[Any], reply)[0][1]
            if not found and block_ms:
                time.sleep(block_ms / 1000)
            return found
        streams: dict[Any, Any] = {self.keys.events(shard): ">" for shard in shards}
        by_stream = {self.keys.events(shard).encode(): shard for shard in shards}
        reply = cast(list[Any], self.client.xreadgroup(STREAM_GROUP, consumer, streams, count=count,
                                                       block=block_ms))
        return {by_stream[stream]: entries for stream, entries in reply or [] if entries}

    def applied_id(self, shard: int) -> bytes | None:
        return cast(bytes | None, self.client.get(self.keys.applied(shard)))

    # -- committing -------------------------------------------------------------------
    def commit(self, shard: int, owner: str, last_id: bytes, applied_events: int, blobs: dict[str, bytes],
               dead: list[tuple[bytes, str, bytes]], ack_ids: list[bytes], touched: Sequence[str] = ()) -> str:
        """Write a batch's effect (``blobs``: key → value, all of this shard) and ack its
        entries in one atomic script; the ``touched`` sessions are noted with the time.

        Returns ``ok``, ``lease_lost`` (another worker owns the shard now: nothing written)
        or ``stale`` (the batch was applied already: nothing written).
        """
        keys = [self.keys.lease(shard), self.keys.applied(shard), self.keys.stats(shard),
                self.keys.dead(shard), self.keys.events(shard), self.keys.touched(shard)]
        args: list[bytes | str | int] = [owner, last_id, applied_events, len(dead)]
        for source_id, error, payload in dead:
            args += [source_id, error, payload]
        for key, blob in blobs.items():
            keys.append(key)
            args.append(blob)
        args += [len(ack_ids), STREAM_GROUP, *ack_ids, int(time.time() * 1000), *touched]
        outcome = self._commit(keys=keys, args=args)
        return outcome.decode() if isinstance(outcome, bytes) else str(outcome)

    def ack(self, shard: int, entry_ids: list[bytes]) -> None:
        if entry_ids:
            self.client.xack(self.keys.events(shard), STREAM_GROUP, *entry_ids)

    # -- trimming ---------------------------------------------------------------------
    def trim_cutoff(self, shard: int, retention_ms: int) -> int:
        """Stream ids (ms) below this are applied and older than the retention window."""
        applied = self.applied_id(shard)
        if applied is None:
            return 0
        return max(0, min(int(applied.split(b"-")[0]), int(time.time() * 1000) - retention_ms))

    def entries_before(self, shard: int, cutoff_ms: int, count: int = 5000) -> list[Entry]:
        """The oldest stream entries with ids below ``cutoff_ms`` (one page)."""
        if cutoff_ms <= 0:
            return []
        return cast(list[Entry], self.client.xrange(self.keys.events(shard), min="-", max=f"({cutoff_ms}-0",
                                                    count=count))

    def trim_through(self, shard: int, last_id: bytes) -> None:
        """Drop stream entries up to and including ``last_id`` (exactly: nothing unarchived goes)."""
        ms, _, seq = last_id.partition(b"-")
        self.client.xtrim(self.keys.events(shard), minid=f"{int(ms)}-{int(seq or 0) + 1}", approximate=False)

    # -- workers and counters -----------------------------------------------------------
    def heartbeat(self, worker_id: str, lease_ms: int) -> int:
        """Record a live worker; returns how many workers were alive within one lease.

        One lease, not more: a worker heartbeats every third of a lease (and during long
        batches), and a killed worker counted as alive for longer kept the survivors from
        taking its shards after its leases had expired (measured: 16 s of lag after a kill)."""
        now = int(time.time() * 1000)
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.keys.workers(), {worker_id: now})
        pipe.zremrangebyscore(self.keys.workers(), 0, now - lease_ms)
        pipe.zcard(self.keys.workers())
        return int(pipe.execute()[-1])

    def forget_worker(self, worker_id: str) -> None:
        self.client.zrem(self.keys.workers(), worker_id)

    def live_workers(self, lease_ms: int) -> int:
        """Workers whose last heartbeat is within one lease (a dead worker's entry stays in
        the set until a live one cleans it, so count by time, not by size)."""
        now = int(time.time() * 1000)
        return int(cast(int, self.client.zcount(self.keys.workers(), now - lease_ms, "+inf")))

    def shard_stats(self) -> list[ShardStats]:
        pipe = self.client.pipeline(transaction=False)
        for shard in range(self.shards):
            pipe.hgetall(self.keys.stats(shard))
            pipe.xlen(self.keys.events(shard))
            pipe.get(self.keys.lease(shard))
        results = pipe.execute()
        stats = []
        for shard in range(self.shards):
            counters, length, owner = results[3 * shard: 3 * shard + 3]
            stats.append(ShardStats(
                shard=shard, accepted=int(counters.get(b"accepted", 0)),
                applied=int(counters.get(b"applied", 0)), dead=int(counters.get(b"dead", 0)),
                stream_length=int(length), owner=owner.decode() if owner else None))
        return stats
