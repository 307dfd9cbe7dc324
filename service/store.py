"""The store: one Redis connection and the adapters that alone read and write its keys.

    Store
    ├── streams    Streams       the log: ingest, leases, reads, commits, trims, counters
    ├── sessions   SessionIndex  session records (compacted ones read back from the cold store),
    │                            learner × course, cohorts, indexes
    ├── courses    CourseBook    course descriptions
    ├── flags      FlagBook      flags by id and their reviews
    ├── owners     OwnerBook     which org owns each session, learner and course id
    ├── limits     RateLimiter   per-key token buckets
    ├── apikeys    KeyStore      access keys (hashes only)
    └── registry   Registry      signed model artifacts, the active version, history

Every key is built in ``keys``; nothing else in the project names a Redis key.
"""

from __future__ import annotations

import logging
from typing import cast

import redis
from redis.exceptions import RedisClusterException

from learnguard.errors import Conflict
from learnguard.service.apikeys import KeyStore
from learnguard.service.challenges import ChallengeBook
from learnguard.service.cold import ColdStore
from learnguard.service.courses import CourseBook
from learnguard.service.flags import FlagBook
from learnguard.service.keys import LAYOUT_VERSION, Keys
from learnguard.service.limits import RateLimiter
from learnguard.service.offline import OfflineBook
from learnguard.service.owners import OwnerBook
from learnguard.service.redis_conn import connect, is_cluster, replicas_to_await, stop_embedded, used_memory
from learnguard.service.registry import Registry
from learnguard.service.rows import RowBook
from learnguard.service.sessions import SessionIndex
from learnguard.service.streams import Streams
from learnguard.service.voids import VoidBook
from learnguard.service.webhooks import HookBook
from learnguard.settings import Settings

log = logging.getLogger("learnguard.store")

StoreError = redis.RedisError  # what the API maps to 503 when the store cannot answer


class Store:
    """Redis access for one deployment (a key prefix and a shard count)."""

    def __init__(self, client: redis.Redis, keys: Keys, shards: int, cold: ColdStore | None = None) -> None:
        self.client = client
        self.keys = keys
        self.shards = shards
        self.streams = Streams(client, keys, shards)
        self.sessions = SessionIndex(client, keys, shards, cold)
        self.courses = CourseBook(client, keys)
        self.flags = FlagBook(client, keys)
        self.owners = OwnerBook(client, keys)
        self.limits = RateLimiter(client, keys)
        self.apikeys = KeyStore(client, keys)
        self.registry = Registry(client, keys)
        self.challenges = ChallengeBook(client, keys, self.sessions)
        self.rows = RowBook(client, keys)
        self.voids = VoidBook(client, keys)
        self.offline = OfflineBook(client, keys)
        self.hooks = HookBook(client, keys)

    @classmethod
    def open(cls, settings: Settings, client: redis.Redis | None = None) -> Store:
        """Connect and make sure the layout exists and matches the configured shards."""
        client = client if client is not None else connect(settings)
        store = cls(client, Keys(settings.key_prefix), settings.shards, ColdStore(settings.cold_path))
        store.streams.replica_acks = replicas_to_await(settings, client)
        store.streams.replica_ack_timeout_ms = settings.replica_ack_timeout_ms
        store.ensure_layout()
        return store

    def on_same_connection(self, settings: Settings) -> Store:
        """Another store object (a worker thread's) sharing this one's connection pool."""
        return Store.open(settings, self.client)

    def close(self) -> None:
        """Drop this process's connections, and stop the embedded Redis this process started
        unless another process still uses it."""
        if is_cluster(self.client):
            self.client.close()
            return
        self.client.connection_pool.disconnect()
        stop_embedded(self.client)

    def delete_all(self) -> int:
        """Delete every key of this deployment's prefix (tests and evaluation runs)."""
        keys = list(self.client.scan_iter(match=self.keys.pattern(), count=1000))
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start:start + 500])
        return len(keys)

    def ensure_layout(self) -> None:
        meta = self.keys.meta()
        self.client.hsetnx(meta, "shards", self.shards)
        self.client.hsetnx(meta, "layout", LAYOUT_VERSION)
        layout = int(cast(bytes, self.client.hget(meta, "layout")))
        if layout < int(LAYOUT_VERSION):  # a store made by an earlier version: move its indexes
            buckets = self.sessions.migrate_replay_sets() if layout < 2 else 0
            buckets += self.sessions.migrate_replay_strings()
            devices = self.sessions.migrate_device_hashes() if layout < 3 else 0
            self.client.hset(meta, "layout", LAYOUT_VERSION)
            log.info("store moved from layout %d to %s: %d replay buckets, %d devices", layout, LAYOUT_VERSION,
                     buckets, devices)
        stored = int(self.client.hget(meta, "shards") or self.shards)  # type: ignore[arg-type]
        if stored != self.shards:
            raise Conflict(f"the store was created with {stored} shards but LEARNGUARD_SHARDS is "
                           f"{self.shards}; set LEARNGUARD_SHARDS={stored}")
        self.streams.ensure_groups()
        try:  # compact encodings: dedup sets of integers; index hashes whose entries are ~100-byte marks
            self.client.config_set("set-max-intset-entries", 4096)
            self.client.config_set("hash-max-ziplist-value", 256)
        except (redis.RedisError, RedisClusterException):
            pass  # a managed server may refuse CONFIG; dedup sets and indexes then just use more memory

    def ping(self) -> bool:
        return bool(self.client.ping())

    def used_memory(self) -> int | None:
        return used_memory(self.client)

    def describe(self) -> str:
        """Where the store is, for /health and the logs."""
        from learnguard.service.redis_conn import describe

        return describe(self.client)
