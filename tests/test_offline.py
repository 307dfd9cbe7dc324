"""Offline training in (issue 12): a unit's CSV of party-school classes and lectures joins the
portrait and the credits, apart from the measured online hours; bad lines are named by
number; importing the file again adds nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from learnguard.cli import app
from learnguard.settings import get_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def import_env(cohort_service, monkeypatch: pytest.MonkeyPatch):
    service, cohort = cohort_service
    settings = service.settings
    monkeypatch.setenv("LEARNGUARD_KEY_PREFIX", settings.key_prefix)
    monkeypatch.setenv("LEARNGUARD_SHARDS", str(settings.shards))
    monkeypatch.setenv("LEARNGUARD_DATA_DIR", str(settings.data_dir))
    if settings.redis_url:
        monkeypatch.setenv("REDIS_URL", settings.redis_url)
    else:
        monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield service, cohort
    get_settings.cache_clear()


def test_offline_records_join_the_portrait_and_credits_apart(import_env, tmp_path: Path) -> None:
    service, cohort = import_env
    learner, truth = next((t["learner_id"], t) for t in cohort.truth.sessions.values())
    org, course = truth.get("org_id") or _org_of(service, learner), cohort.course_id
    with service.client("admin") as http:
        before = http.get(f"/v1/learners/{learner}", params={"course_id": course}).json()
    rows = [
        "learner_id,org_id,activity,hours,date,kind",
        f"{learner},{org},{course},2,2026-03-05,lecture",
        f"{learner},{org},党校春季班,4,2026-03-06,党校",
        f"{learner},{org},党校春季班,4,2026-03-06,党校",  # the same line twice: two sittings
        f"{learner},{org},现场教学,abc,2026-03-07,practice",
        f"{learner},{org},现场教学,30,2026-03-07,practice",
        f"{learner},{org},现场教学,3,2026-13-07,practice",
        f"{learner},{org},现场教学,3,2026-03-07,nap",
        f"cadre/9,{org},x,1,2026-03-07,lecture",
        f"{learner},jiangsu/nju,x,1,2026-03-07,lecture",  # the learner is another unit's
        f"offline-only-1,{org},党校春季班,6,2026-03-08,party_school_class",
    ]
    source = tmp_path / "records.csv"
    source.write_text("\ufeff" + "\n".join(rows) + "\n", encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(app, ["import", "offline", str(source)])
    assert first.exit_code == 2, first.output
    assert "4 records added, 0 already there, 6 lines refused" in first.output
    for line, field in ((5, "hours"), (6, "hours"), (7, "date"), (8, "kind"), (9, "learner_id"), (10, "learner_id")):
        assert f"line {line}: {field}:" in first.output, (line, first.output)
    again = runner.invoke(app, ["import", "offline", str(source)])
    assert "0 records added, 4 already there" in again.output

    with service.client("admin") as http:
        after = http.get(f"/v1/learners/{learner}", params={"course_id": course}).json()
        only = http.get("/v1/learners/offline-only-1").json()
        credit = next(c for c in http.get("/v1/credits", params={"course_id": course}).json()["items"]
                      if c["learner_id"] == learner)
    assert after["offline"] == {"hours": 10.0, "by_kind": {"lecture": 2.0, "party_school_class": 8.0},
                                "records": [{"activity": course, "hours": 2.0, "date": "2026-03-05", "kind": "lecture"},
                                            {"activity": "党校春季班", "hours": 4.0, "date": "2026-03-06",
                                             "kind": "party_school_class"},
                                            {"activity": "党校春季班", "hours": 4.0, "date": "2026-03-06",
                                             "kind": "party_school_class"}]}
    entry, old = after["courses"][0], before["courses"][0]
    assert entry["offline_hours"] == 2.0
    assert entry["effective_hours"] == old["effective_hours"], "offline hours never mix into measured ones"
    assert credit["offline_hours"] == 2.0 and credit["effective_hours"] == pytest.approx(old["effective_hours"],
                                                                                          abs=0.01)
    assert only["courses"] == [] and only["offline"]["hours"] == 6.0


def _org_of(service, learner: str) -> str:
    with service.client("admin") as http:
        return http.get(f"/v1/learners/{learner}").json()["org_id"]
