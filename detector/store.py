"""The store: the only code that reads or writes LearnGuard's Redis keys.

It knows the key layout (``detector.keys``), the shard of a learner, and the atomic
scripts. Everything it returns is plain data; the API and the worker are thin shells
around it.
"""

from __future__ import annotations

import time
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec
import redis

from detector import scripts
from detector.keys import LAYOUT_VERSION, STREAM_GROUP, Keys
from detector.redis_conn import connect
from detector.scoring import SessionScore
from features.compact import event_id_digest
from features.course import Course
from features.events import Event, encode_event
from features.session import SessionState
from learnguard.errors import Conflict, Unavailable
from learnguard.settings import Settings


class SessionRecord(msgspec.Struct):
    """What is stored per session: the state and its latest score."""

    state: SessionState
    score: SessionScore | None = None


class SessionSummary(msgspec.Struct, array_like=True):
    """One session as its learner x course record and the device index keep it."""

    learner_id: str
    first_ts: float
    last_ts: float
    effective_seconds: float
    claimed_seconds: float
    device: str | None
    ip: str | None
    misconduct: bool
    quiz: dict[str, bool] = msgspec.field(default_factory=dict)
    patterns: list[str] = msgspec.field(default_factory=list)
    risk: float = 0.0


class FlagRef(msgspec.Struct):
    """What a flag is about (a flag's id is a hash of its session and pattern)."""

    session_id: str
    learner_id: str
    course_id: str
    org_id: str
    pattern: str


class Review(msgspec.Struct):
    """A supervisor's ruling on a flag; a later review supersedes, none is ever removed."""

    decision: str
    note: str
    by_key: str
    by_name: str
    at: float


class LearnerCourse(msgspec.Struct):
    """A learner's sessions in one course (cramming, schedules, two places at once)."""

    learner_id: str
    course_id: str
    org_id: str
    sessions: dict[str, SessionSummary] = msgspec.field(default_factory=dict)


_encode = msgspec.msgpack.Encoder().encode
_decode_lc = msgspec.msgpack.Decoder(LearnerCourse).decode
_decode_summary = msgspec.msgpack.Decoder(SessionSummary).decode


_encode_record = msgspec.msgpack.Encoder().encode
_decode_record = msgspec.msgpack.Decoder(SessionRecord).decode
_decode_course = msgspec.json.Decoder(Course).decode
_encode_json = msgspec.json.Encoder().encode


def shard_of(learner_id: str, shards: int) -> int:
    """A learner's shard: stable across processes and versions (CRC-32, not ``hash``)."""
    return zlib.crc32(learner_id.encode()) % shards


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


class Store:
    """Redis access for one deployment (a key prefix and a shard count)."""

    def __init__(self, client: redis.Redis, keys: Keys, shards: int) -> None:
        self.client = client
        self.keys = keys
        self.shards = shards
        self._ingest = client.register_script(scripts.INGEST)
        self._commit = client.register_script(scripts.COMMIT)
        self._renew = client.register_script(scripts.RENEW_LEASE)
        self._release = client.register_script(scripts.RELEASE_LEASE)

    @classmethod
    def open(cls, settings: Settings, client: redis.Redis | None = None) -> Store:
        """Connect and make sure the layout exists and matches the configured shards."""
        client = client if client is not None else connect(settings)
        store = cls(client, Keys(settings.key_prefix), settings.shards)
        store.ensure_layout()
        return store

    # -- layout -----------------------------------------------------------------------
    def ensure_layout(self) -> None:
        meta = self.keys.meta()
        self.client.hsetnx(meta, "shards", self.shards)
        self.client.hsetnx(meta, "layout", LAYOUT_VERSION)
        stored = int(self.client.hget(meta, "shards") or self.shards)
        if stored != self.shards:
            raise Conflict(f"the store was created with {stored} shards but LEARNGUARD_SHARDS is "
                           f"{self.shards}; set LEARNGUARD_SHARDS={stored}")
        for shard in range(self.shards):
            try:
                self.client.xgroup_create(self.keys.events(shard), STREAM_GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        try:
            self.client.config_set("set-max-intset-entries", 4096)
        except redis.RedisError:
            pass  # a managed server may refuse CONFIG; dedup sets then just use more memory

    # -- ingest -----------------------------------------------------------------------
    def ingest(self, events: list[Event]) -> list[bool]:
        """Append events to their shard streams, dropping ids already accepted.

        Returns, per event, whether it was new. One script call per shard, all in one
        pipeline: a single round trip whatever the batch size.
        """
        by_shard: dict[int, list[int]] = defaultdict(list)
        for index, event in enumerate(events):
            by_shard[shard_of(event.learner_id, self.shards)].append(index)
        pipe = self.client.pipeline(transaction=False)
        order: list[list[int]] = []
        for shard, indexes in by_shard.items():
            session_keys: dict[str, int] = {}
            args: list[bytes | str | int] = [len(indexes)]
            for index in indexes:
                event = events[index]
                key = self.keys.event_ids(shard, event.session_id)
                if key not in session_keys:
                    session_keys[key] = len(session_keys) + 3
                args += [session_keys[key], event_id_digest(event.event_id), encode_event(event)]
            key_list = [self.keys.events(shard), self.keys.stats(shard), *session_keys]
            self._ingest(keys=key_list, args=args, client=pipe)
            order.append(indexes)
        fresh = [False] * len(events)
        try:
            results = pipe.execute()
        except redis.RedisError as exc:
            raise Unavailable(f"the event store did not accept the batch: {exc}") from exc
        for indexes, flags in zip(order, results, strict=True):
            for index, flag in zip(indexes, flags, strict=True):
                fresh[index] = bool(flag)
        return fresh

    # -- courses ----------------------------------------------------------------------
    def put_course(self, course_id: str, course: Course) -> None:
        self.client.set(self.keys.course(course_id), _encode_json(course))

    def get_course(self, course_id: str) -> Course | None:
        raw = self.client.get(self.keys.course(course_id))
        return _decode_course(raw) if raw else None

    def get_courses(self, course_ids: Iterable[str]) -> dict[str, Course | None]:
        ids = list(dict.fromkeys(course_ids))
        if not ids:
            return {}
        raws = self.client.mget([self.keys.course(cid) for cid in ids])
        return {cid: (_decode_course(raw) if raw else None) for cid, raw in zip(ids, raws, strict=True)}

    # -- sessions ---------------------------------------------------------------------
    def accepted_counts(self, session_id: str) -> dict[int, int]:
        """Events accepted for a session, per shard that has any (one round trip)."""
        pipe = self.client.pipeline(transaction=False)
        for shard in range(self.shards):
            pipe.scard(self.keys.event_ids(shard, session_id))
        return {shard: count for shard, count in enumerate(pipe.execute()) if count}

    def load_record(self, shard: int, session_id: str) -> SessionRecord | None:
        raw = self.client.get(self.keys.session(shard, session_id))
        return _decode_record(raw) if raw else None

    def load_records(self, shard: int, session_ids: list[str]) -> dict[str, SessionRecord]:
        if not session_ids:
            return {}
        raws = self.client.mget([self.keys.session(shard, sid) for sid in session_ids])
        return {sid: _decode_record(raw) for sid, raw in zip(session_ids, raws, strict=True) if raw}

    # -- worker side ------------------------------------------------------------------
    def try_lease(self, shard: int, owner: str, lease_ms: int) -> bool:
        return bool(self.client.set(self.keys.lease(shard), owner, nx=True, px=lease_ms))

    def renew_leases(self, shards: list[int], owner: str, lease_ms: int) -> list[int]:
        """Renew the given leases; returns the shards still held."""
        pipe = self.client.pipeline(transaction=False)
        for shard in shards:
            self._renew(keys=[self.keys.lease(shard)], args=[owner, lease_ms], client=pipe)
        return [shard for shard, ok in zip(shards, pipe.execute(), strict=True) if ok]

    def release_lease(self, shard: int, owner: str) -> None:
        self._release(keys=[self.keys.lease(shard)], args=[owner])

    def claim_idle(self, shard: int, consumer: str, min_idle_ms: int) -> bool:
        """Take over entries idle for ``min_idle_ms`` (a dead owner's); True if any were claimed."""
        start: bytes | str = "0-0"
        claimed = False
        while True:
            reply = self.client.xautoclaim(self.keys.events(shard), STREAM_GROUP, consumer, min_idle_ms,
                                           start_id=start, count=1000)
            start = reply[0]
            claimed = claimed or bool(reply[1])
            if start in (b"0-0", "0-0"):
                return claimed

    def read_pending(self, shard: int, consumer: str, count: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Entries delivered to ``consumer`` and not acked yet."""
        reply = self.client.xreadgroup(STREAM_GROUP, consumer, {self.keys.events(shard): "0"}, count=count)
        return reply[0][1] if reply else []

    def read_new(self, shards: list[int], consumer: str, count: int, block_ms: int | None
                 ) -> dict[int, list[tuple[bytes, dict[bytes, bytes]]]]:
        """New entries of several shards in one call (blocking up to ``block_ms``)."""
        streams = {self.keys.events(shard): ">" for shard in shards}
        by_stream = {self.keys.events(shard).encode(): shard for shard in shards}
        reply = self.client.xreadgroup(STREAM_GROUP, consumer, streams, count=count, block=block_ms)
        return {by_stream[stream]: entries for stream, entries in reply or [] if entries}

    def applied_id(self, shard: int) -> bytes | None:
        return self.client.get(self.keys.applied(shard))

    def commit(self, shard: int, owner: str, last_id: bytes, applied_events: int,
               records: dict[str, SessionRecord], dead: list[tuple[bytes, str, bytes]],
               ack_ids: list[bytes], blobs: dict[str, bytes] | None = None) -> str:
        """Write a batch's effect and ack its entries in one atomic script.

        Returns ``ok``, ``lease_lost`` (another worker owns the shard now: nothing written)
        or ``stale`` (the batch was applied already: nothing written).
        """
        keys = [self.keys.lease(shard), self.keys.applied(shard), self.keys.stats(shard),
                self.keys.dead(shard), self.keys.events(shard)]
        args: list[bytes | str | int] = [owner, last_id, applied_events, len(dead)]
        for source_id, error, payload in dead:
            args += [source_id, error, payload]
        for session_id, record in records.items():
            keys.append(self.keys.session(shard, session_id))
            args.append(_encode_record(record))
        for key, blob in (blobs or {}).items():
            keys.append(key)
            args.append(blob)
        args += [len(ack_ids), STREAM_GROUP, *ack_ids]
        outcome = self._commit(keys=keys, args=args)
        return outcome.decode() if isinstance(outcome, bytes) else str(outcome)

    def ack(self, shard: int, entry_ids: list[bytes]) -> None:
        if entry_ids:
            self.client.xack(self.keys.events(shard), STREAM_GROUP, *entry_ids)

    def load_learner_courses(self, shard: int, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], LearnerCourse]:
        if not pairs:
            return {}
        raws = self.client.mget([self.keys.learner_course(shard, lid, cid) for lid, cid in pairs])
        return {pair: _decode_lc(raw) for pair, raw in zip(pairs, raws, strict=True) if raw}

    def load_learner_course(self, learner_id: str, course_id: str) -> LearnerCourse | None:
        raw = self.client.get(self.keys.learner_course(shard_of(learner_id, self.shards), learner_id, course_id))
        return _decode_lc(raw) if raw else None

    def encode_learner_course(self, record: LearnerCourse) -> bytes:
        return _encode(record)

    def load_cohort_blob(self, shard: int, course_id: str) -> bytes | None:
        return self.client.get(self.keys.cohort(shard, course_id))

    def index_sessions(self, shard: int, summaries: dict[str, SessionSummary],
                       pairs: set[tuple[str, str]]) -> None:
        """Record which sessions each device ran, which courses each learner takes and who is in
        each course (all idempotent: a replay rewrites the same members)."""
        pipe = self.client.pipeline(transaction=False)
        for session_id, summary in summaries.items():
            if summary.device:
                pipe.hset(self.keys.device(summary.device), session_id, _encode(summary))
        for learner_id, course_id in pairs:
            pipe.sadd(self.keys.learner_courses(shard, learner_id), course_id)
            pipe.sadd(self.keys.roster(course_id), learner_id)
            pipe.sadd(self.keys.all_courses(), course_id)
        pipe.execute()

    def courses_of(self, learner_id: str) -> list[str]:
        shard = shard_of(learner_id, self.shards)
        return sorted(c.decode() for c in self.client.smembers(self.keys.learner_courses(shard, learner_id)))

    def roster_learner_courses(self, course_id: str) -> list[LearnerCourse]:
        """Every learner x course record of a course (for course-wide models such as Rasch)."""
        learners = sorted(m.decode() for m in self.client.smembers(self.keys.roster(course_id)))
        pipe = self.client.pipeline(transaction=False)
        for learner_id in learners:
            pipe.get(self.keys.learner_course(shard_of(learner_id, self.shards), learner_id, course_id))
        return [_decode_lc(raw) for raw in pipe.execute() if raw]

    def course_ids(self) -> list[str]:
        return sorted(c.decode() for c in self.client.smembers(self.keys.all_courses()))

    def devices_sessions(self, devices: list[str]) -> dict[str, dict[str, SessionSummary]]:
        """Sessions of many devices in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for device in devices:
            pipe.hgetall(self.keys.device(device))
        return {device: {k.decode(): _decode_summary(v) for k, v in raw.items()}
                for device, raw in zip(devices, pipe.execute(), strict=True)}

    def register_flags(self, refs: dict[str, FlagRef]) -> None:
        """Remember what each served flag is about, so it can be reviewed by id (idempotent)."""
        if not refs:
            return
        pipe = self.client.pipeline(transaction=False)
        for flag_id, ref in refs.items():
            pipe.set(self.keys.flag(flag_id), _encode(ref))
        pipe.execute()

    def flag_ref(self, flag_id: str) -> FlagRef | None:
        raw = self.client.get(self.keys.flag(flag_id))
        return msgspec.msgpack.decode(raw, type=FlagRef) if raw else None

    def add_review(self, flag_id: str, review: Review) -> list[Review]:
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(self.keys.reviews(flag_id), _encode(review))
        pipe.lrange(self.keys.reviews(flag_id), 0, -1)
        return [msgspec.msgpack.decode(raw, type=Review) for raw in pipe.execute()[1]]

    def reviews_of(self, flag_ids: list[str]) -> dict[str, list[Review]]:
        if not flag_ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for flag_id in flag_ids:
            pipe.lrange(self.keys.reviews(flag_id), 0, -1)
        return {flag_id: [msgspec.msgpack.decode(raw, type=Review) for raw in raws]
                for flag_id, raws in zip(flag_ids, pipe.execute(), strict=True) if raws}

    def cached_blob(self, key: str) -> bytes | None:
        return self.client.get(key)

    def cache_blob(self, key: str, blob: bytes, ttl_s: int) -> None:
        self.client.set(key, blob, ex=ttl_s)

    def context_of(self, learner_id: str, course_id: str, devices: list[str]
                   ) -> tuple[LearnerCourse | None, dict[str, SessionSummary], Course | None]:
        """What the read-time detectors need, in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self.keys.learner_course(shard_of(learner_id, self.shards), learner_id, course_id))
        pipe.get(self.keys.course(course_id))
        for device in devices:
            pipe.hgetall(self.keys.device(device))
        raw_lc, raw_course, *raw_devices = pipe.execute()
        sessions: dict[str, SessionSummary] = {}
        for raw in raw_devices:
            sessions.update({k.decode(): _decode_summary(v) for k, v in raw.items()})
        return (_decode_lc(raw_lc) if raw_lc else None, sessions,
                _decode_course(raw_course) if raw_course else None)

    def device_sessions(self, device_id: str) -> dict[str, SessionSummary]:
        raw = self.client.hgetall(self.keys.device(device_id))
        return {k.decode(): _decode_summary(v) for k, v in raw.items()}

    def trim_cutoff(self, shard: int, retention_ms: int) -> int:
        """Stream ids (ms) below this are applied and older than the retention window."""
        applied = self.applied_id(shard)
        if applied is None:
            return 0
        return max(0, min(int(applied.split(b"-")[0]), int(time.time() * 1000) - retention_ms))

    def entries_before(self, shard: int, cutoff_ms: int, count: int = 5000) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """The oldest stream entries with ids below ``cutoff_ms`` (one page)."""
        if cutoff_ms <= 0:
            return []
        return self.client.xrange(self.keys.events(shard), min="-", max=f"({cutoff_ms}-0", count=count)

    def trim_through(self, shard: int, last_id: bytes) -> None:
        """Drop stream entries up to and including ``last_id`` (exactly: nothing unarchived goes)."""
        ms, _, seq = last_id.partition(b"-")
        self.client.xtrim(self.keys.events(shard), minid=f"{int(ms)}-{int(seq or 0) + 1}", approximate=False)

    def heartbeat(self, worker_id: str, lease_ms: int) -> int:
        """Record a live worker; returns how many workers were alive within three leases."""
        now = int(time.time() * 1000)
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.keys.workers(), {worker_id: now})
        pipe.zremrangebyscore(self.keys.workers(), 0, now - 3 * lease_ms)
        pipe.zcard(self.keys.workers())
        return int(pipe.execute()[-1])

    def forget_worker(self, worker_id: str) -> None:
        self.client.zrem(self.keys.workers(), worker_id)

    # -- operations -------------------------------------------------------------------
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
