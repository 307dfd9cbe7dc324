"""Redis Cluster: every Lua script touches one slot, and a slot migration during ingest
loses nothing (the second test runs on a real local 3-master cluster; test.sh runs it
with ``LEARNGUARD_TEST_BACKENDS=cluster``, with the contract and worker-recovery suites)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import redis
from redis.cluster import key_slot
from redis.commands.core import Script

from learnguard.client import LearnGuardClient
from learnguard.replay import replay, score_all
from learnguard.service import redis_conn
from learnguard.service.redis_conn import is_cluster
from learnguard.service.store import Store
from learnguard.simulator.cohort import simulate_cohort
from tests.conftest import CLUSTER, Service, assert_applied_once, make_settings, running_service

pytestmark = pytest.mark.integration


def test_every_script_call_touches_a_single_slot(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingest, commits, leases, owners, rate limits and compaction, through the real service."""
    slots_seen: list[set[int]] = []
    many_reads = 0
    call = Script.__call__

    def recording(self: Script, keys=None, args=None, client=None):  # type: ignore[no-untyped-def]
        nonlocal many_reads
        if self is redis_conn._read_many:  # reads any keys, so a single server only: a cluster gets a pipeline
            many_reads += 1
        else:
            slots_seen.append({key_slot(k.encode() if isinstance(k, str) else k) for k in keys or []})
        return call(self, keys=keys, args=args, client=client)

    monkeypatch.setattr(Script, "__call__", recording)
    cohort = simulate_cohort(learners=4, seed=3, observed=True)
    with service.client("admin") as http:
        replay(http, cohort)
        score_all(http, list(cohort.truth.sessions))
    assert len(slots_seen) > 20
    assert all(len(slots) <= 1 for slots in slots_seen), [s for s in slots_seen if len(s) > 1][:3]
    assert (many_reads == 0) == is_cluster(service.store.client), many_reads


def test_a_slot_migration_during_ingest_loses_nothing(backend: str, embedded_dir: Path, tmp_path: Path) -> None:
    if backend != "cluster":
        pytest.skip("needs the local Redis Cluster (LEARNGUARD_TEST_BACKENDS=cluster)")
    settings = make_settings(backend, embedded_dir, cold_dir=tmp_path / "cold", archive_dir=tmp_path / "archive")
    store = Store.open(settings)
    try:
        with running_service(store, settings) as service:
            migrate_while_sending(store, service)
    finally:
        store.delete_all()
        store.close()


def migrate_while_sending(store: Store, service: Service) -> None:
    """Send a cohort through the client while every slot of shard 0's master moves away."""
    from tests.cluster import LocalCluster

    cohort = simulate_cohort(learners=30, seed=8)
    events = cohort.events
    sent = threading.Event()

    def ingest() -> None:
        with LearnGuardClient(service.url, service.keys["platform"], batch=50, attempts=20, backoff_s=0.2) as client:
            client.send_events(events)
        sent.set()

    thread = threading.Thread(target=ingest)
    thread.start()
    # move the slots of shard 0's hash tag (and more) to another master while events flow
    owner = _port_of_slot(CLUSTER[0], key_slot(store.keys.shard_tag(0).encode()))
    ports = [int(node.port) for node in store.client.get_nodes()]  # type: ignore[attr-defined]
    target = next(port for port in ports if port != owner)
    assert not sent.is_set(), "the cohort was sent before the migration began: make it larger"
    moved = LocalCluster.reshard_ports(owner, target, slots=_slots_of(CLUSTER[0], owner))  # all of them
    assert moved.returncode == 0, moved.stdout[-2000:] + moved.stderr[-2000:]
    overlapped = not sent.is_set()  # events were still flowing when the last slot moved
    thread.join(timeout=300)
    assert sent.is_set()
    print(f"{len(events)} events; still sending when the migration ended: {overlapped}")
    assert _port_of_slot(CLUSTER[0], key_slot(store.keys.shard_tag(0).encode())) == target
    with service.client("admin") as http:
        scores = score_all(http, list(cohort.truth.sessions))
    assert_applied_once(store, scores, events)


def _slots_of(url: str, port: int) -> int:
    client = redis.Redis.from_url(url)
    return sum(end - start + 1 for start, end, master, *_ in client.execute_command("CLUSTER SLOTS")
               if int(master[1]) == port)


def _port_of_slot(url: str, slot: int) -> int:
    client = redis.Redis.from_url(url)
    for start, end, master, *_ in client.execute_command("CLUSTER SLOTS"):
        if start <= slot <= end:
            return int(master[1])
    raise AssertionError(f"slot {slot} has no master")
