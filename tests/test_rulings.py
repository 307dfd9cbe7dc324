"""Rulings count (issue 13): a dismissed flag stops counting in the score, the study time,
the portrait and the reports; learner-level flags take one ruling per learner x course;
a selection is ruled at once; an appeal puts a flag back in the queue. Real HTTP."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLAYING_BOTS = ("inpage_bot", "mimic_bot")  # bots that really play the media: time a dismissal gives back


def _scripted_session(http, cohort) -> tuple[str, dict]:
    """A bot's session that played real media and whose only flag is scripted playback."""
    for sid, truth in sorted(cohort.truth.sessions.items()):
        if truth["archetype"] not in PLAYING_BOTS:
            continue
        score = http.post(f"/v1/sessions/{sid}/score").json()
        if [f["pattern"] for f in score["flags"]] == ["scripted_playback"]:
            return sid, score
    raise AssertionError("the cohort has no playing bot with only a scripted-playback flag")


def _portrait_hours(http, learner_id: str, course_id: str) -> float:
    portrait = http.get(f"/v1/learners/{learner_id}", params={"course_id": course_id}).json()
    return portrait["courses"][0]["effective_hours"]


def test_a_dismissed_flag_stops_counting_everywhere_and_a_confirmed_one_stays(cohort_service) -> None:
    service, cohort = cohort_service
    with service.client("admin") as http:
        sid, before = _scripted_session(http, cohort)
    flag_id = before["flags"][0]["flag_id"]
    learner, course = before["learner_id"], before["course_id"]
    assert before["level"] != "normal" and before["effective_seconds"] < before["claimed_seconds"]
    with service.client("admin") as http:
        hours_before = _portrait_hours(http, learner, course)
        listed_before = http.get("/v1/reports/flagged", params={"course_id": course}).json()["items"]
        ranked_before = {r["org_id"]: r for r in http.get("/v1/reports/orgs").json()["items"]}
        ruled = http.post(f"/v1/flags/{flag_id}/review", json={"decision": "dismissed", "note": "watched it herself"})
        hours_after = _portrait_hours(http, learner, course)
        listed_after = http.get("/v1/reports/flagged", params={"course_id": course}).json()["items"]
        dismissed = http.get("/v1/reports/flagged", params={"status": "dismissed"}).json()["items"]
        ranked_after = {r["org_id"]: r for r in http.get("/v1/reports/orgs").json()["items"]}
    with service.client("admin") as http:
        after = http.post(f"/v1/sessions/{sid}/score").json()
    assert ruled.status_code == 200 and ruled.json()["status"] == "dismissed"
    # the score: the flag is still listed, with its ruling, but adds no risk and takes no time
    assert [(f["flag_id"], f["status"]) for f in after["flags"]] == [(flag_id, "dismissed")]
    assert after["risk"] == 0.0 and after["level"] == "normal"
    assert after["effective_seconds"] > before["effective_seconds"]
    # the portrait credits the session again
    assert hours_after > hours_before
    # the open queue no longer shows the learner for it; asking for dismissed flags does
    mine = [(i["learner_id"], i["course_id"]) for i in listed_before]
    assert (learner, course) in mine
    assert all(flag_id not in [f["flag_id"] for f in i["flags"]] for i in listed_after)
    assert any(flag_id in [f["flag_id"] for f in i["flags"]] for i in dismissed)
    # the unit's flagged rate drops (the learner has no other standing misconduct flag)
    org = before["org_id"]
    still_flagged = any(i["learner_id"] == learner and any(
        f["pattern"] in ("scripted_playback", "screen_flooding", "account_sharing") for f in i["flags"])
        for i in listed_after)
    if not still_flagged:
        assert ranked_after[org]["flagged_rate"] < ranked_before[org]["flagged_rate"]
    # confirming it again brings everything back
    with service.client("admin") as http:
        http.post(f"/v1/flags/{flag_id}/review", json={"decision": "confirmed"})
        assert _portrait_hours(http, learner, course) == hours_before
        again = http.post(f"/v1/sessions/{sid}/score").json()
    assert (again["risk"], again["effective_seconds"]) == (before["risk"], before["effective_seconds"])
    assert again["flags"][0]["status"] == "confirmed"


def test_cramming_is_one_flag_and_one_ruling_per_learner_and_course(cohort_service) -> None:
    service, _ = cohort_service
    with service.client("admin") as http:
        items = http.get("/v1/reports/flagged", params={"pattern": "last_minute_cramming"}).json()["items"]
        crammer = next(i for i in items if len(i["flags"][0]["sessions"]) > 1)
        flag = crammer["flags"][0]
        assert len(crammer["flags"]) == 1  # one box, not one per session
        scores = [http.post(f"/v1/sessions/{sid}/score").json() for sid in flag["sessions"]]
        ids = {f["flag_id"] for s in scores for f in s["flags"] if f["pattern"] == "last_minute_cramming"}
        assert ids == {flag["flag_id"]}
        assert http.post(f"/v1/flags/{flag['flag_id']}/review", json={"decision": "dismissed"}).status_code == 200
        statuses = {f["status"] for sid in flag["sessions"]
                    for f in http.post(f"/v1/sessions/{sid}/score").json()["flags"]
                    if f["pattern"] == "last_minute_cramming"}
        left = http.get("/v1/reports/flagged", params={"pattern": "last_minute_cramming"}).json()["items"]
    assert statuses == {"dismissed"}
    assert (crammer["learner_id"], crammer["course_id"]) not in {(i["learner_id"], i["course_id"]) for i in left}


def test_a_selection_is_ruled_at_once_and_what_cannot_be_ruled_says_why(cohort_service) -> None:
    service, _ = cohort_service
    with service.client("admin") as http:
        everything = http.get("/v1/reports/flagged").json()["items"]
    outside = next(f["flag_id"] for i in everything if not i["org_id"].startswith("zhejiang/hdu") for f in i["flags"])
    with service.client("supervisor") as http:
        mine = [f["flag_id"] for i in http.get("/v1/reports/flagged").json()["items"] for f in i["flags"]][:3]
        answer = http.post("/v1/flags/review", json={"flag_ids": [*mine, outside, "f-unknown"],
                                                      "decision": "confirmed", "note": "bulk"})
        empty = http.post("/v1/flags/review", json={"flag_ids": [], "decision": "confirmed"})
        confirmed = http.get("/v1/reports/flagged", params={"status": "confirmed"}).json()["items"]
    body = answer.json()
    assert answer.status_code == 200
    assert [i["flag_id"] for i in body["items"]] == mine and {i["status"] for i in body["items"]} == {"confirmed"}
    assert {(e["flag_id"], e["status"]) for e in body["errors"]} == {(outside, 403), ("f-unknown", 404)}
    assert empty.status_code == 422
    assert set(mine) <= {f["flag_id"] for i in confirmed for f in i["flags"]}


def test_an_appeal_puts_a_ruled_flag_back_in_the_queue_with_the_statement(cohort_service) -> None:
    service, cohort = cohort_service
    with service.client("admin") as http:
        sid, before = _scripted_session(http, cohort)
    flag_id = before["flags"][0]["flag_id"]
    with service.client("admin") as http:
        http.post(f"/v1/flags/{flag_id}/review", json={"decision": "confirmed"})
    with service.client("platform") as http:
        appealed = http.post(f"/v1/flags/{flag_id}/appeal",
                             json={"statement": "I watched on my phone at 1.5x", "on_behalf_of": "learner"})
        blank = http.post(f"/v1/flags/{flag_id}/appeal", json={"statement": ""})
        score = http.post(f"/v1/sessions/{sid}/score").json()
    with service.client("platform_other") as http:
        foreign = http.post(f"/v1/flags/{flag_id}/appeal", json={"statement": "not mine"})
    with service.client("analyst") as http:
        analyst = http.post(f"/v1/flags/{flag_id}/appeal", json={"statement": "x"})
    with service.client("admin") as http:
        queue = http.get("/v1/reports/flagged", params={"status": "appealed"}).json()["items"]
    assert appealed.status_code == 200, appealed.text
    detail = appealed.json()
    assert detail["status"] == "appealed"
    assert [(r["decision"], r["note"]) for r in detail["reviews"]] == [
        ("confirmed", ""), ("appealed", "I watched on my phone at 1.5x")]
    assert detail["reviews"][-1]["by"] == "platform for learner"
    assert blank.status_code == 422 and foreign.status_code == 403 and analyst.status_code == 403
    # an appealed flag stands until a supervisor rules again
    assert score["risk"] == before["risk"] and score["flags"][0]["status"] == "appealed"
    assert any(flag_id in [f["flag_id"] for f in i["flags"]] for i in queue)
