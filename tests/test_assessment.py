"""The learning-effect assessment means something: on real OULAD learners, on the
simulator's known truth, and through the portrait endpoint (contract §4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy.stats import spearmanr

from learnguard.detector.offline import portraits_offline, run_offline
from learnguard.features.course import course_info, parse_course
from learnguard.models.oulad import validate
from learnguard.simulator.cohort import HONEST, simulate_cohort
from tests.factories import watched_session

OULAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "oulad"
SCRIPTED = {"forged_random", "forged_fixed", "instant_pass", "credit_burst", "parallel_videos", "clock_ahead",
            "inpage_bot"}


@pytest.mark.skipif(not OULAD.exists(), reason="OULAD is in ../shared/data/oulad")
def test_oulad_last_moment_learners_do_worse_and_early_mastery_predicts_the_result() -> None:
    result = validate(OULAD)
    last = result["last_moment"]
    assert last["students"] > 20_000
    assert last["pass_rate_last_moment"] < last["pass_rate_earlier"]
    assert last["spearman_last_moment_share_vs_score"] < 0
    assert result["early_mastery"]["auc_rasch_mastery"] > 0.7


@pytest.mark.skipif(not OULAD.exists(), reason="OULAD is in ../shared/data/oulad")
def test_oulad_falling_behind_a_month_in_warns_of_not_finishing() -> None:
    by_day = {row["day"]: row for row in validate(OULAD)["early_warning"]["by_day"]}
    # a month in, those behind on their coursework mostly do not finish (far above the base rate) …
    assert by_day[30]["precision"] > 0.85 > by_day[30]["not_finishing_rate"] + 0.3
    # … and waiting finds more of them, at a precision that stays high
    assert by_day[120]["recall"] > by_day[30]["recall"] and by_day[120]["precision"] > 0.75


@pytest.fixture(scope="module")
def simulated():
    cohort = simulate_cohort(learners=150, seed=401)
    course = parse_course(json.dumps(cohort.course).encode())
    info = course_info(course, 2.0)
    return cohort, portraits_offline(run_offline(cohort.events, info), course, info)


def test_mastery_tracks_the_simulated_ability(simulated) -> None:
    cohort, portraits = simulated
    learners = cohort.truth.learners
    ids = [lid for lid, p in portraits.items() if p["assessment"]["mastery"] is not None
           and learners[lid]["archetype"] in HONEST]
    rho = spearmanr([portraits[i]["assessment"]["mastery"] for i in ids], [learners[i]["ability"] for i in ids])
    assert rho.statistic > 0.75


def test_participation_tracks_true_watched_time_and_cheaters_do_not_score_high(simulated) -> None:
    cohort, portraits = simulated
    watched: dict[str, float] = {}
    for truth in cohort.truth.sessions.values():
        watched[truth["learner_id"]] = watched.get(truth["learner_id"], 0.0) + truth["true_watched_seconds"]
    learners = cohort.truth.learners
    honest = [lid for lid in portraits if learners[lid]["archetype"] in HONEST]
    rho = spearmanr([portraits[i]["assessment"]["participation"] for i in honest], [watched[i] for i in honest])
    assert rho.statistic > 0.5
    scripted = [lid for lid in portraits if learners[lid]["archetype"] in SCRIPTED]
    assert scripted and max(portraits[i]["assessment"]["participation"] for i in scripted) <= 10
    assert all(portraits[i]["effective_hours"] == 0 for i in scripted)


def test_every_part_is_explained(simulated) -> None:
    _, portraits = simulated
    for portrait in portraits.values():
        assessment = portrait["assessment"]
        assert 0 <= assessment["overall"] <= 100
        text = " ".join(assessment["explanations"])
        assert "participation" in text and "attitude" in text and "overall =" in text


@pytest.mark.integration
def test_portrait_endpoint_is_scoped_and_explained(service) -> None:
    course = {"title": "t", "org_id": "zhejiang/hdu", "required_hours": 1, "max_rate": 2.0,
              "videos": [{"video_id": "v1", "duration": 1200}]}
    events = watched_session("p1", learner="cadre-1", minutes=10) + watched_session(
        "p2", learner="cadre-2", org="zhejiang/zju", minutes=5)
    with service.client("admin") as http:
        http.put("/v1/courses/c1", json=course).raise_for_status()
        http.post("/v1/events", json=events).raise_for_status()
        http.post("/v1/sessions/p1/score").raise_for_status()
        http.post("/v1/sessions/p2/score").raise_for_status()
    with service.client("supervisor") as http:
        mine = http.get("/v1/learners/cadre-1")
        other = http.get("/v1/learners/cadre-2")
        unknown = http.get("/v1/learners/nobody")
    with service.client("platform") as http:
        platform = http.get("/v1/learners/cadre-1")
    assert mine.status_code == 200, mine.text
    entry = mine.json()["courses"][0]
    assert entry["course_id"] == "c1" and entry["required_hours"] == 1
    assert entry["effective_hours"] == pytest.approx(601 / 3600, abs=0.01)
    assert entry["coverage"] == pytest.approx(0.5, abs=0.01)
    assert entry["assessment"]["explanations"]
    assert other.status_code == 403 and unknown.status_code == 404 and platform.status_code == 403
