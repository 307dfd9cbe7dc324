"""Voided xAPI statements (xAPI 1.0.3 §2.3.2): which statement voided which; and the
statements LearnGuard does not read, kept (capped) so an operator can see what was sent.

A voided statement's events must not count. Events already applied stay in the session's
append-only evidence; a voided statement that arrives (or is retried) after its voiding
is ignored. One hash, read once per statements body.
"""

from __future__ import annotations

from typing import cast

import redis

from learnguard.service.keys import Keys


class VoidBook:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def void(self, pairs: list[tuple[str, str]]) -> None:
        """Record (voided statement id, voiding statement id); the first voiding stays."""
        if not pairs:
            return
        pipe = self.client.pipeline(transaction=False)
        for voided, by in pairs:
            pipe.hsetnx(self.keys.xapi_voided(), voided, by)
        pipe.execute()

    def keep_ignored(self, ignored: list[tuple[str, str | None, bytes]], keep: int = 100_000) -> None:
        """Store statements acknowledged but not read (an unknown verb …), newest kept."""
        if not ignored:
            return
        pipe = self.client.pipeline(transaction=False)
        for statement_id, why, raw in ignored:
            pipe.xadd(self.keys.xapi_ignored(), {"id": statement_id, "why": why or "", "statement": raw},
                      maxlen=keep, approximate=True)
        pipe.execute()

    def ignored(self, count: int = 100) -> list[dict[str, str]]:
        """The latest ignored statements, newest first."""
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]],
                       self.client.xrevrange(self.keys.xapi_ignored(), count=count))
        return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]

    def voided(self, statement_ids: list[str]) -> set[str]:
        """Which of these statement ids have been voided."""
        if not statement_ids:
            return set()
        found = self.client.hmget(self.keys.xapi_voided(), statement_ids)
        return {sid for sid, by in zip(statement_ids, found, strict=True) if by is not None}
