"""The session index: session records, learner × course summaries, cohort baselines, and the
indexes the read side walks (a device's sessions, a learner's courses, a course's roster).

The worker writes records, summaries and baselines through ``Streams.commit`` (the blobs
this adapter encodes) and the indexes with ``index_sessions`` after the commit; the read
side and the reports only read.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec
import redis

from learnguard.detector.records import LearnerCourse, SessionRecord, SessionSummary
from learnguard.service.keys import Keys, shard_of

_encode = msgspec.msgpack.Encoder().encode
_decode_lc = msgspec.msgpack.Decoder(LearnerCourse).decode
_decode_summary = msgspec.msgpack.Decoder(SessionSummary).decode
_decode_record = msgspec.msgpack.Decoder(SessionRecord).decode


class SessionIndex:
    """Sessions and what points at them, for one deployment."""

    def __init__(self, client: redis.Redis, keys: Keys, shards: int) -> None:
        self.client = client
        self.keys = keys
        self.shards = shards

    # -- records ----------------------------------------------------------------------
    def load_record(self, shard: int, session_id: str) -> SessionRecord | None:
        raw = cast(bytes | None, self.client.get(self.keys.session(shard, session_id)))
        return _decode_record(raw) if raw else None

    def load_records(self, shard: int, session_ids: list[str]) -> dict[str, SessionRecord]:
        if not session_ids:
            return {}
        raws = cast(list[Any], self.client.mget([self.keys.session(shard, sid) for sid in session_ids]))
        return {sid: _decode_record(raw) for sid, raw in zip(session_ids, raws, strict=True) if raw}

    def record_blobs(self, shard: int, records: dict[str, SessionRecord]) -> dict[str, bytes]:
        """Session records as the key → blob pairs a commit writes."""
        return {self.keys.session(shard, sid): _encode(record) for sid, record in records.items()}

    # -- learner x course -------------------------------------------------------------------
    def load_learner_courses(self, shard: int, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], LearnerCourse]:
        if not pairs:
            return {}
        raws = cast(list[Any], self.client.mget([self.keys.learner_course(shard, lid, cid) for lid, cid in pairs]))
        return {pair: _decode_lc(raw) for pair, raw in zip(pairs, raws, strict=True) if raw}

    def load_learner_course(self, learner_id: str, course_id: str) -> LearnerCourse | None:
        shard = shard_of(learner_id, self.shards)
        raw = cast(bytes | None, self.client.get(self.keys.learner_course(shard, learner_id, course_id)))
        return _decode_lc(raw) if raw else None

    def learner_course_blobs(self, shard: int, records: list[LearnerCourse]) -> dict[str, bytes]:
        return {self.keys.learner_course(shard, lc.learner_id, lc.course_id): _encode(lc) for lc in records}

    def roster_learner_courses(self, course_id: str) -> list[LearnerCourse]:
        """Every learner x course record of a course (for course-wide models such as Rasch)."""
        learners = sorted(m.decode() for m in cast(set[bytes], self.client.smembers(self.keys.roster(course_id))))
        pipe = self.client.pipeline(transaction=False)
        for learner_id in learners:
            pipe.get(self.keys.learner_course(shard_of(learner_id, self.shards), learner_id, course_id))
        return [_decode_lc(raw) for raw in pipe.execute() if raw]

    # -- cohort baselines -------------------------------------------------------------------
    def load_cohort_blob(self, shard: int, course_id: str) -> bytes | None:
        return cast(bytes | None, self.client.get(self.keys.cohort(shard, course_id)))

    def cohort_key(self, shard: int, course_id: str) -> str:
        return self.keys.cohort(shard, course_id)

    # -- indexes ----------------------------------------------------------------------
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
        members = cast(set[bytes], self.client.smembers(self.keys.learner_courses(shard, learner_id)))
        return sorted(c.decode() for c in members)

    def course_ids(self) -> list[str]:
        return sorted(c.decode() for c in cast(set[bytes], self.client.smembers(self.keys.all_courses())))

    def devices_sessions(self, devices: list[str]) -> dict[str, dict[str, SessionSummary]]:
        """Sessions of many devices in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for device in devices:
            pipe.hgetall(self.keys.device(device))
        return {device: {k.decode(): _decode_summary(v) for k, v in raw.items()}
                for device, raw in zip(devices, pipe.execute(), strict=True)}

    def context_of(self, learner_id: str, course_id: str, devices: list[str]
                   ) -> tuple[LearnerCourse | None, dict[str, SessionSummary], bytes | None]:
        """What the read-time detectors need, in one round trip: the learner x course record,
        the sessions of the given devices, and the course's description (raw JSON)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self.keys.learner_course(shard_of(learner_id, self.shards), learner_id, course_id))
        pipe.get(self.keys.course(course_id))
        for device in devices:
            pipe.hgetall(self.keys.device(device))
        raw_lc, raw_course, *raw_devices = pipe.execute()
        sessions: dict[str, SessionSummary] = {}
        for raw in raw_devices:
            sessions.update({k.decode(): _decode_summary(v) for k, v in raw.items()})
        return (_decode_lc(raw_lc) if raw_lc else None), sessions, raw_course

    # -- the Rasch fit cache ---------------------------------------------------------------
    def cached_fit(self, course_id: str) -> bytes | None:
        return cast(bytes | None, self.client.get(self.keys.rasch(course_id)))

    def cache_fit(self, course_id: str, blob: bytes, ttl_s: int) -> None:
        self.client.set(self.keys.rasch(course_id), blob, ex=ttl_s)
