"""Course descriptions as platforms put them (contract §2)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import cast

import msgspec
import redis

from learnguard.features.course import Course
from learnguard.service.keys import Keys
from learnguard.service.redis_conn import mget_any

_decode_course = msgspec.json.Decoder(Course).decode
_encode_json = msgspec.json.Encoder().encode


_DECODED: dict[bytes, Course] = {}
_DECODED_MAX = 256


def decode_course(raw: bytes | None) -> Course | None:
    """A course from its stored JSON, decoded once per distinct description (a described
    course with its videos and checkpoints took a third of a score's time to decode)."""
    if not raw:
        return None
    course = _DECODED.get(raw)
    if course is None:
        if len(_DECODED) >= _DECODED_MAX:
            _DECODED.clear()
        course = _DECODED[raw] = _decode_course(raw)
    return course


class CourseBook:
    """Course descriptions of one deployment."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._recent: dict[str, tuple[float, Course | None]] = {}

    def put(self, course_id: str, course: Course) -> None:
        self.client.set(self.keys.course(course_id), _encode_json(course))
        self._recent.pop(course_id, None)

    def get_recent(self, course_id: str, max_age_s: float = 2.0) -> Course | None:
        """The course as read at most ``max_age_s`` ago by this process (hot paths that run
        hundreds of times a second for one course: the challenge endpoint)."""
        now = time.monotonic()
        seen = self._recent.get(course_id)
        if seen is not None and now - seen[0] <= max_age_s:
            return seen[1]
        course = self.get(course_id)
        if len(self._recent) > 10_000:
            self._recent.clear()
        self._recent[course_id] = (now, course)
        return course

    def get(self, course_id: str) -> Course | None:
        return decode_course(cast(bytes | None, self.client.get(self.keys.course(course_id))))

    def get_many(self, course_ids: Iterable[str]) -> dict[str, Course | None]:
        ids = list(dict.fromkeys(course_ids))
        if not ids:
            return {}
        raws = mget_any(self.client, [self.keys.course(cid) for cid in ids])
        return {cid: decode_course(raw) for cid, raw in zip(ids, raws, strict=True)}
