"""Prometheus metrics shared by the API and the in-process workers."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_ACCEPTED = Counter("learnguard_events_accepted_total", "Events accepted onto a stream")
EVENTS_DUPLICATE = Counter("learnguard_events_duplicate_total", "Events dropped as duplicates")
EVENTS_REJECTED = Counter("learnguard_events_rejected_total", "Events rejected by validation")
EVENTS_PROCESSED = Counter("learnguard_events_processed_total", "Events applied by workers")
DEAD_LETTERS = Counter("learnguard_dead_letters_total", "Stream entries moved to a dead-letter stream")
WORKER_ERRORS = Counter("learnguard_worker_round_errors_total", "Worker rounds that failed (store down, bugs)")
WORKER_SHARDS = Gauge("learnguard_worker_owned_shards", "Shards this process's workers own")
WORKER_CACHE = Gauge("learnguard_worker_cache_bytes", "Encoded bytes of session records workers keep in memory")
CHALLENGE_LATENCY = Histogram(
    "learnguard_challenge_seconds", "Latency of POST /v1/sessions/{id}/challenge",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SCORE_LATENCY = Histogram(
    "learnguard_score_seconds", "Latency of POST /v1/sessions/{id}/score",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SESSIONS_COMPACTED = Counter("learnguard_sessions_compacted_total",
                             "Sessions moved to the cold store after their retry window")
SESSIONS_KEPT_LIVE = Counter("learnguard_sessions_kept_live_total",
                             "Sessions past their retry window left live because an event they accepted is not "
                             "applied (dead-lettered, or still on its way); looked at again a retry window later")
