"""The supervisors' read model: one report row per learner x course, kept up to date.

A report must not recompute every learner's complete score on every read (with a
promoted model that took tens of seconds for a few hundred learners). Instead each
learner x course has a stored row — its standing study time, its flags with their
rulings, and when each session started with the patterns that stand on it — and reports
read rows. A row is recomputed when it is marked dirty:

- the worker marks the learner x course pairs of every batch it commits (before and after
  the commit: a mark taken by a refresh in between is made again);
- a ruling or an appeal marks the flag's learner x course;
- a course description marks the course's roster (its deadline moves cramming);
- a promotion or rollback of the model makes every row dirty (``rows_model`` differs from
  the active version): a rebuild job, its progress readable at ``/v1/reports/status``.

A row is stored four ways, so a report over a province reads only what it needs as
fixed-width records that numpy takes without a Python loop per row:

- ``ROW`` (every row): learner hash, unit, sessions, standing hours, span, flagged, confirmed;
- ``FLAG`` (rows with flags): per flag its pattern, status, confidence and span;
- ``MARK`` (every row): per session its start and the patterns standing on it;
- the detail (rows with flags): the flags with reasons and rulings, read for one page.

Units are numbered (``{p}:rows:orgs``) so records stay fixed-width. This module only
moves rows and marks; ``service.reports`` computes them, ``service.report_queries`` reads.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from typing import Any, NamedTuple, cast

import numpy as np
import redis

from learnguard.service.keys import Keys

SEP = "\x1f"

ROW = np.dtype([("learner", "<u8"), ("org", "<u4"), ("sessions", "<u4"), ("effective", "<f4"),
                ("first", "<f8"), ("last", "<f8"), ("flagged", "u1"), ("confirmed", "u1")])
FLAG = np.dtype([("org", "<u4"), ("pattern", "u1"), ("status", "u1"), ("misconduct", "u1"),
                 ("confidence", "<f4"), ("start", "<f8"), ("end", "<f8")])
MARK = np.dtype([("org", "<u4"), ("first", "<f8"), ("patterns", "<u2")])
STATUSES = ("open", "confirmed", "dismissed", "appealed")


class StoredRow(NamedTuple):
    """A row as stored: its fixed-width records and its detail (empty when it has no flags)."""

    row: bytes
    flags: bytes
    marks: bytes
    detail: bytes


class Tables(NamedTuple):
    """Records of several courses: the array and each record's course index; for flags (and
    the other kinds read ``with_learners``) each record's row — an index into ``learners``
    and ``row_course``, one entry per learner x course stored."""

    records: np.ndarray
    course: np.ndarray
    row: np.ndarray
    learners: list[str]
    row_course: np.ndarray


def member(course_id: str, learner_id: str) -> str:
    """The dirty set's member for a learner x course."""
    return f"{course_id}{SEP}{learner_id}"


def pair_of(raw: bytes | str) -> tuple[str, str]:
    """(course, learner) of a dirty set member."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    course_id, learner_id = text.split(SEP, 1)
    return course_id, learner_id


class RowBook:
    """Stored report rows (msgpack blobs by course and learner) and the marks of stale ones."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def mark(self, pairs: set[tuple[str, str]] | list[tuple[str, str]], pipe: Any = None) -> None:
        """Mark learner x course pairs (learner, course) dirty; into ``pipe`` when given."""
        if not pairs:
            return
        target = pipe if pipe is not None else self.client
        target.sadd(self.keys.rows_dirty(), *{member(course_id, learner_id) for learner_id, course_id in pairs})

    def mark_courses(self, course_ids: list[str]) -> int:
        """Mark every learner of the courses dirty; returns how many pairs."""
        pipe = self.client.pipeline(transaction=False)
        for course_id in course_ids:
            pipe.smembers(self.keys.roster(course_id))
        pairs = [(learner.decode(), course_id) for course_id, learners in zip(course_ids, pipe.execute(), strict=True)
                 for learner in learners]
        for start in range(0, len(pairs), 5000):
            self.mark(pairs[start:start + 5000])
        return len(pairs)

    def take(self, count: int) -> dict[str, list[str]]:
        """Up to ``count`` dirty pairs, removed from the set: learners by course."""
        raws = cast(list[bytes], self.client.spop(self.keys.rows_dirty(), count) or [])
        by_course: dict[str, list[str]] = defaultdict(list)
        for raw in raws:
            course_id, learner_id = pair_of(raw)
            by_course[course_id].append(learner_id)
        return dict(by_course)

    def pending(self) -> int:
        return cast(int, self.client.scard(self.keys.rows_dirty()))

    def records_of(self, course_id: str, learners: list[str]) -> dict[str, np.void]:
        """The stored ``ROW`` records of these learners (before a refresh overwrites them)."""
        raws = cast(list[bytes | None], self.client.hmget(self.keys.rows(course_id), learners)) if learners else []
        return {learner: np.frombuffer(raw, dtype=ROW)[0] for learner, raw in zip(learners, raws, strict=True)
                if raw}

    def write(self, course_id: str, rows: dict[str, StoredRow], gone: list[str]) -> None:
        """Store a course's rows (learner -> records and detail); drop the rows of learners gone."""
        pipe = self.client.pipeline(transaction=False)
        flagged = {k: v for k, v in rows.items() if v.flags}
        unflagged = [*gone, *(k for k, v in rows.items() if not v.flags)]
        if rows:
            pipe.hset(self.keys.rows(course_id), mapping={k: v.row for k, v in rows.items()})  # type: ignore[arg-type]
            pipe.hset(self.keys.rows_marks(course_id),
                      mapping={k: v.marks for k, v in rows.items()})  # type: ignore[arg-type]
        if flagged:
            pipe.hset(self.keys.rows_flags(course_id),
                      mapping={k: v.flags for k, v in flagged.items()})  # type: ignore[arg-type]
            pipe.hset(self.keys.rows_detail(course_id),
                      mapping={k: v.detail for k, v in flagged.items()})  # type: ignore[arg-type]
        if gone:
            pipe.hdel(self.keys.rows(course_id), *gone)
            pipe.hdel(self.keys.rows_marks(course_id), *gone)
        if unflagged:
            pipe.hdel(self.keys.rows_flags(course_id), *unflagged)
            pipe.hdel(self.keys.rows_detail(course_id), *unflagged)
        pipe.execute()

    def org_numbers(self, orgs: set[str]) -> dict[str, int]:
        """The number of each unit (numbered on first sight; never renumbered)."""
        known = self.org_table()
        missing = sorted(orgs - set(known))
        for org in missing:
            number = cast(int, self.client.incr(self.keys.rows_org_seq()))
            self.client.hsetnx(self.keys.rows_orgs(), org, number)
        if missing:
            known = self.org_table()
        return {org: known[org] for org in orgs}

    def org_table(self) -> dict[str, int]:
        raw = cast(dict[bytes, bytes], self.client.hgetall(self.keys.rows_orgs()))
        return {k.decode(): int(v) for k, v in raw.items()}

    def tables(self, kind: str, course_ids: list[str], with_learners: bool = False) -> Tables:
        """The ``ROW``, ``FLAG`` or ``MARK`` records of the courses, in one round trip (flags,
        and the other kinds ``with_learners``, name each record's learner)."""
        dtype, key = {"row": (ROW, self.keys.rows), "flag": (FLAG, self.keys.rows_flags),
                      "mark": (MARK, self.keys.rows_marks)}[kind]
        pipe = self.client.pipeline(transaction=False)
        named = kind == "flag" or with_learners
        for course_id in course_ids:
            if named:
                pipe.hgetall(key(course_id))
            else:
                pipe.hvals(key(course_id))
        chunks: list[bytes] = []
        course: list[np.ndarray] = []
        learners: list[str] = []
        counts: list[int] = []
        row_course: list[int] = []
        for index, answer in enumerate(pipe.execute()):
            values = list(answer.values()) if named else answer
            if named:
                learners.extend(learner.decode() for learner in answer)
                counts.extend(len(value) // dtype.itemsize for value in values)
                row_course.extend([index] * len(values))
            blob = b"".join(values)
            chunks.append(blob)
            course.append(np.full(len(blob) // dtype.itemsize, index, dtype=np.int32))
        records = np.frombuffer(b"".join(chunks), dtype=dtype)
        rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts) if named else np.zeros(0, np.int64)
        return Tables(records, np.concatenate(course) if course else np.zeros(0, np.int32), rows, learners,
                      np.array(row_course, dtype=np.int32))

    def details(self, wanted: list[tuple[str, str]]) -> list[bytes | None]:
        """The detail of each (course, learner), in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for course_id, learner_id in wanted:
            pipe.hget(self.keys.rows_detail(course_id), learner_id)
        return cast(list[bytes | None], pipe.execute())

    def counts(self, course_ids: list[str]) -> int:
        pipe = self.client.pipeline(transaction=False)
        for course_id in course_ids:
            pipe.hlen(self.keys.rows(course_id))
        return sum(cast(list[int], pipe.execute()))

    def busy(self, for_s: float) -> str:
        """Note a refresh under way (until it says idle, or ``for_s`` passes if it dies)."""
        token = uuid.uuid4().hex
        self.client.zadd(self.keys.rows_busy(), {token: time.time() + for_s})
        return token

    def idle(self, token: str) -> None:
        self.client.zrem(self.keys.rows_busy(), token)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no refresh is under way anywhere (one that died counts until its time is
        up); False if one still is after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            now = time.time()
            self.client.zremrangebyscore(self.keys.rows_busy(), "-inf", now)
            if not self.client.zcard(self.keys.rows_busy()):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def built_for(self) -> str | None:
        """The model version the rows were built with ('' for none; None if never built)."""
        raw = cast(bytes | None, self.client.get(self.keys.rows_model()))
        return None if raw is None else raw.decode()

    def set_built_for(self, version: str) -> None:
        self.client.set(self.keys.rows_model(), version)

    def rebuild_total(self) -> int:
        raw = cast(bytes | None, self.client.get(self.keys.rows_rebuild()))
        return int(raw) if raw else 0

    def set_rebuild_total(self, total: int) -> None:
        self.client.set(self.keys.rows_rebuild(), total)
