"""Course descriptions as platforms put them (contract §2)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import msgspec
import redis

from learnguard.features.course import Course
from learnguard.service.keys import Keys

_decode_course = msgspec.json.Decoder(Course).decode
_encode_json = msgspec.json.Encoder().encode


def decode_course(raw: bytes | None) -> Course | None:
    return _decode_course(raw) if raw else None


class CourseBook:
    """Course descriptions of one deployment."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def put(self, course_id: str, course: Course) -> None:
        self.client.set(self.keys.course(course_id), _encode_json(course))

    def get(self, course_id: str) -> Course | None:
        return decode_course(cast(bytes | None, self.client.get(self.keys.course(course_id))))

    def get_many(self, course_ids: Iterable[str]) -> dict[str, Course | None]:
        ids = list(dict.fromkeys(course_ids))
        if not ids:
            return {}
        raws = cast(list[Any], self.client.mget([self.keys.course(cid) for cid in ids]))
        return {cid: decode_course(raw) for cid, raw in zip(ids, raws, strict=True)}
