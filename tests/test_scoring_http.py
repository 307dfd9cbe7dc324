"""Contract §3 over real HTTP: read-your-writes scoring and the study time that stands."""

from __future__ import annotations

import pytest

from tests.factories import event, watched_session

pytestmark = pytest.mark.integration


def test_score_reflects_every_event_accepted_before_the_call(service) -> None:
    events = watched_session(minutes=20)
    with service.client() as http:
        for start in range(0, len(events), 7):
            http.post("/v1/events", json=events[start:start + 7]).raise_for_status()
        score = http.post("/v1/sessions/s1/score").json()
    assert score["events"] == len(events)
    assert score["level"] == "normal" and score["flags"] == []
    assert score["claimed_seconds"] == pytest.approx(1201, abs=2)
    assert score["effective_seconds"] == pytest.approx(1201, abs=2)
    assert score["scored_at"].endswith("Z")


def test_forged_progress_is_not_credited(service) -> None:
    forged = [event(i, "video_heartbeat", session="bot", at_s=60 * i, video_id="v1", position=60 * i * 1.5)
              for i in range(1, 40)]
    with service.client() as http:
        http.post("/v1/events", json=forged).raise_for_status()
        score = http.post("/v1/sessions/bot/score").json()
    assert score["claimed_seconds"] > 3000
    assert score["effective_seconds"] == 0
    assert score["level"] == "high"
    reason = score["flags"][0]["reasons"][0]
    assert reason["code"] == "progress_unexplained" and reason["value"] > reason["threshold"]


def test_score_body_events_are_ingested_first(service) -> None:
    events = watched_session("sb", minutes=2)
    with service.client() as http:
        score = http.post("/v1/sessions/sb/score", json={"events": events}).json()
    assert score["events"] == len(events)


def test_unknown_session_is_404(service) -> None:
    with service.client() as http:
        answer = http.post("/v1/sessions/nothing/score")
    assert answer.status_code == 404 and "no events" in answer.json()["error"]


def test_undescribed_course_is_said(service) -> None:
    with service.client() as http:
        http.post("/v1/events", json=[event(0, "session_start", session="u1", course="nocourse")])
        score = http.post("/v1/sessions/u1/score").json()
    assert any("not described" in note for note in score["notes"])


def test_health_and_metrics(service) -> None:
    with service.client(None) as http:
        http_platform = service.client()
        http_platform.post("/v1/events", json=watched_session("h1", minutes=1)).raise_for_status()
        http_platform.post("/v1/sessions/h1/score").raise_for_status()
        health = http.get("/health").json()
        metrics = http.get("/metrics").text
    assert health["status"] == "ok" and health["store"]["ok"] is True
    assert len(health["shards"]) == service.settings.shards and health["lag"] == 0
    assert "learnguard_events_accepted_total" in metrics
    assert "learnguard_score_seconds_bucket" in metrics
    assert 'learnguard_stream_lag_events{shard="0"}' in metrics
