"""``GET /health`` and ``GET /metrics`` (contract §7): no key needed."""

from __future__ import annotations

import logging
import os
from typing import Literal

import msgspec
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from learnguard.api.deps import SettingsDep, StoreDep
from learnguard.api.schemas import HealthPublic, ShardHealth, documented, ref

router = APIRouter(tags=["operations"])
log = logging.getLogger(__name__)
HEALTH_DOCS = documented(HealthPublic, errors=())
HEALTH_DOCS["responses"][503] = {"description": "the store does not answer (the body says so)",
                                 "content": {"application/json": {"schema": ref(HealthPublic)}}}

STREAM_LAG = Gauge("learnguard_stream_lag_events", "Accepted events not yet applied", ["shard"])
DEAD_ENTRIES = Gauge("learnguard_dead_letter_entries", "Entries in dead-letter streams", ["shard"])


@router.get("/health", summary="Store state, stream lag per shard, dead letters",
            **HEALTH_DOCS)
def health(store: StoreDep, settings: SettingsDep) -> Response:
    try:
        store.ping()
        stats = store.streams.shard_stats()
        workers = store.streams.live_workers(settings.lease_ms)
        memory = store.used_memory()
    except Exception as exc:  # the point of /health is to say so, not to fail
        log.error("health: the store does not answer: %s", exc)
        return _answer(HealthPublic(status="down", store={"backend": store.describe(), "ok": False,
                                                           "error": type(exc).__name__}), 503)
    lag = sum(s.lag for s in stats)
    dead = sum(s.dead for s in stats)
    unowned = [s.shard for s in stats if s.owner is None]
    status: Literal["ok", "degraded"] = "ok" if not dead and not (lag and unowned) else "degraded"
    return _answer(HealthPublic(
        status=status, store={"backend": store.describe(), "ok": True, "used_memory_bytes": memory},
        workers=workers, lag=lag, dead_letters=dead, api_process=os.getpid(),
        shards=[ShardHealth(shard=s.shard, lag=s.lag, accepted=s.accepted, applied=s.applied, dead_letters=s.dead,
                            stream_length=s.stream_length, owner=s.owner) for s in stats]))


def _answer(health: HealthPublic, status: int = 200) -> Response:
    return Response(msgspec.json.encode(health), status_code=status, media_type="application/json")


@router.get("/metrics", summary="Prometheus metrics",
            responses={200: {"description": "Prometheus text format",
                             "content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics_endpoint(store: StoreDep) -> Response:
    try:
        for s in store.streams.shard_stats():
            STREAM_LAG.labels(shard=str(s.shard)).set(s.lag)
            DEAD_ENTRIES.labels(shard=str(s.shard)).set(s.dead)
    except Exception:  # metrics still answer when the store is down
        pass
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
