"""一人一策 (issue 13): each portrait course entry says what to re-watch and the pace to the
deadline; the at-risk report warns of learners who will not finish at their pace or would
have to cram. Real HTTP, real worker; times are event times plus an explicit ``as_of``."""

from __future__ import annotations

import pytest

from tests.factories import T0, event, watched_session

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY_MS = 86_400_000
COURSE = {"org_id": "zhejiang/hdu", "title": "党史学习", "opens_at": T0, "deadline": T0 + 30 * DAY_MS,
          "required_hours": 4, "videos": [{"video_id": "v1", "duration": 18000}],
          "checkpoints": [{"item_id": "q1", "video_id": "v1", "after_position": 900, "prompt": "本段讲了什么？",
                           "choices": ["甲", "乙"], "answer": 0}]}


def _on_day(events: list[dict], day: int) -> list[dict]:
    return [{**e, "ts": e["ts"] + day * DAY_MS} for e in events]


@pytest.fixture
def paced(service):
    steady = [e for day in range(3) for e in _on_day(
        watched_session(f"a{day}", "steady", minutes=40, video="v1"), day)]
    late = _on_day(watched_session("b0", "late", minutes=10, video="v1"), 0)
    late += [event(99, "quiz_answer", "b0", "late", at_s=700, item_id="q1", correct=False)]
    with service.client("platform") as http:
        assert http.put("/v1/courses/c1", json=COURSE).status_code in (200, 201)
        assert http.post("/v1/events", json=steady + late).status_code == 202
        for sid in ("a0", "a1", "a2", "b0"):
            assert http.post(f"/v1/sessions/{sid}/score").status_code == 200
    return service


def test_the_portrait_says_what_to_rewatch_and_the_pace_to_the_deadline(paced) -> None:
    as_of = str(T0 + 10 * DAY_MS)
    with paced.client("supervisor") as http:
        late = http.get("/v1/learners/late", params={"course_id": "c1", "as_of": as_of}).json()["courses"][0]
        steady = http.get("/v1/learners/steady", params={"course_id": "c1", "as_of": as_of}).json()["courses"][0]
        later = http.get("/v1/learners/late", params={"course_id": "c1", "as_of": str(T0 + 25 * DAY_MS)}).json()
    steps = late["next_steps"]
    # the segment before the checkpoint answered wrong comes first, then the video barely watched
    first = steps["rewatch"][0]
    assert (first["video_id"], first["item_id"], first["from_s"], first["to_s"]) == ("v1", "q1", 720.0, 900.0)
    assert first["why"].startswith("answered q1 wrong")
    assert any(s.get("coverage") is not None for s in steps["rewatch"])
    pace = steps["pace"]
    assert pace["days_left"] == 20.0 and pace["at_risk"] and pace["cramming_ahead"]
    assert pace["needed_hours_per_day"] == pytest.approx((4 - pace["effective_hours"]) / 20, abs=0.002)
    assert any("h to go in 20 days" in a for a in steps["advice"])
    assert not steady["next_steps"]["pace"]["at_risk"] and not steady["next_steps"]["pace"]["cramming_ahead"]
    assert later["courses"][0]["next_steps"]["pace"]["days_left"] == 5.0


def test_the_early_warning_names_who_will_not_finish_at_their_pace(paced) -> None:
    with paced.client("supervisor") as http:
        warned = http.get("/v1/reports/at-risk", params={"as_of": str(T0 + 10 * DAY_MS)}).json()
        after = http.get("/v1/reports/at-risk", params={"as_of": str(T0 + 31 * DAY_MS)}).json()
        bad = http.get("/v1/reports/at-risk", params={"as_of": "soon"})
    with paced.client("platform") as http:
        refused = http.get("/v1/reports/at-risk")
    assert [(i["learner_id"], i["at_risk"], i["cramming_ahead"]) for i in warned["items"]] == [("late", True, True)]
    item = warned["items"][0]
    assert item["creditable_hours"] == 4 and item["days_left"] == 20.0
    assert item["projected_hours"] < 4 and item["needed_hours_per_day"] > 2 * item["pace_hours_per_day"]
    assert after["items"] == []  # the deadline has passed: a warning comes before it or not at all
    assert bad.status_code == 400 and bad.json()["error"].startswith("as_of:")
    assert refused.status_code == 403
