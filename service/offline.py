"""Offline training records per learner (``features/offline.py`` reads them)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import msgspec
import redis

from learnguard.features.offline import LineError, OfflineRecord
from learnguard.features.orgs import org_covers
from learnguard.service.keys import Keys

_decode = msgspec.msgpack.Decoder(OfflineRecord).decode


class Imported(msgspec.Struct):
    """What an import did: records new, records seen before, lines refused (with why)."""

    added: int
    duplicates: int
    refused: list[LineError]


class OfflineBook:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def import_lines(self, lines: list[tuple[int, OfflineRecord]], owners: dict[tuple[str, str], str]) -> Imported:
        """Store the records whose learner belongs to their org's line (``owners``: the org
        each learner id is bound to); a learner another unit owns is refused by line."""
        kept: list[OfflineRecord] = []
        refused: list[LineError] = []
        for line, record in lines:
            owner = owners.get(("learner", record.learner_id), record.org_id)
            if org_covers(owner, record.org_id) or org_covers(record.org_id, owner):
                kept.append(record)
            else:
                refused.append(LineError(line, f"learner_id: {record.learner_id!r} belongs to another unit's "
                                               f"records, not to {record.org_id!r}"))
        added = self.add(kept)
        return Imported(added, len(kept) - added, refused)

    def add(self, records: list[OfflineRecord]) -> int:
        """Store the records not stored before (by id); returns how many were new."""
        if not records:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for record in records:
            pipe.hsetnx(self.keys.offline(record.learner_id), record.record_id, msgspec.msgpack.encode(record))
        return sum(1 for added in pipe.execute() if added)

    def of(self, learner_id: str) -> list[OfflineRecord]:
        """A learner's records, oldest first."""
        return self.of_many([learner_id])[learner_id]

    def of_many(self, learner_ids: Iterable[str]) -> dict[str, list[OfflineRecord]]:
        """Several learners' records in one round trip."""
        ids = list(dict.fromkeys(learner_ids))
        pipe = self.client.pipeline(transaction=False)
        for learner_id in ids:
            pipe.hvals(self.keys.offline(learner_id))
        answers = cast(list[Any], pipe.execute()) if ids else []
        return {learner_id: sorted((_decode(raw) for raw in values), key=lambda r: (r.day, r.activity))
                for learner_id, values in zip(ids, answers, strict=True)}
