"""Hot and cold state: a session past its retry window leaves hot memory, answers as before,
still recognises every resend as a duplicate, and wakes when a really new event arrives."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from prometheus_client import REGISTRY

from learnguard.detector.policy import rules_from
from learnguard.detector.records import LearnerCourse, SessionSummary
from learnguard.features.compact import event_id_digest
from learnguard.service import seen_mark
from learnguard.service import sessions as sessions_module
from learnguard.service.cold import ColdStore, is_cold, pointer_blob, pointer_of
from learnguard.service.keys import shard_of
from learnguard.service.reports import refresh_rows
from learnguard.service.sessions import archived_summaries
from learnguard.service.store import Store
from learnguard.service.worker import Worker
from learnguard.settings import Settings
from learnguard.simulator.cohort import simulate_cohort
from tests.conftest import Service, make_settings, running_service

pytestmark = pytest.mark.integration
LATER = 3 * 3600.0  # compaction runs "now + LATER" with compact_after_s = 1 h


@pytest.fixture
def settings(backend: str, embedded_dir: Path, tmp_path: Path) -> Settings:
    return make_settings(backend, embedded_dir, cold_dir=tmp_path / "cold", compact_after_s=3600)


@pytest.fixture
def quiet_service(store: Store, settings: Settings) -> Iterator[Service]:
    """The HTTP service with no worker of its own: the test drives one, and its compaction."""
    with running_service(store, settings, workers=0) as running:
        yield running


def drain(worker: Worker, store: Store) -> None:
    deadline = time.monotonic() + 60
    while sum(s.lag for s in store.streams.shard_stats()) > 0:
        assert time.monotonic() < deadline, "the worker did not catch up"
        worker.step()


def compact_all(worker: Worker, store: Store) -> int:
    worker.balance()
    return sum(worker.compact(shard, now=time.time() + LATER) for shard in range(store.shards))


def hot_bytes(store: Store, sessions: list[str]) -> int:
    """Redis memory of the sessions' records, dedup sets and seen marks."""
    total = 0
    for session_id in sessions:
        for shard in range(store.shards):
            for key in (store.keys.session(shard, session_id), store.keys.event_ids(shard, session_id),
                        store.keys.seen(shard, session_id)):
                total += store.client.memory_usage(key, samples=0) or 0
    return total


def test_a_compacted_session_answers_as_before_and_knows_its_events(quiet_service: Service) -> None:
    store, settings = quiet_service.store, quiet_service.settings
    cohort = simulate_cohort(learners=6, seed=11, observed=True)
    sessions = sorted(cohort.truth.sessions)
    worker = Worker(store, settings)
    with quiet_service.client("admin") as http:
        http.put(f"/v1/courses/{cohort.course_id}", json=cohort.course).raise_for_status()
        for start in range(0, len(cohort.events), 1000):
            http.post("/v1/events", json=cohort.events[start:start + 1000]).raise_for_status()
        drain(worker, store)
        before = {sid: answer(http.post(f"/v1/sessions/{sid}/score")) for sid in sessions}
        timelines = {sid: http.get(f"/v1/sessions/{sid}/timeline").json() for sid in sessions[:3]}
        hot = hot_bytes(store, sessions)

        assert compact_all(worker, store) == len(sessions)
        assert all(is_cold(store.client.get(store.keys.session(shard_of(cohort_learner(cohort, sid), store.shards),
                                                                sid)) or b"") for sid in sessions)
        cold = hot_bytes(store, sessions)
        assert cold < hot / 4, (hot, cold)
        assert not list(store.client.scan_iter(f"{store.keys.prefix}:*:ids:*"))

        # read back from Parquet: the same answers, the dashboard's timeline included
        assert {sid: answer(http.post(f"/v1/sessions/{sid}/score")) for sid in sessions} == before
        assert {sid: http.get(f"/v1/sessions/{sid}/timeline").json() for sid in sessions[:3]} == timelines

        # a platform resending everything (a replay of last year) is told they are duplicates
        resent = [http.post("/v1/events", json=cohort.events[start:start + 1000]).json()
                  for start in range(0, len(cohort.events), 1000)]
        assert sum(r["accepted"] for r in resent) == 0
        assert sum(r["duplicates"] for r in resent) == len(cohort.events)
        assert sum(s.lag for s in store.streams.shard_stats()) == 0

        # a really new event wakes its session: applied once, its resend a duplicate
        sid = sessions[0]
        last = max((e for e in cohort.events if e["session_id"] == sid), key=lambda e: e["ts"])
        late = {**{k: last[k] for k in ("learner_id", "org_id", "course_id", "session_id")},
                "event_id": f"{sid}-after-compaction", "ts": last["ts"] + 1000, "type": "page_view",
                "page": "notice"}
        assert http.post("/v1/events", json=[late]).json()["accepted"] == 1
        drain(worker, store)
        shard = shard_of(cohort_learner(cohort, sid), store.shards)
        assert not is_cold(store.client.get(store.keys.session(shard, sid)) or b"")
        assert seen_mark.mark_of(store.client.get(store.keys.seen(shard, sid))) == last["ts"]
        woken = http.post(f"/v1/sessions/{sid}/score").json()
        assert woken["events"] == before[sid]["events"] + 1
        assert http.post("/v1/events", json=[late]).json()["duplicates"] == 1
        first = next(e for e in cohort.events if e["session_id"] == sid)
        assert http.post("/v1/events", json=[first]).json()["duplicates"] == 1

        # compacted again later, under a mark that covers the new event
        assert compact_all(worker, store) == 1
        assert http.post("/v1/events", json=[late, first]).json()["duplicates"] == 2
        assert http.post(f"/v1/sessions/{sid}/score").json()["events"] == woken["events"]
    worker.shutdown()


def test_compacted_sessions_summaries_move_to_the_archive_and_every_reader_sees_them_as_before(
        quiet_service: Service) -> None:
    """A learner x course record keeps its compacted sessions' summaries compressed apart from
    its live ones: the records, the reports rebuilt from them and a woken session read as
    before, and the live part rewritten at every batch holds only live sessions."""
    store, settings = quiet_service.store, quiet_service.settings
    rules = rules_from(settings)
    cohort = simulate_cohort(learners=8, seed=5, observed=True)
    learners = sorted({e["learner_id"] for e in cohort.events})
    worker = Worker(store, settings)

    def flagged_report() -> list[dict]:
        store.rows.mark_courses([cohort.course_id])  # rebuilt from the records, as after a promotion
        refresh_rows(store, rules, limit=10_000)
        return http.get("/v1/reports/flagged", params={"limit": 1000}).json()["items"]

    def live_part(learner_id: str) -> LearnerCourse:
        raw = store.client.get(store.keys.learner_course(shard_of(learner_id, store.shards), learner_id,
                                                         cohort.course_id))
        return msgspec.msgpack.decode(raw, type=LearnerCourse)

    with quiet_service.client("admin") as http:
        http.put(f"/v1/courses/{cohort.course_id}", json=cohort.course).raise_for_status()
        for start in range(0, len(cohort.events), 1000):
            http.post("/v1/events", json=cohort.events[start:start + 1000]).raise_for_status()
        drain(worker, store)
        records = {lid: store.sessions.load_learner_course(lid, cohort.course_id) for lid in learners}
        report = flagged_report()
        assert any(item["flags"] for item in report)  # the cohort has cheaters: a report worth comparing

        assert compact_all(worker, store) == len(cohort.truth.sessions)
        assert all(not live_part(lid).sessions for lid in learners)  # every summary went to the archive
        assert {lid: store.sessions.load_learner_course(lid, cohort.course_id) for lid in learners} == records
        assert store.sessions.roster_learner_courses(cohort.course_id) == [records[lid] for lid in learners]
        assert flagged_report() == report

        # a woken session's new summary is live, and the one read; compacted again, it is archived
        sid = sorted(cohort.truth.sessions)[0]
        learner = cohort_learner(cohort, sid)
        last = max((e for e in cohort.events if e["session_id"] == sid), key=lambda e: e["ts"])
        late = {**{k: last[k] for k in ("learner_id", "org_id", "course_id", "session_id")},
                "event_id": f"{sid}-late", "ts": last["ts"] + 600_000, "type": "page_view", "page": "notice"}
        assert http.post("/v1/events", json=[late]).json()["accepted"] == 1
        drain(worker, store)
        assert set(live_part(learner).sessions) == {sid}
        woken = store.sessions.load_learner_course(learner, cohort.course_id)
        assert woken is not None and woken.sessions[sid].last_ts == late["ts"] / 1000
        assert compact_all(worker, store) == 1
        assert not live_part(learner).sessions
        assert store.sessions.load_learner_course(learner, cohort.course_id) == woken
    worker.shutdown()


def test_summaries_are_archived_only_under_the_lease_and_only_where_nothing_changed(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compactor moves summaries between a record's two parts; a worker that lost the
    shard, or a commit that rewrote the record since it was read, leaves it as it was."""
    shard = shard_of("l1", store.shards)
    live, archive = store.keys.learner_course(shard, "l1", "c1"), store.keys.learner_course_archive(shard, "l1", "c1")
    summary = SessionSummary("l1", 100.0, 200.0, 90.0, 100.0, "pc", None, False)
    record = LearnerCourse("l1", "c1", "org", {"s1": summary, "s2": summary})
    store.client.set(live, msgspec.msgpack.encode(record))
    store.client.set(store.keys.lease(shard), "w1")
    assert store.sessions.archive_summaries(shard, "w2", {("l1", "c1"): {"s1"}}) == -1
    assert store.client.get(archive) is None

    assert store.sessions.archive_summaries(shard, "w1", {("l1", "c1"): {"s1"}}) == 1
    assert set(store.sessions.load_learner_course("l1", "c1").sessions) == {"s1", "s2"}  # type: ignore[union-attr]
    assert set(archived_summaries(store.client.get(archive))) == {"s1"}

    encode = sessions_module.archive_blob

    def a_commit_meanwhile(summaries: dict[str, SessionSummary]) -> bytes:
        store.client.set(live, msgspec.msgpack.encode(LearnerCourse("l1", "c1", "org", {"s2": summary, "s3": summary})))
        return encode(summaries)

    monkeypatch.setattr(sessions_module, "archive_blob", a_commit_meanwhile)
    assert store.sessions.archive_summaries(shard, "w1", {("l1", "c1"): {"s2"}}) == 0
    assert set(store.sessions.load_learner_course("l1", "c1").sessions) == {"s1", "s2", "s3"}  # type: ignore[union-attr]
    assert set(archived_summaries(store.client.get(archive))) == {"s1"}


def answer(reply: httpx.Response) -> dict:
    """A score as a platform compares it: everything but when it was read."""
    reply.raise_for_status()
    return {k: v for k, v in reply.json().items() if k != "scored_at"}


def page_views(prefix: str, learner: str, session: str, count: int, step_ms: int = 5000) -> list[dict]:
    """``count`` page views of one session, ``step_ms`` apart from 2026-03-01 02:00 UTC, ids ``prefix-i``."""
    return [{"event_id": f"{prefix}-{i}", "ts": 1_772_330_400_000 + i * step_ms, "type": "page_view", "page": "p",
             "learner_id": learner, "org_id": "zhejiang/hdu", "course_id": "c1", "session_id": session}
            for i in range(count)]


def cohort_learner(cohort, session_id: str) -> str:  # type: ignore[no-untyped-def]
    return next(e["learner_id"] for e in cohort.events if e["session_id"] == session_id)


def test_a_session_that_receives_an_event_while_being_compacted_stays_live(
        quiet_service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    store, settings = quiet_service.store, quiet_service.settings
    events = page_views("r", "racer", "race", 4)
    worker = Worker(store, settings)
    with quiet_service.client("platform") as http:
        http.post("/v1/events", json=events[:3]).raise_for_status()
        drain(worker, store)
        write = ColdStore.write

        def event_arrives_meanwhile(self: ColdStore, shard: int, records: dict[str, bytes]) -> str:
            http.post("/v1/events", json=events[3:]).raise_for_status()
            return write(self, shard, records)

        monkeypatch.setattr(ColdStore, "write", event_arrives_meanwhile)
        assert compact_all(worker, store) == 0
        monkeypatch.undo()
        drain(worker, store)
        assert http.post("/v1/sessions/race/score").json()["events"] == 4
        assert http.post("/v1/events", json=events).json()["duplicates"] == 4
    worker.shutdown()


def test_a_lost_or_damaged_cold_file_is_named_and_holds_up_nothing(quiet_service: Service) -> None:
    """A cold file gone (a lost disk, a restore that left it out) must not read as "no such
    session" nor stop the shard: reads answer 503 naming the session and the file, a new
    event of that session is dead-lettered with the file named while the shard's other
    sessions go on, and once the file is back the session answers as before."""
    store, settings = quiet_service.store, quiet_service.settings
    shard = shard_of("lost-learner", store.shards)
    neighbour = next(f"learner-{i}" for i in range(100) if shard_of(f"learner-{i}", store.shards) == shard)

    def event(learner: str, session: str, i: int) -> dict:
        return {"event_id": f"{session}-{i}", "ts": 1_772_330_400_000 + i * 5000, "type": "page_view",
                "page": "p", "learner_id": learner, "org_id": "zhejiang/hdu", "course_id": "c1",
                "session_id": session}

    worker = Worker(store, settings)
    with quiet_service.client("admin") as http:
        http.post("/v1/events", json=[event("lost-learner", "lost", i) for i in range(3)]).raise_for_status()
        drain(worker, store)
        before = answer(http.post("/v1/sessions/lost/score"))
        assert compact_all(worker, store) == 1
        pointer = store.client.get(store.keys.session(shard, "lost"))
        assert pointer and is_cold(pointer)
        files = list(settings.cold_path.rglob("*.parquet"))
        assert len(files) == 1
        hidden = files[0].with_suffix(".away")
        files[0].rename(hidden)

        for reply in (http.post("/v1/sessions/lost/score"), http.get("/v1/sessions/lost/timeline")):
            assert reply.status_code == 503, reply.text
            assert "'lost'" in reply.text and "is missing" in reply.text and files[0].name in reply.text

        # a new event of the lost session, then one of a neighbour on the same shard
        assert http.post("/v1/events", json=[event("lost-learner", "lost", 9)]).json()["accepted"] == 1
        assert http.post("/v1/events", json=[event(neighbour, "next-door", 0)]).json()["accepted"] == 1
        drain(worker, store)
        assert http.post("/v1/sessions/next-door/score").json()["events"] == 1
        dead = store.client.xrange(store.keys.dead(shard))
        assert len(dead) == 1 and b"lost-9" in dead[0][1][b"e"]
        assert files[0].name.encode() in dead[0][1][b"error"] and b"'lost'" in dead[0][1][b"error"]

        # restored, the operator puts the dead letter back (`learnguard dead-letters requeue`):
        # the late event is applied once, and the session answers with it
        hidden.rename(files[0])
        [letter] = store.streams.dead_letters(shard)
        assert letter.events == 1 and "is missing" in letter.error
        assert store.streams.requeue_dead(shard, [letter.entry_id]) == 1
        assert store.streams.dead_letters(shard) == []
        drain(worker, store)
        assert answer(http.post("/v1/sessions/lost/score"))["events"] == before["events"] + 1
        assert http.post("/v1/events", json=[event("lost-learner", "lost", 9)]).json()["duplicates"] == 1
        stats = next(s for s in store.streams.shard_stats() if s.shard == shard)
        assert stats.dead == 0 and stats.lag == 0
        assert compact_all(worker, store) >= 1

        current = settings.cold_path / pointer_of(store.client.get(store.keys.session(shard, "lost"))).path
        current.write_bytes(b"PAR1 not a parquet file PAR1")
        reply = http.post("/v1/sessions/lost/score")
        assert reply.status_code == 503 and "is damaged" in reply.text, reply.text
    worker.shutdown()


def test_a_session_with_an_event_on_its_way_is_not_compacted_under_a_mark_that_misses_it(
        quiet_service: Service) -> None:
    """An event accepted (in the dedup set) but not yet applied is in no record, so no mark
    would cover it: compacting then would take its resend for a new event and count it
    twice. The session stays live until the event is applied, then compacts."""
    store, settings = quiet_service.store, quiet_service.settings
    events = page_views("w", "waiter", "waiting", 4)
    worker = Worker(store, settings)
    with quiet_service.client("platform") as http:
        http.post("/v1/events", json=events[:3]).raise_for_status()
        drain(worker, store)
        http.post("/v1/events", json=events[3:]).raise_for_status()  # accepted, not applied
        kept = REGISTRY.get_sample_value("learnguard_sessions_kept_live_total") or 0
        assert compact_all(worker, store) == 0
        assert REGISTRY.get_sample_value("learnguard_sessions_kept_live_total") == kept + 1  # an operator sees it
        drain(worker, store)
        worker.balance()
        assert sum(worker.compact(shard, now=time.time() + 3 * LATER) for shard in range(store.shards)) == 1
        assert http.post("/v1/events", json=events).json()["duplicates"] == 4
        assert http.post("/v1/sessions/waiting/score").json()["events"] == 4
    worker.shutdown()


def test_a_compacted_session_keeps_only_its_pointer_whose_mark_knows_every_event_it_covers(
        quiet_service: Service) -> None:
    """500 events or 5, a compacted session's dedup set becomes two numbers in its pointer;
    resends in any order are all duplicates."""
    store = quiet_service.store
    worker = Worker(store, quiet_service.settings)
    start = 1_772_330_400_000
    events = page_views("m", "marked", "long", 500, step_ms=15_000)
    with quiet_service.client("platform") as http:
        http.post("/v1/events", json=events).raise_for_status()
        drain(worker, store)
        assert compact_all(worker, store) == 1
        shard = shard_of("marked", store.shards)
        pointer = pointer_of(store.client.get(store.keys.session(shard, "long")))
        assert (pointer.count, pointer.mark) == (500, start + 499 * 15_000)
        assert store.client.exists(store.keys.seen(shard, "long"), store.keys.event_ids(shard, "long")) == 0
        resent = http.post("/v1/events", json=list(reversed(events))).json()
        assert (resent["accepted"], resent["duplicates"]) == (0, 500)
    worker.shutdown()


def legacy_filter(digests: list[int]) -> bytes:
    """A seen value as compaction wrote it before marks: count, then a Bloom filter (8 bits,
    5 hashes an event; positions from the digest's decimal text, as the ingest script reads)."""
    body = bytearray(max(8, len(digests)))
    for digest in digests:
        text = str(digest).lstrip("-")
        h1, h2 = int(text[-9:]), int(text[-18:-9] or 0) * 2 + 1
        for i in range(5):
            pos = (h1 + i * h2) % (len(body) * 8)
            body[pos // 8] |= 1 << (pos % 8)
    return len(digests).to_bytes(4, "big") + bytes(body)


def test_a_session_compacted_before_marks_still_knows_its_events_and_gets_a_mark_when_woken(
        quiet_service: Service) -> None:
    """Stored values outlive the code that wrote them: a Bloom filter left by an earlier
    version still answers resends; the session wakes on a new event and its next compaction
    replaces the filter with a mark that counts both."""
    store = quiet_service.store
    worker = Worker(store, quiet_service.settings)
    events = page_views("o", "elder", "old", 6)
    shard = shard_of("elder", store.shards)
    with quiet_service.client("platform") as http:
        http.post("/v1/events", json=events[:5]).raise_for_status()
        drain(worker, store)
        assert compact_all(worker, store) == 1
        digests = [event_id_digest(e["event_id"]) for e in events[:5]]
        path = pointer_of(store.client.get(store.keys.session(shard, "old"))).path
        store.client.set(store.keys.session(shard, "old"), pointer_blob(path))  # as written then: the path alone
        store.client.set(store.keys.seen(shard, "old"), legacy_filter(digests))
        assert http.post("/v1/events", json=events[:5]).json()["duplicates"] == 5
        assert http.post("/v1/sessions/old/score").json()["events"] == 5
        assert http.post("/v1/events", json=events[5:]).json()["accepted"] == 1
        drain(worker, store)
        assert compact_all(worker, store) == 1
        pointer = pointer_of(store.client.get(store.keys.session(shard, "old")))
        assert (pointer.count, pointer.mark) == (6, events[5]["ts"])
        assert not store.client.exists(store.keys.seen(shard, "old"))
        assert http.post("/v1/events", json=events).json()["duplicates"] == 6
        assert http.post("/v1/sessions/old/score").json()["events"] == 6
    worker.shutdown()


def test_a_backlog_of_due_sessions_is_compacted_in_slices_between_batches_of_events(
        quiet_service: Service) -> None:
    """Every session of a busy morning turns compactable within the hour, 7 days later: the
    worker works the backlog off a slice at a time (here one batch of 4 per round) and
    applies the events that keep arriving in the same rounds, instead of stopping them
    until the whole backlog is compacted."""
    store = quiet_service.store
    settings = quiet_service.settings.model_copy(update={"compact_after_s": 1.0, "compact_batch": 4,
                                                         "compact_slice_ms": 1, "trim_interval_s": 0.01})
    cohort = simulate_cohort(learners=6, seed=11)
    sessions = sorted(cohort.truth.sessions)
    worker = Worker(store, settings)

    def cold() -> int:
        return sum(1 for sid in sessions for shard in range(store.shards)
                   if is_cold(store.client.get(store.keys.session(shard, sid)) or b"\x00"))

    with quiet_service.client("platform") as http:
        for start in range(0, len(cohort.events), 1000):
            http.post("/v1/events", json=cohort.events[start:start + 1000]).raise_for_status()
        drain(worker, store)
        time.sleep(1.2)  # every session of the cohort is now due
        late = {"event_id": "late-1", "ts": "2026-03-02T09:00:00Z", "type": "page_view", "page": "intro",
                "learner_id": "late-learner", "org_id": cohort.events[0]["org_id"],
                "course_id": cohort.course_id, "session_id": "late-session"}
        http.post("/v1/events", json=[late]).raise_for_status()
        rounds = 0
        while sum(s.lag for s in store.streams.shard_stats()) > 0:
            worker.step()
            rounds += 1
            assert rounds < 10
        compacted_when_applied = cold()
        assert compacted_when_applied < len(sessions), "the new event waited for the whole backlog"
        assert worker.compact_due, "the rest of the backlog is remembered"
        while worker.compact_due:
            worker.step()
            rounds += 1
            assert rounds < 10 * len(sessions)
    assert cold() == len(sessions)
    print(f"{len(sessions)} sessions due; the new event applied after {compacted_when_applied} were compacted; "
          f"{rounds} rounds in all")
