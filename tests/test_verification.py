"""Evidence a client cannot forge (issue 10, contract v1.1 §8–10): media the platform's
servers delivered, and challenges the service issues, grades and times itself."""

from __future__ import annotations

import pytest

from learnguard.detector.offline import score_offline
from learnguard.features.course import CourseInfo
from tests.factories import T0, event, watched_session

COURSE = {"title": "党史学习", "org_id": "zhejiang/hdu", "max_rate": 2.0,
          "videos": [{"video_id": "v1", "duration": 7200}],
          "checkpoints": [{"item_id": f"k{i}", "video_id": "v1", "after_position": 300 * i,
                           "prompt": f"第{i}段讲了什么？", "choices": ["甲", "乙", "丙", "丁"], "answer": i % 4}
                          for i in range(1, 24)]}
INFO = CourseInfo(described=True, max_rate=2.0, durations={"v1": 7200.0})
COURSE_ANSWERS = {c["item_id"]: c["answer"] for c in COURSE["checkpoints"]}


def _fetches(session: str, minutes: int, start_n: int = 1000, pace: float = 1.0) -> list[dict]:
    """The media server's log of a player fetching 10 s segments at ``pace``."""
    return [event(start_n + i, "media_fetch", session, at_s=1 + i * 10 / pace, video_id="v1",
                  range_start=10.0 * i, range_end=10.0 * (i + 1), source="server")
            for i in range(minutes * 6)]


# -- media delivery (offline: the same pipeline the workers run) --------------------------------
def test_playback_the_media_server_delivered_stands() -> None:
    events = watched_session("ok", minutes=20) + _fetches("ok", 21)
    score = score_offline(events, INFO)["ok"]
    assert score.flags == [] and score.effective_seconds == pytest.approx(1201, abs=2)
    assert score.verification is not None and score.verification.observed
    assert score.verification.media_covered_seconds == pytest.approx(1260)


def test_claimed_playback_never_delivered_is_observed_evidence_and_not_credited() -> None:
    events = watched_session("spoof", minutes=30) + _fetches("spoof", 8)
    score = score_offline(events, INFO)["spoof"]
    reason = next(r for f in score.flags for r in f.reasons if r.code == "playback_not_delivered")
    assert reason.basis == "observed" and reason.value > 1200
    assert score.effective_seconds <= 8 * 60


def test_media_delivered_faster_than_the_course_allows_is_rate_spoofing() -> None:
    events = watched_session("fast", minutes=20) + _fetches("fast", 20, pace=3.0)
    score = score_offline(events, INFO)["fast"]
    reason = next(r for f in score.flags for r in f.reasons if r.code == "delivered_faster_than_allowed")
    assert reason.value > 2.5 and reason.threshold == 2.5 and reason.basis == "observed"


def test_a_media_fetch_whose_range_ends_before_it_starts_is_rejected(service) -> None:
    bad = event(1, "media_fetch", "mf", video_id="v1", range_start=20.0, range_end=10.0, source="server")
    with service.client() as http:
        answer = http.post("/v1/events", json=[bad]).json()
    assert answer["accepted"] == 0 and answer["rejected"][0]["error"].startswith("range_end")


# -- checkpoints on the course -------------------------------------------------------------------
def test_checkpoint_errors_name_the_field_and_answers_stay_with_analysts(service) -> None:
    wrong_answer = {**COURSE, "checkpoints": [{**COURSE["checkpoints"][0], "answer": 4}]}
    too_far = {**COURSE, "checkpoints": [{**COURSE["checkpoints"][0], "after_position": 8000}]}
    with service.client() as platform:
        bad = platform.put("/v1/courses/cp", json=wrong_answer)
        far = platform.put("/v1/courses/cp", json=too_far)
        assert platform.put("/v1/courses/cp", json=COURSE).status_code == 200
        shown = platform.get("/v1/courses/cp").json()
    with service.client("analyst") as analyst:
        full = analyst.get("/v1/courses/cp").json()
    assert bad.status_code == 400 and bad.json()["error"].startswith("checkpoints[0].answer")
    assert far.status_code == 400 and far.json()["error"].startswith("checkpoints[0].after_position")
    assert "answer" not in shown["checkpoints"][0] and full["checkpoints"][0]["answer"] == 1


# -- challenges over HTTP -----------------------------------------------------------------------
def _session_with_course(service, session: str, minutes: int = 60, learner: str | None = None) -> None:
    with service.client() as http:
        assert http.put("/v1/courses/c1", json=COURSE).status_code == 200
        events = [{**e, "course_id": "c1"} for e in watched_session(session, learner=learner or f"l-{session}",
                                                                    minutes=minutes)]
        assert http.post("/v1/events", json=events).status_code == 202


def _at(seconds: float) -> int:
    return T0 + int(seconds * 1000)


FIRST_CALLS: dict[str, float] = {}


def _walk(http, session: str, minutes: int, answer, learner: str | None = None) -> list[dict]:
    """The platform calls every 3 minutes of playback and forwards ``answer(challenge, at)``."""
    shown: list[dict] = []
    for minute in range(3, minutes, 3):
        at = minute * 60
        reply = http.post(f"/v1/sessions/{session}/challenge", json={"at": _at(at), "video_id": "v1",
                                                                      "position": at})
        assert reply.status_code in (200, 204), reply.text
        if reply.status_code == 200:
            challenge = reply.json()
            FIRST_CALLS.setdefault(session, at)
            shown.append(challenge)
            answered = answer(challenge, at)
            if answered is not None:
                delay, choice = answered
                assert http.post("/v1/events", json=[event(
                    5000 + minute, "check_answer", session, learner=learner or f"l-{session}", at_s=at + delay,
                    course="c1",
                    check_id=challenge["challenge_id"], choice=choice, received_at=_at(at + delay))]
                ).json()["accepted"] == 1
    return shown


def test_the_service_issues_checkpoints_grades_them_and_reports_verification(service) -> None:
    _session_with_course(service, "person")
    with service.client() as http:
        fetched = [{**e, "learner_id": "l-person"} for e in _fetches("person", 61)]
        assert http.post("/v1/events", json=fetched).json()["accepted"] == 366
        assert http.post("/v1/sessions/person/challenge", json={"at": _at(60)}).status_code == 204  # too early
        shown = _walk(http, "person", 60, lambda c, at: (6.0, COURSE_ANSWERS.get(c["item_id"], 0)))
        score = http.post("/v1/sessions/person/score").json()
    assert 1 <= len(shown) <= 4 and all(c["challenge_id"].startswith("ch-") for c in shown)
    assert any(c["kind"] == "checkpoint" and len(c["choices"]) == 4 for c in shown)
    assert "answer" not in shown[0]
    v = score["verification"]
    assert v["observed"] and v["challenges"] == len(shown) and v["passed"] == len(shown) and v["missed"] == 0
    assert v["media_covered_seconds"] == pytest.approx(3660)
    assert score["level"] == "normal" and score["effective_seconds"] == pytest.approx(3601, abs=2)
    with service.client("supervisor") as office:
        timeline = office.get("/v1/sessions/person/timeline").json()
    assert [c["outcome"] for c in timeline["challenges"]] == ["passed"] * len(shown)
    assert all(c["latency_s"] == pytest.approx(6.0) for c in timeline["challenges"])
    assert timeline["delivered"] and max(p["position"] for p in timeline["delivered"]) > 3500  # the last 90 s wait
    assert not any(p["type"] == "media_fetch" for p in timeline["points"])



def test_guessing_at_every_checkpoint_is_flagged_with_the_binomial_tests(service) -> None:
    _session_with_course(service, "guesser", minutes=120)
    wrong = {item: (answer + 1) % 4 for item, answer in COURSE_ANSWERS.items()}
    with service.client() as http:
        # a session that keeps answering wrong meets challenges more often (escalation)
        shown = _walk(http, "guesser", 120, lambda c, at: (4.0, wrong.get(c["item_id"], 0)))
        score = http.post("/v1/sessions/guesser/score").json()
    assert len(shown) >= 5
    reason = next(r for f in score["flags"] for r in f["reasons"] if r["code"] == "checkpoints_at_chance")
    assert reason["basis"] == "observed" and "binomial" in reason["message"]
    assert score["verification"]["failed"] >= 4


def test_one_missed_challenge_is_a_person_stepping_away_two_while_playing_are_evidence(service) -> None:
    _session_with_course(service, "away1", minutes=40)
    _session_with_course(service, "away3", minutes=120)
    missed: list[str] = []

    def away_once(challenge: dict, at: float) -> tuple[float, int] | None:
        if not missed:
            missed.append(challenge["challenge_id"])
            return None
        return 5.0, COURSE_ANSWERS.get(challenge["item_id"], 0)

    with service.client() as http:
        one = _walk(http, "away1", 40, away_once)
        _walk(http, "away3", 120, lambda c, at: None)
        once = http.post("/v1/sessions/away1/score").json()
        often = http.post("/v1/sessions/away3/score").json()
    assert one and once["verification"]["missed"] <= 1 and once["level"] == "normal"
    assert often["verification"]["missed"] >= 2
    assert any(r["code"] == "challenges_missed_while_playing" for f in often["flags"] for r in f["reasons"])


def test_answers_to_unknown_or_foreign_challenges_are_rejected_and_only_the_first_counts(service) -> None:
    _session_with_course(service, "a")
    _session_with_course(service, "b")
    with service.client() as http:
        shown = _walk(http, "a", 60, lambda c, at: None)
        assert shown
        cid = shown[0]["challenge_id"]
        replies = http.post("/v1/events", json=[
            event(9001, "check_answer", "b", learner="l-b", course="c1", check_id=cid, choice=0),
            event(9002, "check_answer", "a", learner="l-a", course="c1", check_id="ch-0000000000000000", choice=0),
            {**event(9003, "challenge_issued", "a", learner="l-a", course="c1"), "check_id": "ch-forged",
             "kind": "presence"},
        ]).json()
        first, again = (event(9004 + i, "check_answer", "a", learner="l-a", course="c1", check_id=cid, choice=choice,
                              received_at=_at(FIRST_CALLS["a"] + 3 + i)) for i, choice in enumerate((3, 0)))
        both = http.post("/v1/events", json=[first, again]).json()
        graded = http.post("/v1/sessions/a/score").json()["verification"]
        unknown = http.post("/v1/sessions/nobody/challenge", json={})
        far = http.post("/v1/sessions/a/challenge", json={"at": _at(3 * 86400)})
    with service.client("platform_other") as other:
        foreign = other.post("/v1/sessions/a/challenge", json={})
    errors = [r["error"] for r in replies["rejected"]]
    assert replies["accepted"] == 0 and len(errors) == 3
    assert "not issued to session 'b'" in errors[0] and "not issued to session 'a'" in errors[1]
    assert errors[2].startswith("type: challenge_issued")
    assert unknown.status_code == 404 and foreign.status_code == 403
    assert far.status_code == 400 and far.json()["error"].startswith("at:")
    assert both["accepted"] == 2
    assert graded["failed"] == 1 and graded["passed"] == 0  # the first answer (wrong) counts, not the second
    assert graded["missed"] + graded["pending"] == len(shown) - 1  # pending until platform time passes expiry


def test_misses_on_a_tab_left_playing_while_the_learner_answers_elsewhere_accuse_no_one(service) -> None:
    _session_with_course(service, "pc", minutes=120, learner="l-both")
    _session_with_course(service, "phone", minutes=120, learner="l-both")
    _session_with_course(service, "alone", minutes=120)
    with service.client() as http:
        _walk(http, "pc", 120, lambda c, at: None, learner="l-both")
        _walk(http, "phone", 120, lambda c, at: (5.0, COURSE_ANSWERS.get(c["item_id"], 0)), learner="l-both")
        _walk(http, "alone", 120, lambda c, at: None)
        pc = http.post("/v1/sessions/pc/score").json()
        alone = http.post("/v1/sessions/alone/score").json()
    assert pc["verification"]["missed"] >= 3 and alone["verification"]["missed"] >= 3
    assert pc["level"] == "normal" and pc["effective_seconds"] == 0  # nobody watched there: no time, no accusation
    assert any(r["code"] == "challenges_missed_while_playing" for f in alone["flags"] for r in f["reasons"])


def _issued(session: str, learner: str, n: int, at_s: float) -> dict:
    return {**event(7000 + n, "challenge_issued", session, learner=learner, at_s=at_s, course="c1"),
            "check_id": f"ch-{session}-{n}", "kind": "presence", "source": "server", "received_at": _at(at_s)}


def test_misses_in_every_sitting_count_over_the_learners_sessions() -> None:
    """Two misses while playing in each of three sittings: no sitting alone is enough, the
    learner's record is (a tab nobody watches misses every time)."""
    events = []
    for day in range(3):
        session = f"tab{day}"
        sitting = [{**e, "ts": e["ts"] + day * 86_400_000} for e in watched_session(session, learner="l-tab",
                                                                                     minutes=60)]
        shift = day * 86_400_000
        events += sitting + [{**_issued(session, "l-tab", n, 1200 + 900 * n), "ts": _at(1200 + 900 * n) + shift,
                              "received_at": _at(1200 + 900 * n) + shift} for n in range(2)]
        events.append({**event(7999, "session_end", session, learner="l-tab", at_s=3700, course="c1"),
                       "ts": _at(3700) + day * 86_400_000})
    scores = score_offline(events, INFO)
    assert all(s.verification is not None and s.verification.missed == 2 for s in scores.values())
    for score in scores.values():
        reason = next(r for f in score.flags for r in f.reasons if r.code == "challenges_missed_while_playing")
        assert reason.value == 6 and "3 sessions" in reason.message and score.effective_seconds == 0
