"""Which org owns each id: tenant-safe identity (issue: ids are scoped by org).

Session, learner and course ids are chosen by platforms, so two orgs can name the same
id, by accident or to reach another org's data. The first accepted event that names an
id (or, for a course, its ``PUT``) binds the id to that event's org; later events that
name it are accepted only from inside that org's subtree, or from a key whose own
subtree holds the owner (a province platform sending for one of its universities).
Binding is ``HSETNX``: concurrent first claims agree on one owner.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import redis

from learnguard.service.keys import Keys

KINDS = ("session", "learner", "course")


class OwnerBook:
    """The owning org of every id, per kind."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def bind(self, claims: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
        """Bind each unbound (kind, id) to the org of its first claim; returns every claimed
        id's owner afterwards (one round trip)."""
        first: dict[tuple[str, str], str] = {}
        for kind, identifier, org_id in claims:
            first.setdefault((kind, identifier), org_id)
        if not first:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for (kind, identifier), org_id in first.items():
            pipe.hsetnx(self.keys.owners(kind), identifier, org_id)
            pipe.hget(self.keys.owners(kind), identifier)
        replies = cast(list[Any], pipe.execute())
        return {claim: replies[2 * index + 1].decode() for index, claim in enumerate(first)}

    def owner(self, kind: str, identifier: str) -> str | None:
        raw = cast(bytes | None, self.client.hget(self.keys.owners(kind), identifier))
        return raw.decode() if raw else None

    def set_owner(self, kind: str, identifier: str, org_id: str) -> None:
        """Move an id to another org (a course re-described by an ancestor org)."""
        self.client.hset(self.keys.owners(kind), identifier, org_id)
