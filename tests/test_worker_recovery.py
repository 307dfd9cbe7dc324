"""Nothing lost, nothing counted twice: workers killed mid-stream give identical scores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import msgspec
import pytest

from learnguard.features.events import Event
from learnguard.service.keys import shard_of
from learnguard.service.store import Store
from learnguard.service.worker import Worker
from learnguard.settings import Settings
from learnguard.simulator.cohort import simulate_cohort
from tests.conftest import cleanup, make_settings
from tests.factories import T0

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cohort_events() -> list[Event]:
    cohort = simulate_cohort(learners=10, seed=11)
    return msgspec.convert(cohort.events, list[Event])


def ingest_in_chunks(store: Store, events: list[Event], chunk: int = 150) -> int:
    accepted = 0
    for start in range(0, len(events), chunk):
        accepted += sum(store.streams.ingest(events[start:start + chunk]))
    return accepted


def drain(worker: Worker, store: Store, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while sum(s.lag for s in store.streams.shard_stats()) > 0:
        assert time.monotonic() < deadline, "workers did not catch up"
        worker.step()


def all_records(store: Store, session_ids: set[str]) -> dict[str, dict]:
    out = {}
    for session_id in session_ids:
        (shard, _), = store.streams.accepted_counts(session_id).items()
        record = store.sessions.load_record(shard, session_id)
        out[session_id] = msgspec.to_builtins(record)
    return out


@pytest.fixture
def reference(backend: str, embedded_dir, cohort_events):
    """The uninterrupted run: one in-process worker from start to end."""
    settings = make_settings(backend, embedded_dir)
    store = Store.open(settings)
    ingest_in_chunks(store, cohort_events)
    drain(Worker(store, settings), store)
    sessions = {e.session_id for e in cohort_events}
    yield all_records(store, sessions)
    cleanup(store)


def spawn_worker(settings: Settings) -> subprocess.Popen:
    env = {**os.environ, "LEARNGUARD_KEY_PREFIX": settings.key_prefix,
           "LEARNGUARD_SHARDS": str(settings.shards), "LEARNGUARD_LEASE_MS": "1000",
           "LEARNGUARD_WORKER_BATCH": "7", "LEARNGUARD_WORKER_BLOCK_MS": "20",
           "LEARNGUARD_DATA_DIR": str(settings.data_dir)}
    env.pop("REDIS_URL", None)
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    return subprocess.Popen([sys.executable, "-m", "learnguard.cli", "worker", "--no-verbose"], env=env)


def wait_applied(store: Store, share: float, total: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while sum(s.applied for s in store.streams.shard_stats()) < share * total:
        assert time.monotonic() < deadline, f"stuck below {share:.0%} applied"
        time.sleep(0.02)


@pytest.mark.slow
def test_killed_workers_give_the_same_scores_as_an_uninterrupted_run(
        backend: str, embedded_dir, cohort_events, reference) -> None:
    settings = make_settings(backend, embedded_dir)
    store = Store.open(settings)
    try:
        total = ingest_in_chunks(store, cohort_events)
        assert ingest_in_chunks(store, cohort_events[:500]) == 0  # a replay adds nothing
        for share in (0.2, 0.45, 0.7):
            worker = spawn_worker(settings)
            wait_applied(store, share, total)
            worker.send_signal(signal.SIGKILL)  # no chance to finish its batch or release leases
            worker.wait(timeout=10)
        last = spawn_worker(settings)
        wait_applied(store, 1.0, total)
        last.send_signal(signal.SIGTERM)  # graceful: drains and exits 0
        assert last.wait(timeout=20) == 0
        stats = store.streams.shard_stats()
        assert sum(s.applied for s in stats) == total and sum(s.dead for s in stats) == 0
        assert all_records(store, set(reference)) == reference
    finally:
        cleanup(store)


def test_a_worker_that_lost_its_lease_writes_nothing(backend: str, embedded_dir, cohort_events, reference) -> None:
    settings = make_settings(backend, embedded_dir, worker_batch=20)
    store = Store.open(settings)
    try:
        ingest_in_chunks(store, cohort_events)
        slow = Worker(store, settings, worker_id="slow")
        slow.balance()
        shard = min(slow.owned)
        batch = slow._read().get(shard) or []
        assert batch, "the slow worker read a batch"
        store.client.delete(store.keys.lease(shard))  # its lease ran out while it was busy
        fast = Worker(store, settings, worker_id="fast")
        slow.owned.clear()
        drain(fast, store)
        assert slow._process(shard, batch) == 0  # commit refused: lease lost
        assert all_records(store, set(reference)) == reference
    finally:
        cleanup(store)


def test_a_worker_that_joins_during_a_backlog_gets_its_share_after_one_shard_batch(
        backend: str, embedded_dir, cohort_events, reference, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scale-out under a backlog: the worker that started first holds every shard, and a
    round of it is a batch of each. The one that joins must not wait for that round: the
    first gives shards back between one shard's batch and the next (here each batch "takes
    longer" than the balance interval), skips the batches it read for them, and the new
    owner claims those entries. Every event is applied once, as by one worker alone."""
    settings = make_settings(backend, embedded_dir)
    store = Store.open(settings)
    try:
        ingest_in_chunks(store, cohort_events)
        first = Worker(store, settings, worker_id="first")
        first.balance()
        assert len(first.owned) == store.shards
        second = Worker(store, settings, worker_id="second")
        second.balance()  # alive now, but every shard is leased
        assert not second.owned
        processed: list[int] = []
        process = first._process

        def a_long_batch(shard: int, entries: list) -> int:
            processed.append(shard)
            first.last_balance = float("-inf")  # the batch outlasted the balance interval
            return process(shard, entries)

        monkeypatch.setattr(first, "_process", a_long_batch)
        first.step()
        assert len(first.owned) == store.shards // 2
        assert set(processed) <= first.owned and len(processed) < store.shards, processed
        second.step()
        assert len(second.owned) == store.shards // 2 and second.processed > 0
        monkeypatch.undo()
        deadline = time.monotonic() + 120
        while sum(s.lag for s in store.streams.shard_stats()) > 0:
            assert time.monotonic() < deadline, "workers did not catch up"
            first.step()
            second.step()
        stats = store.streams.shard_stats()
        assert sum(s.applied for s in stats) == sum(s.accepted for s in stats) and sum(s.dead for s in stats) == 0
        assert all_records(store, set(reference)) == reference
    finally:
        cleanup(store)


def test_a_poisoned_entry_goes_to_the_dead_letter_stream_and_the_shard_moves_on(store: Store, settings) -> None:
    store.client.xadd(store.keys.events(0), {"n": 1, "e": b'{"not": "an event"'})
    store.client.hincrby(store.keys.stats(0), "accepted", 1)
    learner = next(f"l-{i}" for i in range(1000) if shard_of(f"l-{i}", settings.shards) == 0)
    good = msgspec.convert([{"event_id": "g1", "ts": T0, "type": "click", "learner_id": learner,
                             "org_id": "o", "course_id": "c", "session_id": "dl"}], list[Event])
    store.streams.ingest(good)
    worker = Worker(store, settings)
    for _ in range(20):
        worker.step()
    dead = store.client.xrange(store.keys.dead(0))
    assert len(dead) == 1 and b"DecodeError" in dead[0][1][b"error"]
    stats = store.streams.shard_stats()[0]
    assert stats.dead == 1 and stats.lag == 0
    assert store.sessions.load_record(0, "dl").state.applied_events == 1


class SlowDetector:
    """A detector that takes 10 ms a session: a batch then outlasts a short lease."""

    pattern = "slow"

    def detect(self, view: object) -> list:
        time.sleep(0.01)
        return []


def test_a_batch_that_outlasts_the_lease_is_committed_once(backend: str, embedded_dir) -> None:
    """A backlog (after an outage) makes long batches; the lease is renewed while one runs,
    so the commit lands instead of being refused and the batch redone for ever."""
    settings = make_settings(backend, embedded_dir, lease_ms=500, shards=1)
    store = Store.open(settings)
    try:
        events = [{"event_id": f"slow-{i}", "ts": T0 + i * 1000, "type": "page_view", "page": "p",
                   "learner_id": f"l{i % 100}", "org_id": "zhejiang/hdu", "course_id": "c1",
                   "session_id": f"s{i % 100}"} for i in range(300)]
        decode = msgspec.json.Decoder(list[Event]).decode
        for start in range(0, 300, 10):  # 30 entries of 10 sessions: ~3 s of scoring in one batch
            store.streams.ingest(decode(msgspec.json.encode(events[start:start + 10])))
        worker = Worker(store, settings, detectors=[SlowDetector()])
        deadline = time.monotonic() + 30
        while sum(s.lag for s in store.streams.shard_stats()) > 0:
            assert time.monotonic() < deadline, "the batch never committed"
            worker.step()
        assert worker.processed == 300  # committed once, not redone
        worker.shutdown()
    finally:
        cleanup(store)
