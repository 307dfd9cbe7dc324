"""A poison batch must never stop scoring: refused at the door when it can be, dead-lettered
alone when it cannot, and the worker outlives every failed round."""

from __future__ import annotations

import threading
import time

import msgspec
import pytest
from redis.exceptions import ConnectionError as StoreConnectionError

from learnguard.features.events import Event
from learnguard.service.keys import shard_of
from learnguard.service.store import Store
from learnguard.service.worker import Worker
from tests.factories import T0, event, watched_session

pytestmark = pytest.mark.integration


def test_times_out_of_range_and_unreadable_ids_are_refused_per_event(service) -> None:
    poison = [event(1, "session_start", session="p1", learner="p-l1"),
              {**event(2, "click", session="p1", learner="p-l1"), "ts": 0},
              {**event(3, "click", session="p1", learner="p-l1"), "ts": 100000000000000000000000},
              {**event(4, "click", session="p1", learner="p-l1"), "ts": "2150-01-01T00:00:00+08:00"},
              event(5, "click", session="a/b", learner="p-l1"),
              event(6, "click", session="..", learner="p-l1")]
    with service.client("platform_hdu") as http:
        answer = http.post("/v1/events", json=poison)
        assert answer.status_code == 202
        body = answer.json()
        assert body["accepted"] == 1
        errors = {r["index"]: r["error"] for r in body["rejected"]}
        assert errors[1].startswith("ts: must be between 2000-01-01 and 2100-01-01")
        assert errors[2].startswith("ts: must be between") and errors[3].startswith("ts: must be between")
        assert errors[4].startswith("session_id: must be usable in a URL path")
        assert errors[5].startswith("session_id: must be usable in a URL path")
        # scoring goes on, for this org and every other
        assert http.post("/v1/sessions/p1/score").status_code == 200
        assert http.post("/v1/events", json=watched_session("after-poison", minutes=1)).status_code == 202
        assert http.post("/v1/sessions/after-poison/score").status_code == 200


def _events_for(session: str, learner: str, start: int) -> list[Event]:
    raw = [{**e, "event_id": f"{session}-{i}"} for i, e in enumerate(
        watched_session(session, learner=learner, minutes=1), start=start)]
    return msgspec.convert(raw, list[Event])


def test_an_entry_whose_effect_cannot_be_stored_is_dead_lettered_alone(store: Store, settings, monkeypatch) -> None:
    learners = [f"l-{i}" for i in range(2000) if shard_of(f"l-{i}", settings.shards) == 0][:3]
    for n, learner in enumerate(learners):  # three entries on shard 0, the middle one poisoned
        store.streams.ingest(_events_for(f"sess-{n}", learner, 0))
    original = store.sessions.record_blobs

    def fails_on_the_poisoned_session(shard, records):
        if "sess-1" in records:
            raise OverflowError("int too big to convert")
        return original(shard, records)

    monkeypatch.setattr(store.sessions, "record_blobs", fails_on_the_poisoned_session)
    worker = Worker(store, settings)
    for _ in range(40):
        worker.step()
        if store.streams.shard_stats()[0].lag == 0:
            break
    dead = store.client.xrange(store.keys.dead(0))
    assert len(dead) == 1 and b"OverflowError" in dead[0][1][b"error"] and b"sess-1" in dead[0][1][b"e"]
    assert store.sessions.load_record(0, "sess-0") is not None and store.sessions.load_record(0, "sess-2") is not None
    assert store.sessions.load_record(0, "sess-1") is None
    assert store.streams.shard_stats()[0].lag == 0 and not worker.isolating


def test_the_worker_outlives_a_store_that_fails(store: Store, settings, monkeypatch) -> None:
    failures = {"left": 5}
    original = store.streams.read_new

    def flaky(*args, **kwargs):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise StoreConnectionError("Connection refused (the store is restarting)")
        return original(*args, **kwargs)

    monkeypatch.setattr(store.streams, "read_new", flaky)
    worker = Worker(store, settings)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        learner = next(f"l-{i}" for i in range(1000) if shard_of(f"l-{i}", settings.shards) == 0)
        store.streams.ingest(_events_for("survivor", learner, 0))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and store.sessions.load_record(0, "survivor") is None:
            time.sleep(0.05)
        assert thread.is_alive()
        assert store.sessions.load_record(0, "survivor") is not None
        assert failures["left"] == 0 and worker.errors_seen >= 5
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_time_far_in_the_future_never_reaches_a_stream(store: Store) -> None:
    raw = [{"event_id": "f1", "ts": T0, "type": "click", "learner_id": "l", "org_id": "o", "course_id": "c",
            "session_id": "s"}, {"event_id": "f2", "ts": 10**23, "type": "click", "learner_id": "l",
                                  "org_id": "o", "course_id": "c", "session_id": "s"}]
    with pytest.raises(msgspec.ValidationError, match="ts"):
        msgspec.convert(raw, list[Event])
