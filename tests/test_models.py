"""Models that learn: export, batch training, the registry (signed artifacts, schema
checks), and promotion/rollback changing live scores without a restart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from learnguard.detector.policy import rules_from
from learnguard.models.batch import SessionModel, matrix
from learnguard.models.training import train
from learnguard.replay import replay, score_all
from learnguard.service.export import export_features, load_sessions, session_rows
from learnguard.simulator.cohort import simulate_cohort

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def trained(service):
    cohort = simulate_cohort(learners=40, seed=5)
    with service.client("admin") as http:
        replay(http, cohort)
        before = {s["session_id"]: s for s in score_all(http, list(cohort.truth.sessions))}
    rows = session_rows(service.store, rules_from(service.settings))
    return service, cohort, before, rows


def test_export_writes_parquet_by_day_with_flags_and_labels(trained, tmp_path) -> None:
    service, cohort, _, rows = trained
    counts = export_features(rows, tmp_path / "export")
    sessions = load_sessions(tmp_path / "export")
    assert counts["sessions"] == len(rows) == len(cohort.truth.sessions) == len(sessions)
    assert (tmp_path / "export" / "sessions").is_dir() and any((tmp_path / "export" / "sessions").glob("day=*"))
    assert {"risk", "patterns", "label", "heartbeat_gap_sd_s"} <= set(sessions.columns)
    assert pd.read_parquet(tmp_path / "export" / "learner_courses")["sessions"].sum() == len(rows)


def test_promoting_a_model_changes_live_scores_and_rollback_restores_them(trained) -> None:
    service, cohort, before, rows = trained
    model, training, metrics = train(pd.DataFrame(rows), "ensemble")
    registry = service.store.registry
    envelope = registry.register(model, training, metrics, by="test")
    with service.client("analyst") as analyst:
        # one registry serves every org: an org-scoped analyst may look, not promote for everyone
        refused = analyst.post(f"/v1/models/{envelope.version}/promote")
        refused_rollback = analyst.post("/v1/models/rollback")
        listed_by_analyst = analyst.get("/v1/models")
    assert refused.status_code == 403 and refused_rollback.status_code == 403
    assert listed_by_analyst.status_code == 200 and listed_by_analyst.json()["active"] is None
    with service.client("admin") as http:
        promoted = http.post(f"/v1/models/{envelope.version}/promote")
        after = {sid: http.post(f"/v1/sessions/{sid}/score").json() for sid in before}
        listed = http.get("/v1/models").json()
        rolled = http.post("/v1/models/rollback")
        restored = {sid: http.post(f"/v1/sessions/{sid}/score").json() for sid in before}
    assert promoted.status_code == 200, promoted.text
    assert all(a["model"]["version"] == envelope.version for a in after.values())
    changed = [sid for sid in before if after[sid]["risk"] != before[sid]["risk"]]
    assert changed, "the model changed no live score"
    unusual = [f for a in after.values() for f in a["flags"] if f["pattern"] == "anomalous_session"]
    assert unusual and "more unusual than" in unusual[0]["reasons"][0]["message"]
    assert listed["active"] == envelope.version and listed["history"][-1]["action"] == "promote"
    assert rolled.json()["active"] is None
    assert {sid: r["risk"] for sid, r in restored.items()} == {sid: r["risk"] for sid, r in before.items()}
    assert all(r["model"] is None for r in restored.values())


def test_registry_refuses_foreign_schema_batch_only_kinds_and_tampered_artifacts(trained) -> None:
    service, _, _, rows = trained
    registry = service.store.registry
    X = matrix(rows)
    narrow = SessionModel("hbos").fit(X)
    narrow.feature_names = narrow.feature_names[:-1]
    foreign = registry.register(narrow, {"sessions": len(rows)}, {}, by="test")
    ecod = registry.register(SessionModel("ecod").fit(X), {"sessions": len(rows)}, {}, by="test")
    good = registry.register(SessionModel("hbos").fit(X), {"sessions": len(rows)}, {}, by="test")
    service.store.client.hset(service.store.keys.models(f"artifact:{good.version}"), "payload", b"\x80junk")
    with service.client("admin") as http:
        schema = http.post(f"/v1/models/{foreign.version}/promote")
        batch_only = http.post(f"/v1/models/{ecod.version}/promote")
        tampered = http.post(f"/v1/models/{good.version}/promote")
    assert schema.status_code == 422 and "feature schema" in schema.json()["error"]
    assert batch_only.status_code == 422 and "batch scoring only" in batch_only.json()["error"]
    assert tampered.status_code == 422 and "signature does not verify" in tampered.json()["error"]
    with service.client("supervisor") as http:
        assert http.get("/v1/models").status_code == 403


def test_semi_supervised_model_learns_from_rulings(trained) -> None:
    _, cohort, _, rows = trained
    frame = pd.DataFrame(rows)
    truth = {sid: bool(set(t["patterns"]) & {"scripted_playback", "screen_flooding", "account_sharing"})
             for sid, t in cohort.truth.sessions.items()}
    frame["label"] = [float(truth[sid]) if i % 3 == 0 else np.nan for i, sid in enumerate(frame["session_id"])]
    model, training, metrics = train(frame, "semi", holdout=0.3)
    assert training["labels"] > 10 and metrics["judged_against"] == "supervisor labels"
    assert metrics["roc_auc"] > 0.8
    with pytest.raises(ValueError, match="need confirmed and dismissed"):
        SessionModel("semi").fit(matrix(rows[:20]), np.full(20, np.nan))
