"""Contract §5 over real HTTP: flagged-learner reports, reviews with history, ranking of
units — all scoped to the key's org subtree."""

from __future__ import annotations

import csv
import io

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def all_pages(http, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = http.get("/v1/reports/flagged", params=query).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def test_flagged_report_is_scoped_sorted_paged_and_filtered(cohort_service) -> None:
    service, cohort = cohort_service
    with service.client("admin") as http:
        everything = http.get("/v1/reports/flagged").json()["items"]
    with service.client("supervisor") as http:
        mine = http.get("/v1/reports/flagged").json()["items"]
        paged = all_pages(http, limit=2)
        scripted = http.get("/v1/reports/flagged", params={"pattern": "scripted_playback"}).json()["items"]
        risky = http.get("/v1/reports/flagged", params={"min_risk": 0.9}).json()["items"]
        as_csv = http.get("/v1/reports/flagged", headers={"Accept": "text/csv"})
        bad = http.get("/v1/reports/flagged", params={"since": "yesterday"})
    assert {i["org_id"].split("/")[1] for i in everything} >= {"hdu", "zju"}
    assert mine and all(i["org_id"].startswith("zhejiang/hdu") for i in mine)
    assert [i["risk"] for i in mine] == sorted((i["risk"] for i in mine), reverse=True)
    assert [(i["learner_id"], i["course_id"]) for i in paged] == [(i["learner_id"], i["course_id"]) for i in mine]
    assert scripted and all(i["patterns"] == ["scripted_playback"] for i in scripted)
    assert all(i["risk"] >= 0.9 for i in risky)
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert as_csv.headers["content-type"].startswith("text/csv") and len(rows) == len(mine)
    assert bad.status_code == 400 and bad.json()["error"].startswith("since:")
    truth = cohort.truth.learners
    for item in mine:
        assert set(item["patterns"]) & set(truth[item["learner_id"]]["patterns"]), item
        for flag in item["flags"]:
            assert flag["reasons"] and flag["status"] == "open"


def test_reviews_are_kept_with_who_and_when_and_never_overwritten(cohort_service) -> None:
    service, _ = cohort_service
    with service.client("supervisor") as http:
        item = http.get("/v1/reports/flagged").json()["items"][0]
        flag_id = item["flags"][0]["flag_id"]
        first = http.post(f"/v1/flags/{flag_id}/review", json={"decision": "confirmed", "note": "seen the log"})
        second = http.post(f"/v1/flags/{flag_id}/review", json={"decision": "dismissed", "note": "appeal upheld"})
        bad = http.post(f"/v1/flags/{flag_id}/review", json={"decision": "maybe"})
        unknown = http.post("/v1/flags/f-0000/review", json={"decision": "confirmed"})
        confirmed_only = http.get("/v1/reports/flagged", params={"status": "dismissed"}).json()["items"]
    assert first.status_code == 200 and first.json()["status"] == "confirmed"
    history = second.json()["reviews"]
    assert second.json()["status"] == "dismissed" and [r["decision"] for r in history] == ["confirmed", "dismissed"]
    assert history[0]["by"] == "hdu office" and history[0]["note"] == "seen the log" and history[0]["at"].endswith("Z")
    assert bad.status_code == 422 and unknown.status_code == 404
    assert any(f["flag_id"] == flag_id for i in confirmed_only for f in i["flags"])
    with service.client("platform") as http:
        assert http.post(f"/v1/flags/{flag_id}/review", json={"decision": "confirmed"}).status_code == 403
    with service.client("analyst") as http:  # analysts read, they do not rule
        assert http.post(f"/v1/flags/{flag_id}/review", json={"decision": "confirmed"}).status_code == 403


def test_reviews_outside_the_subtree_are_forbidden(cohort_service) -> None:
    service, _ = cohort_service
    with service.client("admin") as http:
        items = http.get("/v1/reports/flagged").json()["items"]
    outside = next(i for i in items if not i["org_id"].startswith("zhejiang/hdu"))
    with service.client("supervisor") as http:
        answer = http.post(f"/v1/flags/{outside['flags'][0]['flag_id']}/review", json={"decision": "confirmed"})
    assert answer.status_code == 403


def test_ranking_of_units(cohort_service) -> None:
    service, _ = cohort_service
    with service.client("supervisor") as http:
        ranking = http.get("/v1/reports/orgs").json()["items"]
        under = http.get("/v1/reports/orgs", params={"under": "zhejiang/hdu/computing"}).json()["items"]
    assert ranking and all(r["org_id"].startswith("zhejiang/hdu") for r in ranking)
    assert [r["rank"] for r in ranking] == list(range(1, len(ranking) + 1))
    for row in ranking:
        assert row["learners"] >= row["active_learners"] >= 0
        assert 0 <= row["flagged_rate"] <= 1 and 0 <= row["completion_rate"] <= 1
    assert [r["org_id"] for r in under] == ["zhejiang/hdu/computing"]
    with service.client("platform") as http:
        assert http.get("/v1/reports/orgs").status_code == 403


def test_a_flag_seen_in_a_score_can_be_reviewed_and_its_status_shows_there(cohort_service) -> None:
    service, cohort = cohort_service
    forged = next(sid for sid, t in cohort.truth.sessions.items() if t["archetype"] in
                  ("forged_random", "forged_fixed", "instant_pass", "credit_burst", "parallel_videos", "clock_ahead",
                   "inpage_bot") and t["patterns"])
    with service.client("admin") as http:
        flag = http.post(f"/v1/sessions/{forged}/score").json()["flags"][0]
        assert http.post(f"/v1/flags/{flag['flag_id']}/review", json={"decision": "confirmed"}).status_code == 200
        again = http.post(f"/v1/sessions/{forged}/score").json()
    assert next(f for f in again["flags"] if f["flag_id"] == flag["flag_id"])["status"] == "confirmed"
