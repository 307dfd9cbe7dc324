"""Credited hours out (issue 12): the hours that stand per learner × course, as the portrait
counts them, held while a misconduct flag stands, given back by a dismissal; as JSON, CSV
and xAPI statements this service itself reads back. Real HTTP."""

from __future__ import annotations

import csv
import io

import pytest

from learnguard.features.xapi import decode_statements

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _all(http, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = http.get("/v1/credits", params={**params, "limit": 7, **({"cursor": cursor} if cursor else {})}).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def test_credits_are_the_hours_that_stand_and_follow_the_rulings(cohort_service) -> None:
    service, cohort = cohort_service
    with service.client("platform") as http:
        credits = _all(http)
    learners = {truth["learner_id"] for truth in cohort.truth.sessions.values()}
    assert {c["learner_id"] for c in credits} == learners and len(credits) == len(learners)
    with service.client("admin") as http:
        for credit in credits[:6]:
            portrait = http.get(f"/v1/learners/{credit['learner_id']}",
                                params={"course_id": credit["course_id"]}).json()
            assert credit["effective_hours"] == pytest.approx(portrait["courses"][0]["effective_hours"], abs=0.01)
        flagged = http.get("/v1/reports/flagged").json()["items"]
    misconduct = {i["learner_id"] for i in flagged
                  if any(f["pattern"] != "last_minute_cramming" for f in i["flags"])}
    by_learner = {c["learner_id"]: c for c in credits}
    assert misconduct and all(by_learner[learner]["status"] == "under_review" for learner in misconduct)
    assert all(c["status"] in ("complete", "in_progress") for c in credits if c["learner_id"] not in misconduct)
    assert all(c["complete"] == (c["effective_hours"] >= c["creditable_hours"]) for c in credits
               if c["creditable_hours"] is not None)

    # a dismissal gives the learner's time back and lifts the hold
    learner = sorted(misconduct)[0]
    item = next(i for i in flagged if i["learner_id"] == learner)
    with service.client("admin") as http:
        http.post("/v1/flags/review", json={"flag_ids": [f["flag_id"] for f in item["flags"]],
                                            "decision": "dismissed", "note": "checked with the learner"})
    with service.client("platform") as http:
        after = next(c for c in _all(http) if c["learner_id"] == learner)
    assert after["status"] in ("complete", "in_progress")
    assert after["effective_hours"] >= by_learner[learner]["effective_hours"]


def test_credits_as_csv_and_as_xapi_statements_and_scoped(cohort_service) -> None:
    service, _ = cohort_service
    with service.client("platform") as http:
        table = http.get("/v1/credits", params={"format": "csv"})
        statements = http.get("/v1/credits", params={"format": "xapi"})
        credits = http.get("/v1/credits").json()["items"]
    assert table.status_code == 200 and table.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(table.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["learner_id", "org_id", "course_id", "effective_hours"] and len(rows) == len(credits) + 1
    read = decode_statements(statements.content)  # our own xAPI reader takes them
    assert len(read) == len(credits)
    for statement, credit in zip(read, credits, strict=True):
        assert statement.actor.account.name == credit["learner_id"]
        assert statement.verb.id.endswith("completed" if credit["status"] == "complete" else "progressed")
        assert statement.result.duration == f"PT{round(credit['effective_hours'] * 3600)}S"
    with service.client("platform_other") as http:  # another province sees nothing of these
        assert http.get("/v1/credits").json()["items"] == []
    with service.client("supervisor") as http:
        assert http.get("/v1/credits", params={"cursor": "!!"}).status_code == 400
