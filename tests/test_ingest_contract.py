"""POST /v1/events and courses over real HTTP, on embedded and server Redis (contract §1–2)."""

from __future__ import annotations

import json

import pytest

from tests.factories import event, watched_session

pytestmark = pytest.mark.integration


def test_valid_events_are_accepted_and_bad_ones_named(service) -> None:
    batch = [event(0, "session_start"),
             event(1, "video_play", video_id="v1", position=0, rate=0),
             event(2, "video_heartbeat", video_id="v1", position=30, rate=16),
             event(3, "video_seek", video_id="v1", from_position=30),
             {"event_id": "x", "type": "click"},
             event(5, "visibility", visible="yes"),
             event(6, "comment", text="好" * 4001)]
    with service.client() as http:
        answer = http.post("/v1/events", json=batch)
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    errors = {r["index"]: (r["event_id"], r["error"]) for r in body["rejected"]}
    assert errors[1] == ("s1-e1", "rate: must be a number > 0")
    assert errors[3][1] == "to_position: required for type video_seek"
    assert errors[4][1].startswith("ts: required")
    assert errors[5][1].startswith("visible: must be a boolean")
    assert errors[6][1].startswith("text: must be a string of length <= 4000")


def test_duplicate_event_ids_are_counted_once(service) -> None:
    batch = watched_session(minutes=2)
    with service.client() as http:
        first = http.post("/v1/events", json=batch).json()
        again = http.post("/v1/events", json=batch[:3] + [batch[0]]).json()
        score = http.post("/v1/sessions/s1/score").json()
    assert first["accepted"] == len(batch)
    assert again == {"accepted": 0, "duplicates": 4, "rejected": []}
    assert score["events"] == len(batch)


def test_ndjson_is_accepted_and_a_broken_line_is_named(service) -> None:
    lines = "\n".join(json.dumps(e) for e in watched_session(minutes=1)) + "\n"
    with service.client() as http:
        ok = http.post("/v1/events", content=lines, headers={"Content-Type": "application/x-ndjson"})
        broken = http.post("/v1/events", content=lines + '{"event_id": "z",\n',
                           headers={"Content-Type": "application/x-ndjson"})
    assert ok.status_code == 202 and ok.json()["accepted"] == lines.count("\n")
    assert broken.status_code == 400
    assert f"NDJSON line {lines.count(chr(10)) + 1}" in broken.json()["error"]


@pytest.mark.parametrize("body, where", [
    (b'[{"event_id": "a",}]', "line 1, column 19"),
    (b"[\n  {\"a\": 1}\n  {\"b\": 2}]", "line 3"),
    (b"not json", "line 1, column"),
])
def test_a_body_that_is_not_json_gets_400_saying_where(service, body: bytes, where: str) -> None:
    with service.client() as http:
        answer = http.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert where in answer.json()["error"]


def test_limits_give_413(service) -> None:
    too_many = [event(i, "click") for i in range(5001)]
    with service.client() as http:
        count = http.post("/v1/events", json=too_many)
        size = http.post("/v1/events", content=b"[" + b" " * (5 * 1024 * 1024) + b"]",
                         headers={"Content-Type": "application/json"})
    assert count.status_code == 413 and "5001 events" in count.json()["error"]
    assert size.status_code == 413
    assert service.store.streams.accepted_counts("s1") == {}


@pytest.mark.parametrize("body", [b"", b"{}", b"[]", b"null", b"[1, [2], \"x\"]", b"\xff\xfe",
                                  b'{"events": 5}', b"[" * 10000, b'[{"type": "video_play", "ts": 1e400}]'])
def test_strange_bodies_never_give_500(service, body: bytes) -> None:
    with service.client() as http:
        answer = http.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
        answer_nd = http.post("/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"})
    assert answer.status_code in (202, 400, 413), answer.text
    assert answer_nd.status_code in (202, 400, 413), answer_nd.text


def test_rejected_events_change_nothing(service) -> None:
    with service.client() as http:
        answer = http.post("/v1/events", json=[event(1, "video_play", video_id="v1", position=-1)])
        score = http.post("/v1/sessions/s1/score")
    assert answer.json()["accepted"] == 0
    assert score.status_code == 404


def test_courses_round_trip_and_validate(service) -> None:
    course = {"title": "2026 spring governance class", "org_id": "zhejiang/hdu",
              "opens_at": "2026-03-01T00:00:00+08:00", "deadline": "2026-03-31T23:59:59+08:00",
              "required_hours": 12, "max_rate": 2.0, "videos": [{"video_id": "v1", "duration": 1800}]}
    with service.client() as http:
        put = http.put("/v1/courses/c1", json=course)
        got = http.get("/v1/courses/c1")
        bad = http.put("/v1/courses/c2", json={**course, "max_rate": 0})
        bad_video = http.put("/v1/courses/c2", json={**course, "videos": [{"video_id": "v1", "duration": -5}]})
        missing = http.get("/v1/courses/nope")
    assert put.status_code == 200
    assert got.json()["max_rate"] == 2.0 and got.json()["videos"][0]["duration"] == 1800
    assert bad.status_code == 400 and bad.json()["error"].startswith("max_rate:")
    assert bad_video.status_code == 400 and "videos[0].duration" in bad_video.json()["error"]
    assert missing.status_code == 404
