"""The model registry: versioned artifacts in the store, promoted and rolled back explicitly.

An artifact is an envelope (kind, library versions, created time, feature-schema hash,
training data span and size, evaluation metrics) and a payload (the pickled model). The
registry signs envelope + payload with HMAC-SHA256 under a secret kept in the store and
refuses to unpickle anything whose signature does not verify: it only ever loads what it
wrote itself. Promotion refuses a model whose feature schema differs from the service's.
Every promotion and rollback is recorded with who and when. Workers and the API re-read
the active pointer every few seconds, so a promotion takes effect without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
import platform
import secrets
import threading
import time
from importlib import metadata
from typing import Any, cast

import msgspec
import redis

from learnguard.errors import Conflict, NotFound, Unprocessable
from learnguard.features.vector import FEATURE_NAMES
from learnguard.models.batch import LIVE_KINDS, SessionModel
from learnguard.service.gc_pauses import keep
from learnguard.service.keys import Keys
from learnguard.service.redis_conn import atomic_pipeline

RELOAD_CHECK_S = 2.0


def schema_hash(feature_names: tuple[str, ...] = FEATURE_NAMES) -> str:
    return hashlib.sha256("\n".join(feature_names).encode()).hexdigest()[:16]


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("numpy", "scikit-learn", "pyod", "river", "learnguard"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "?"
    return versions


class Envelope(msgspec.Struct):
    version: str
    kind: str
    created_at: float
    created_by: str
    schema_hash: str
    feature_names: list[str]
    libraries: dict[str, str]
    training: dict[str, Any]
    metrics: dict[str, Any]
    live: bool


class Registry:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._cache: tuple[str | None, SessionModel | None, Envelope | None] = (None, None, None)
        self._checked = 0.0
        self._lock = threading.Lock()  # the API's request threads and its row refresher share it

    def _k(self, suffix: str) -> str:
        return self.keys.models(suffix)

    def _secret(self) -> bytes:
        self.client.set(self._k("secret"), secrets.token_bytes(32), nx=True)
        return cast(bytes, self.client.get(self._k("secret")))

    # -- writing ----------------------------------------------------------------------
    def register(self, model: SessionModel, training: dict[str, Any], metrics: dict[str, Any], by: str) -> Envelope:
        """Store a trained model as a new version (not active until promoted)."""
        number = int(self.client.incr(self._k("seq")))
        envelope = Envelope(version=f"v{number}", kind=model.kind, created_at=time.time(), created_by=by,
                            schema_hash=schema_hash(model.feature_names), feature_names=list(model.feature_names),
                            libraries=library_versions(), training=training, metrics=metrics,
                            live=model.kind in LIVE_KINDS)
        head = msgspec.json.encode(envelope)
        payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        signature = hmac.new(self._secret(), head + b"\0" + payload, hashlib.sha256).hexdigest()
        self.client.hset(self._k(f"artifact:{envelope.version}"),
                         mapping={"envelope": head, "payload": payload, "signature": signature})
        self.client.zadd(self._k("versions"), {envelope.version: number})
        return envelope

    def promote(self, version: str, by: str) -> Envelope:
        envelope = self.envelope(version)
        if envelope.schema_hash != schema_hash():
            raise Unprocessable(f"model {version} was trained on feature schema {envelope.schema_hash} "
                                f"({len(envelope.feature_names)} features) but this service computes "
                                f"{schema_hash()} ({len(FEATURE_NAMES)} features): retrain it on a fresh export")
        if not envelope.live:
            raise Unprocessable(f"model {version} is {envelope.kind}, which costs ~0.4 s a call: it is for batch "
                                f"scoring only; promote an iforest, hbos, ensemble or semi model")
        self.load(version)  # refuse now, not at the first score, if it does not verify
        previous = self.active_version()
        pipe = atomic_pipeline(self.client)
        pipe.set(self._k("active"), version)
        pipe.rpush(self._k("history"), msgspec.json.encode(
            {"action": "promote", "version": version, "previous": previous, "by": by, "at": time.time()}))
        pipe.execute()
        return envelope

    def rollback(self, by: str) -> str | None:
        """Make the previously active version active again (None: patterns only)."""
        current = self.active_version()
        if current is None:
            raise Conflict("no model is active: nothing to roll back")
        previous = None
        for raw in reversed(self.client.lrange(self._k("history"), 0, -1)):
            entry = msgspec.json.decode(raw)
            if entry["version"] == current and entry["action"] == "promote":
                previous = entry["previous"]
                break
        pipe = atomic_pipeline(self.client)
        if previous:
            pipe.set(self._k("active"), previous)
        else:
            pipe.delete(self._k("active"))
        pipe.rpush(self._k("history"), msgspec.json.encode(
            {"action": "rollback", "version": previous, "previous": current, "by": by, "at": time.time()}))
        pipe.execute()
        return previous

    # -- reading ----------------------------------------------------------------------
    def active_version(self) -> str | None:
        raw = cast(bytes | None, self.client.get(self._k("active")))
        return raw.decode() if raw else None

    def envelope(self, version: str) -> Envelope:
        raw = cast(bytes | None, self.client.hget(self._k(f"artifact:{version}"), "envelope"))
        if raw is None:
            raise NotFound(f"no model version {version!r}")
        return msgspec.json.decode(raw, type=Envelope)

    def versions(self) -> list[Envelope]:
        return [self.envelope(v.decode()) for v in cast(list[bytes], self.client.zrange(self._k("versions"), 0, -1))]

    def history(self) -> list[dict[str, Any]]:
        return [msgspec.json.decode(raw) for raw in cast(list[bytes], self.client.lrange(self._k("history"), 0, -1))]

    def load(self, version: str) -> tuple[SessionModel, Envelope]:
        """Load a version after checking its signature (never unpickles anything else)."""
        stored = cast(dict[bytes, bytes], self.client.hgetall(self._k(f"artifact:{version}")))
        if not stored:
            raise NotFound(f"no model version {version!r}")
        head, payload = stored[b"envelope"], stored[b"payload"]
        expected = hmac.new(self._secret(), head + b"\0" + payload, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, stored[b"signature"].decode()):
            raise Unprocessable(f"model {version}: signature does not verify; the registry did not write this "
                                f"artifact, so it is not loaded")
        envelope = msgspec.json.decode(head, type=Envelope)
        model = pickle.loads(payload)  # noqa: S301 - signature verified above
        return model, envelope

    def active(self) -> tuple[SessionModel | None, Envelope | None]:
        """The active model, re-checking the pointer at most every ``RELOAD_CHECK_S``."""
        with self._lock:
            cached = self._cache
            now = time.monotonic()
            if now - self._checked < RELOAD_CHECK_S:
                return cached[1], cached[2]
            version = self.active_version()
            if version != cached[0]:
                if version is None:
                    cached = (None, None, None)
                else:
                    model, envelope = self.load(version)
                    cached = (version, model, envelope)
                    keep(f"model {version}")
                self._cache = cached
            self._checked = now
            return cached[1], cached[2]

    def refresh(self) -> None:
        """Forget the cached pointer (tests and the CLI want the change at once)."""
        with self._lock:
            self._checked = 0.0
