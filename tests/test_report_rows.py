"""Reports read stored rows (issue 13): a promotion rebuilds them as a job with progress,
a background refresher keeps them current when a report does not wait, and the rows
agree with what every session's score says. Real HTTP, real Redis, a real model."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from learnguard.detector.policy import rules_from
from learnguard.models.training import train
from learnguard.replay import replay, score_all
from learnguard.service.export import session_rows
from learnguard.service.keys import shard_of
from learnguard.service.registry import RELOAD_CHECK_S
from learnguard.simulator.cohort import simulate_cohort

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MISCONDUCT = {"scripted_playback", "screen_flooding", "account_sharing"}


@pytest.fixture
def scored(service):
    cohort = simulate_cohort(learners=30, seed=11)
    with service.client("admin") as http:
        replay(http, cohort)
        scores = {s["session_id"]: s for s in score_all(http, list(cohort.truth.sessions))}
    return service, cohort, scores


def _wait_until_current(http, timeout_s: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        status = http.get("/v1/reports/status").json()
        if status["pending"] == 0 or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_report_rows_agree_with_the_scores_of_every_session(scored) -> None:
    service, _, scores = scored
    with service.client("admin") as http:
        items = http.get("/v1/reports/flagged", params={"limit": 1000}).json()["items"]
        status = http.get("/v1/reports/status").json()
    listed = {(f["flag_id"], sid) for i in items for f in i["flags"] for sid in f["sessions"]}
    flagged = {(f["flag_id"], sid) for sid, s in scores.items() for f in s["flags"]}
    assert listed == flagged
    learner_courses = {(s["learner_id"], s["course_id"]) for s in scores.values()}
    assert status["rows"] == len(learner_courses) and status["pending"] == 0 and status["model"] is None


def test_a_promotion_rebuilds_the_rows_with_the_model_and_reports_its_progress(scored) -> None:
    service, _, scores = scored
    model, training, metrics = train(pd.DataFrame(session_rows(service.store, rules_from(service.settings))),
                                     "ensemble")
    envelope = service.store.registry.register(model, training, metrics, by="test")
    with service.client("admin") as http:
        http.get("/v1/reports/flagged")  # rows built without a model
        assert http.post(f"/v1/models/{envelope.version}/promote").status_code == 200
        first = http.get("/v1/reports/status").json()
        items = http.get("/v1/reports/flagged", params={"limit": 1000}).json()["items"]
        status = _wait_until_current(http)
        after = {sid: http.post(f"/v1/sessions/{sid}/score").json() for sid in scores}
    learner_courses = {(s["learner_id"], s["course_id"]) for s in scores.values()}
    assert first["model"] == envelope.version and first["rebuild"]["total"] == len(learner_courses)
    assert status["rebuild"] == {"total": len(learner_courses), "done": len(learner_courses)}
    # what the rows say is what each score says now the model is live
    risks: dict[tuple[str, str], float] = {}
    for s in after.values():
        key = (s["learner_id"], s["course_id"])
        risks[key] = max([risks.get(key, 0.0), *(f["confidence"] for f in s["flags"] if f["pattern"] in MISCONDUCT)])
    listed_model = {f["flag_id"] for i in items for f in i["flags"] if f["pattern"] == "anomalous_session"}
    scored_model = {f["flag_id"] for s in after.values() for f in s["flags"] if f["pattern"] == "anomalous_session"
                    and any(g["pattern"] != "anomalous_session" for g in s["flags"])}
    assert scored_model and scored_model <= listed_model
    for item in items:
        if set(item["patterns"]) & MISCONDUCT:
            assert item["risk"] == pytest.approx(risks[(item["learner_id"], item["course_id"])], abs=1e-3)


def test_model_evidence_is_asked_once_per_session_change_not_per_read(scored) -> None:
    service, cohort, scores = scored
    store = service.store
    model, training, metrics = train(pd.DataFrame(session_rows(store, rules_from(service.settings))), "ensemble")
    envelope = store.registry.register(model, training, metrics, by="test")
    old = sorted(scores)[0]
    shard = shard_of(scores[old]["learner_id"], store.shards)
    copied = [{**e, "event_id": f"again-{e['event_id']}", "session_id": "again-" + old}
              for e in cohort.events if e["session_id"] == old]
    with service.client("admin") as http:
        assert http.post(f"/v1/models/{envelope.version}/promote").status_code == 200
        # scored before the promotion: the first read (or the rows' rebuild) asks the model and keeps the answer
        first = http.post(f"/v1/sessions/{old}/score").json()
        cached = store.sessions.cached_evidence(envelope.version, [(shard, old)])[0]
        again = http.post(f"/v1/sessions/{old}/score").json()
        # changed after the promotion (once the worker has seen it: it re-reads the pointer every
        # RELOAD_CHECK_S): the worker asked the model and stored the answer with the score
        time.sleep(RELOAD_CHECK_S + 0.2)
        assert http.post("/v1/events", json=copied).status_code in (200, 202)
        fresh = http.post(f"/v1/sessions/again-{old}/score").json()
    assert cached is not None and first["model"]["percentile"] == round(cached.percentile, 4)
    assert again["model"] == first["model"] and again["risk"] == first["risk"]
    record = store.sessions.load_record(shard, "again-" + old)
    assert record is not None and record.score is not None and record.score.model_evidence is not None
    assert record.score.model_evidence.version == envelope.version
    assert fresh["model"]["percentile"] == round(record.score.model_evidence.percentile, 4)
