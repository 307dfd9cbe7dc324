"""Redis Sentinel: a ``redis+sentinel://`` URL follows the primary through a failover, and
an event answered as accepted survives the primary's death (ingest waits for a replica).

Runs on a real local Sentinel group (a primary, two replicas, three Sentinels) started by
the test; skipped where ``redis-server`` is not installed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import redis

from learnguard.client import LearnGuardClient
from learnguard.replay import score_all
from learnguard.service.keys import shard_of
from learnguard.service.redis_conn import parse_sentinel_url, replicas_to_await
from learnguard.service.store import Store
from learnguard.settings import Settings
from learnguard.simulator.cohort import simulate_cohort
from tests.conftest import assert_applied_once, make_settings, running_service
from tests.sentinel import LocalSentinel, available

pytestmark = pytest.mark.integration


def test_sentinel_urls_name_every_sentinel_the_service_and_the_db() -> None:
    target = parse_sentinel_url("redis+sentinel://:s%40cret@10.0.0.1:26379,10.0.0.2:26380,10.0.0.3/lg/3")
    assert target.sentinels == [("10.0.0.1", 26379), ("10.0.0.2", 26380), ("10.0.0.3", 26379)]
    assert (target.service, target.db, target.password) == ("lg", 3, "s@cret")
    for wrong in ("redis+sentinel://10.0.0.1:26379", "redis+sentinel:///lg", "redis+sentinel://h:port/lg"):
        with pytest.raises(ValueError):
            parse_sentinel_url(wrong)


def test_ingest_waits_for_a_replica_behind_sentinel_as_configured_and_never_on_the_embedded_server() -> None:
    client = redis.Redis()  # not connected: only its kind is asked
    sentinel = "redis+sentinel://10.0.0.1:26379/lg"
    assert replicas_to_await(Settings(redis_url=sentinel), client) == 1
    assert replicas_to_await(Settings(redis_url=sentinel, replica_acks=0), client) == 0
    assert replicas_to_await(Settings(redis_url="redis://10.0.0.5:6379/0"), client) == 0
    assert replicas_to_await(Settings(redis_url="redis://10.0.0.5:6379/0", replica_acks=2), client) == 2
    assert replicas_to_await(Settings(redis_url=None, replica_acks=1), client) == 0  # it has no replicas


@pytest.fixture
def sentinel_group(tmp_path: Path):
    if not available():
        pytest.skip("needs redis-server to start a local Sentinel group")
    group = LocalSentinel(tmp_path / "sentinel").start()
    try:
        yield group
    finally:
        group.stop()


def test_a_failover_during_ingest_loses_no_accepted_event(sentinel_group: LocalSentinel, tmp_path: Path) -> None:
    """SIGKILL the primary while a platform sends a cohort through HTTP: the Sentinels
    promote a replica, the service follows it, and every event is applied exactly once."""
    settings: Settings = make_settings("server", tmp_path, cold_dir=tmp_path / "cold",
                                       archive_dir=tmp_path / "archive")
    settings = settings.model_copy(update={"redis_url": sentinel_group.url})
    store = Store.open(settings)
    assert store.streams.replica_acks == 1  # behind Sentinel, a batch counts once a replica holds it
    cohort = simulate_cohort(learners=30, seed=8)
    events = cohort.events
    sent_batches: list[int] = []
    done = threading.Event()
    try:
        with running_service(store, settings) as service:
            def send() -> None:
                with LearnGuardClient(service.url, service.keys["platform"], batch=50, attempts=40,
                                      backoff_s=0.2) as client:
                    client.send_events(events, on_batch=sent_batches.append)
                done.set()

            thread = threading.Thread(target=send)
            thread.start()
            deadline = time.monotonic() + 60
            while len(sent_batches) < 20 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert not done.is_set(), "the cohort was sent before the primary died: make it larger"
            old = sentinel_group.primary_port()
            sentinel_group.kill(old)
            killed, killed_at = time.monotonic(), len(sent_batches)
            new = sentinel_group.wait_for_failover(old)
            promoted_after = time.monotonic() - killed
            thread.join(timeout=300)
            assert done.is_set(), "the platform gave up: the service did not follow the new primary"
            print(f"{len(events)} events in {len(sent_batches)} batches; primary {old} killed after batch "
                  f"{killed_at}; promoted {new} after {promoted_after:.1f} s")
            with service.client("admin") as http:
                scores = score_all(http, list(cohort.truth.sessions))
        assert_applied_once(store, scores, events)
    finally:
        store.delete_all()
        store.close()


def test_a_batch_no_replica_holds_is_not_answered_as_accepted(sentinel_group: LocalSentinel, tmp_path: Path) -> None:
    """Both replicas hang: the primary takes the batch but cannot pass it on, so the
    platform hears 503 (a failover now would lose it) instead of 202; once a replica is
    back, the resent batch is answered (as duplicates: the primary kept them) and counted once."""
    settings = make_settings("server", tmp_path, replica_ack_timeout_ms=300).model_copy(
        update={"redis_url": sentinel_group.url})
    store = Store.open(settings)
    events = simulate_cohort(learners=2, seed=4).events[:40]
    try:
        with running_service(store, settings) as service, service.client("platform") as http:
            for port in sentinel_group.data_ports[1:]:
                sentinel_group.pause(port)
            try:
                refused = http.post("/v1/events", json=events)
            finally:
                for port in sentinel_group.data_ports[1:]:
                    sentinel_group.resume(port)
            assert refused.status_code == 503, refused.text
            assert "0 of the 1 replicas" in refused.json()["error"]
            resent = http.post("/v1/events", json=events)
            assert resent.status_code == 202, resent.text
            assert resent.json()["accepted"] + resent.json()["duplicates"] == len(events)
            assert store.streams.replica_acks == 1
        assert sum(store.streams.accepted_counts(e["session_id"]).get(
            shard_of(e["learner_id"], store.shards), 0) for e in {e["session_id"]: e for e in events}.values()) \
            == len(events)
    finally:
        store.delete_all()
        store.close()
