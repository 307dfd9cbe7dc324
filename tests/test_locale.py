"""Chinese and local time (issue 13): reasons rendered from their code and numbers through
the message catalog, pattern and status names, Accept-Language, trend days and CSV in
the org's time zone (Asia/Shanghai unless configured per subtree)."""

from __future__ import annotations

import csv
import io
import re
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import msgspec
import pytest

from learnguard.api.messages import catalog, render, zone_of
from learnguard.detector.base import Reason
from learnguard.detector.compose import model_flag
from learnguard.detector.offline import run_offline
from learnguard.detector.policy import Rules
from learnguard.detector.scoring import ModelEvidence, SessionScore
from learnguard.detector.thresholds import Thresholds
from learnguard.detector.verification import chance_evidence
from learnguard.features.course import Course
from learnguard.replay import replay, score_all
from learnguard.settings import Settings
from learnguard.simulator.cohort import simulate_cohort

CJK = re.compile(r"[\u4e00-\u9fff]")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_every_reason_the_detectors_write_on_a_cohort_reads_in_chinese() -> None:
    cohort = simulate_cohort(learners=120, seed=3, observed=True)
    rules = Rules()
    run = run_offline(cohort.events, rules.course(msgspec.convert(cohort.course, Course)), rules)
    reasons = [r for s in run.scores.values() for f in s.flags for r in f.reasons]
    assert len({r.code for r in reasons}) >= 15
    for reason in reasons:
        zh = render(reason, "zh_CN", SHANGHAI)
        assert CJK.search(zh.message), (reason.code, reason.params, reason.message)
        assert (zh.code, zh.value, zh.threshold) == (reason.code, reason.value, reason.threshold)


def test_reasons_built_outside_the_cohort_read_in_chinese_too() -> None:
    guessed = chance_evidence(6, 1, 1.5, Thresholds(), "checkpoint questions")[0].reason
    score = SessionScore(risk=0.0, level="normal", flags=[], claimed_seconds=0, effective_seconds=0, events=1,
                         model_version="p", first_ts=0.0, last_ts=1.0)
    for kind in ("ensemble", "semi"):
        card = SimpleNamespace(version="v3", kind=kind, training={"sessions": 500})
        flags, _ = model_flag("s1", score, ModelEvidence("v3", 1.0, 0.999), card)
        assert CJK.search(render(flags[0].reasons[0], "zh_CN", SHANGHAI).message)
    assert CJK.search(render(guessed, "zh_CN", SHANGHAI).message)


def test_times_in_reasons_are_the_orgs_local_times() -> None:
    daily = Reason("same_start_time_daily", "started at 01:00 UTC ± 0.5 min on 9 days; noted under 3 min", 0.5, 3.0,
                   params={"start_utc_minute": 60.0, "sd": 0.5, "days": 9, "max_sd": 3.0})
    assert "09:00" in render(daily, "zh_CN", SHANGHAI).message
    assert render(daily, "en", SHANGHAI).message.startswith("started at 09:00 (Asia/Shanghai)")
    assert render(daily, "en", ZoneInfo("Asia/Urumqi")).message.startswith("started at 07:00 (Asia/Urumqi)")


def test_a_template_that_does_not_fit_leaves_the_english_message() -> None:
    odd = Reason("rate_above_course_max", "played fast", 16.0, 2.0, params={"something": 1.0})
    assert render(odd, "zh_CN", SHANGHAI).message == "played fast"
    unknown = Reason("a_code_from_a_newer_detector", "English only", 1.0, 1.0, params={"x": 1.0})
    assert render(unknown, "zh_CN", SHANGHAI).message == "English only"


def test_the_catalog_names_every_pattern_and_status() -> None:
    zh = catalog("zh_CN")
    for name in ("scripted_playback", "screen_flooding", "last_minute_cramming", "account_sharing",
                 "coordinated_accounts", "anomalous_session"):
        assert CJK.search(zh[f"pattern.{name}"])
    for status in ("open", "confirmed", "dismissed", "appealed"):
        assert CJK.search(zh[f"status.{status}"])


def test_org_time_zones_follow_the_longest_subtree() -> None:
    settings = Settings(org_time_zones={"xinjiang": "Asia/Urumqi", "xinjiang/xju/kashgar": "Asia/Kolkata"})
    assert zone_of(settings, "xinjiang/xju") == ZoneInfo("Asia/Urumqi")
    assert zone_of(settings, "xinjiang/xju/kashgar/campus") == ZoneInfo("Asia/Kolkata")
    assert zone_of(settings, "zhejiang/hdu") == SHANGHAI
    with pytest.raises(ValueError):
        Settings(time_zone="Mars/Olympus")


@pytest.mark.integration
@pytest.mark.slow
def test_the_api_answers_in_the_readers_language_and_the_orgs_days(service) -> None:
    cohort = simulate_cohort(learners=30, seed=5)
    with service.client("admin") as http:
        replay(http, cohort)
        scores = score_all(http, list(cohort.truth.sessions))
    flagged = next(s for s in scores if any(f["pattern"] == "scripted_playback" for f in s["flags"]))
    sid = flagged["session_id"]
    with service.client("admin") as http:
        zh = http.post(f"/v1/sessions/{sid}/score", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).json()
        en = http.post(f"/v1/sessions/{sid}/score").json()
        trend = http.get("/v1/reports/trend").json()
        as_csv = http.get("/v1/reports/flagged", headers={"Accept": "text/csv", "Accept-Language": "zh-CN"})
        portraits = [http.get(f"/v1/learners/{learner}", headers={"Accept-Language": "zh-CN"}).json()
                     for learner in list(cohort.truth.learners)[:12]]
        english = http.get(f"/v1/learners/{next(iter(cohort.truth.learners))}").json()
    flag_zh = next(f for f in zh["flags"] if f["pattern"] == "scripted_playback")
    flag_en = next(f for f in en["flags"] if f["pattern"] == "scripted_playback")
    assert flag_zh["label"] == "脚本刷课" and flag_zh["status_label"] == "待审核"
    assert all(CJK.search(r["message"]) for r in flag_zh["reasons"])
    assert flag_en["label"] == "scripted playback" and not CJK.search(flag_en["reasons"][0]["message"])
    assert [r["value"] for r in flag_zh["reasons"]] == [r["value"] for r in flag_en["reasons"]]
    # trend days are Beijing days: every session counted on the local date it started
    assert trend["time_zone"] == "Asia/Shanghai"
    from datetime import datetime
    local_days: dict[str, int] = {}
    for s in scores:
        first = min(e["ts"] for e in cohort.events if e["session_id"] == s["session_id"]) / 1000
        day = datetime.fromtimestamp(first, tz=SHANGHAI).strftime("%Y-%m-%d")
        local_days[day] = local_days.get(day, 0) + 1
    assert {d["day"]: d["sessions"] for d in trend["items"]} == local_days
    # CSV: a byte-order mark for Excel, local times with their offset, names in Chinese
    assert as_csv.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(as_csv.text.lstrip("\ufeff"))))
    assert rows and all(r["first_seen"].endswith("+08:00") for r in rows)
    assert any("脚本刷课" in r["pattern_names"] for r in rows)
    # the assessment explains itself in Chinese too: every line from the catalog
    lines = [line for p in portraits for c in p["courses"] for line in c["assessment"]["explanations"]]
    assert len(lines) >= 4 * 12 and all(CJK.search(line) for line in lines), [x for x in lines if not CJK.search(x)]
    assert english["courses"][0]["assessment"]["explanations"][0].startswith("participation")


def test_flooding_evidence_shows_the_repeated_text_in_both_languages() -> None:
    cohort = simulate_cohort(learners=60, seed=3)
    rules = Rules()
    run = run_offline(cohort.events, rules.course(msgspec.convert(cohort.course, Course)), rules)
    reasons = [r for s in run.scores.values() for f in s.flags for r in f.reasons if r.code == "templated_comments"]
    assert reasons, "the cohort has a flooder"
    for reason in reasons:
        text = reason.params["text"]
        assert isinstance(text, str) and text and len(text) <= 60
        assert f"“{text}”" in reason.message and f"“{text}”" in render(reason, "zh_CN", SHANGHAI).message
