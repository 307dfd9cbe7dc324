"""Signed webhooks: tell a platform when a learner's credited hours or standing change.

When the report rows are refreshed (a session changed, a ruling, an appeal), a row whose
standing hours or credit status changed becomes a ``credit.changed`` notification on a
Redis stream — only when some hook is registered. A sender thread (``send_due``) posts each
notification to every hook whose org subtree holds the learner, signed with the hook's
secret (HMAC-SHA256 of ``{timestamp}.{body}``). A target that fails is retried with
back-off (5, 10, 20 … s) and, after the last attempt, parked; every attempt goes to the
hook's delivery log. Nothing here runs on the ingest path: a slow or dead target never
holds up events or scores.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from typing import Any, cast

import httpx
import msgspec
import redis

from learnguard.features.orgs import org_covers
from learnguard.service.keys import Keys

LOG_KEEP = 1000
OUT_KEEP = 100_000
GROUP = "senders"


class Hook(msgspec.Struct):
    hook_id: str
    url: str
    org_id: str | None  # None: an admin's hook, every org
    secret: str
    created_at: float
    created_by: str


class Delivery(msgspec.Struct):
    delivery_id: str
    hook_id: str
    body: bytes
    attempt: int = 0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-LearnGuard-Signature`` value: ``t=<unix s>,v1=<hex HMAC-SHA256 of "t.body">``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class HookBook:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    # -- hooks ---------------------------------------------------------------------------------
    def register(self, url: str, org_id: str | None, created_by: str, secret: str | None = None) -> Hook:
        hook = Hook(f"wh-{uuid.uuid4().hex[:12]}", url, org_id, secret or secrets.token_urlsafe(24), time.time(),
                    created_by)
        self.client.hset(self.keys.hooks(), hook.hook_id, msgspec.msgpack.encode(hook))
        return hook

    def all(self) -> list[Hook]:
        raws = cast(dict[bytes, bytes], self.client.hgetall(self.keys.hooks()))
        return sorted((msgspec.msgpack.decode(raw, type=Hook) for raw in raws.values()), key=lambda h: h.created_at)

    def get(self, hook_id: str) -> Hook | None:
        raw = cast(bytes | None, self.client.hget(self.keys.hooks(), hook_id))
        return msgspec.msgpack.decode(raw, type=Hook) if raw else None

    def remove(self, hook_id: str) -> bool:
        return bool(self.client.hdel(self.keys.hooks(), hook_id))

    def log(self, hook_id: str, limit: int = 100) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in cast(list[bytes], self.client.lrange(self.keys.hook_log(hook_id), 0,
                                                                                  limit - 1))]

    # -- notifications -------------------------------------------------------------------------
    def listening(self) -> bool:
        """Whether any hook is registered (else no change is even computed)."""
        return bool(self.client.exists(self.keys.hooks()))

    def notify(self, changes: list[dict[str, Any]]) -> int:
        """Queue notifications (dropped when no hook is registered: nobody would read them)."""
        if not changes or not self.client.exists(self.keys.hooks()):
            return 0
        pipe = self.client.pipeline(transaction=False)
        for change in changes:
            pipe.xadd(self.keys.hooks_out(), {"body": json.dumps(change, ensure_ascii=False)}, maxlen=OUT_KEEP,
                      approximate=True)
        pipe.execute()
        return len(changes)

    def send_due(self, http: httpx.Client, attempts: int, backoff_s: float, sender: str, block_ms: int = 500) -> int:
        """One round: new notifications fanned out to their hooks, then the retries that are
        due. Returns how many requests were made."""
        self._ensure_group()
        made = 0
        read = cast(list[Any], self.client.xreadgroup(GROUP, sender, {self.keys.hooks_out(): ">"}, count=100,
                                                      block=block_ms))
        hooks = self.all() if read else []
        for _, entries in read:
            for entry_id, fields in entries:
                change = json.loads(fields[b"body"])
                for hook in hooks:
                    if hook.org_id is None or org_covers(hook.org_id, change["org_id"]):
                        body = json.dumps({**change, "delivery_id": f"{entry_id.decode()}:{hook.hook_id}"},
                                          ensure_ascii=False).encode()
                        made += self._attempt(http, hook, Delivery(f"{entry_id.decode()}:{hook.hook_id}",
                                                                   hook.hook_id, body), attempts, backoff_s)
                self.client.xack(self.keys.hooks_out(), GROUP, entry_id)
        for raw in cast(list[bytes], self.client.zrangebyscore(self.keys.hooks_retry(), 0, time.time(), 0, 100)):
            if not self.client.zrem(self.keys.hooks_retry(), raw):
                continue  # another sender took it
            delivery = msgspec.msgpack.decode(raw, type=Delivery)
            retried = self.get(delivery.hook_id)
            if retried is not None:  # None: the hook was removed meanwhile
                made += self._attempt(http, retried, delivery, attempts, backoff_s)
        return made

    def _attempt(self, http: httpx.Client, hook: Hook, delivery: Delivery, attempts: int, backoff_s: float) -> int:
        delivery.attempt += 1
        stamp = int(time.time())
        status: int | None = None
        error = ""
        try:
            answer = http.post(hook.url, content=delivery.body, headers={
                "Content-Type": "application/json", "X-LearnGuard-Event": "credit.changed",
                "X-LearnGuard-Delivery": delivery.delivery_id, "X-LearnGuard-Signature": sign(hook.secret, stamp,
                                                                                               delivery.body)})
            status = answer.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        ok = status is not None and 200 <= status < 300
        outcome = "delivered" if ok else "parked" if delivery.attempt >= attempts else "retrying"
        pipe = self.client.pipeline(transaction=False)
        pipe.lpush(self.keys.hook_log(hook.hook_id), json.dumps({
            "delivery_id": delivery.delivery_id, "attempt": delivery.attempt, "status": status, "error": error,
            "outcome": outcome, "at": time.time()}))
        pipe.ltrim(self.keys.hook_log(hook.hook_id), 0, LOG_KEEP - 1)
        if outcome == "retrying":
            wait = backoff_s * 2 ** (delivery.attempt - 1)
            pipe.zadd(self.keys.hooks_retry(), {msgspec.msgpack.encode(delivery): time.time() + wait})
        elif outcome == "parked":
            pipe.lpush(self.keys.hooks_parked(), msgspec.msgpack.encode(delivery))
            pipe.ltrim(self.keys.hooks_parked(), 0, OUT_KEEP - 1)
        pipe.execute()
        return 1

    def _ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.keys.hooks_out(), GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
