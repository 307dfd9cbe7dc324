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
from typing import cast

import redis

from learnguard.service import scripts
from learnguard.service.keys import Keys
from learnguard.service.redis_conn import run_scripts

KINDS = ("session", "learner", "course")


class OwnerBook:
    """The owning org of every id, per kind."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._bind = client.register_script(scripts.BIND_OWNERS)

    def bind(self, claims: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
        """Bind each unbound (kind, id) to the org of its first claim; returns every claimed
        id's owner afterwards (one round trip)."""
        first: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
        for kind, identifier, org_id in claims:
            first[kind].setdefault(identifier, org_id)
        kinds = [kind for kind in KINDS if first[kind]]
        if not kinds:
            return {}
        results = run_scripts(self.client, [(self._bind, [self.keys.owners(kind)],
                                             [x for pair in first[kind].items() for x in pair]) for kind in kinds])
        owners: dict[tuple[str, str], str] = {}
        for kind, replies in zip(kinds, results, strict=True):
            owners.update({(kind, identifier): owner.decode()
                           for identifier, owner in zip(first[kind], replies, strict=True)})
        return owners

    def owner(self, kind: str, identifier: str) -> str | None:
        raw = cast(bytes | None, self.client.hget(self.keys.owners(kind), identifier))
        return raw.decode() if raw else None

    def set_owner(self, kind: str, identifier: str, org_id: str) -> None:
        """Move an id to another org (a course re-described by an ancestor org)."""
        self.client.hset(self.keys.owners(kind), identifier, org_id)
