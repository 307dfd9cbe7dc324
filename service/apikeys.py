"""Access keys (contract §6): role + org subtree, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import cast

import msgspec
import redis

from learnguard.service.keys import Keys
from learnguard.service.redis_conn import atomic_pipeline, mget_any

ROLES = ("platform", "supervisor", "analyst", "admin")


class ApiKey(msgspec.Struct):
    """A key's record; ``key_id`` is the first 12 hex digits of its hash (safe to show)."""

    key_id: str
    role: str
    org: str | None
    name: str
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    """Create, look up, list and revoke keys."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def create(self, role: str, org: str | None, name: str) -> tuple[str, ApiKey]:
        """Make a key; the secret is returned once and never stored."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if role != "admin" and not org:
            raise ValueError(f"a {role} key needs --org (the org subtree it may see)")
        secret = "lg_" + secrets.token_urlsafe(24)
        digest = hash_key(secret)
        record = ApiKey(key_id=digest[:12], role=role, org=None if role == "admin" else org,
                        name=name, created_at=time.time())
        pipe = atomic_pipeline(self.client)
        pipe.set(self.keys.api_key(digest), msgspec.json.encode(record))
        pipe.sadd(self.keys.api_keys(), digest)
        pipe.execute()
        return secret, record

    def lookup(self, secret: str) -> ApiKey | None:
        raw = cast(bytes | None, self.client.get(self.keys.api_key(hash_key(secret))))
        return msgspec.json.decode(raw, type=ApiKey) if raw else None

    def _digests(self) -> list[str]:
        return [d.decode() for d in cast(set[bytes], self.client.smembers(self.keys.api_keys()))]

    def list(self) -> list[ApiKey]:
        digests = sorted(self._digests())
        if not digests:
            return []
        raws = mget_any(self.client, [self.keys.api_key(d) for d in digests])
        records = [msgspec.json.decode(raw, type=ApiKey) for raw in raws if raw]
        return sorted(records, key=lambda record: record.created_at)

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke by ``key_id`` (a prefix of the hash, as ``keys list`` shows it)."""
        matches = [d for d in self._digests() if d.startswith(key_id)]
        if len(matches) != 1:
            raise LookupError(f"no single key has id {key_id!r} ({len(matches)} match)")
        raw = cast(bytes, self.client.get(self.keys.api_key(matches[0])))
        record = msgspec.json.decode(raw, type=ApiKey)
        record.revoked_at = time.time()
        self.client.set(self.keys.api_key(matches[0]), msgspec.json.encode(record))
        return record
