"""Flags by id and the supervisors' reviews of them (appended, never overwritten)."""

from __future__ import annotations

from typing import Any, cast

import msgspec
import redis

from learnguard.detector.records import FlagRef, Review
from learnguard.service.keys import Keys
from learnguard.service.rows import member as rows_member

_encode = msgspec.msgpack.Encoder().encode
_decode_ref = msgspec.msgpack.Decoder(FlagRef).decode
_decode_review = msgspec.msgpack.Decoder(Review).decode


class FlagBook:
    """What each served flag is about, and its review history."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def register(self, refs: dict[str, FlagRef]) -> dict[str, list[Review]]:
        """Remember what each served flag is about, so it can be reviewed by id (idempotent),
        and return the flags' review histories — one round trip, on every score's path."""
        if not refs:
            return {}
        flag_ids = sorted(refs)
        pipe = self.client.pipeline(transaction=False)
        for flag_id in flag_ids:
            pipe.set(self.keys.flag(flag_id), _encode(refs[flag_id]))
        for flag_id in flag_ids:
            pipe.lrange(self.keys.reviews(flag_id), 0, -1)
        results = cast(list[Any], pipe.execute())[len(flag_ids):]
        return {flag_id: [_decode_review(raw) for raw in raws]
                for flag_id, raws in zip(flag_ids, results, strict=True) if raws}

    def ref(self, flag_id: str) -> FlagRef | None:
        raw = cast(bytes | None, self.client.get(self.keys.flag(flag_id)))
        return _decode_ref(raw) if raw else None

    def add_review(self, flag_id: str, review: Review) -> list[Review]:
        """Append a review (or an appeal); returns the whole history, oldest first. The
        flag's learner x course report row is marked stale: the ruling changes what counts."""
        pipe = self.client.pipeline(transaction=False)
        pipe.rpush(self.keys.reviews(flag_id), _encode(review))
        pipe.lrange(self.keys.reviews(flag_id), 0, -1)
        pipe.get(self.keys.flag(flag_id))
        _, history, raw_ref = pipe.execute()
        if raw_ref:
            ref = _decode_ref(raw_ref)
            self.client.sadd(self.keys.rows_dirty(), rows_member(ref.course_id, ref.learner_id))
        return [_decode_review(raw) for raw in history]

    def reviews_of(self, flag_ids: list[str]) -> dict[str, list[Review]]:
        if not flag_ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for flag_id in flag_ids:
            pipe.lrange(self.keys.reviews(flag_id), 0, -1)
        results = cast(list[Any], pipe.execute())
        return {flag_id: [_decode_review(raw) for raw in raws]
                for flag_id, raws in zip(flag_ids, results, strict=True) if raws}
