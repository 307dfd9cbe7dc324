"""Supervision (contract §5): flagged learners, reviews, the ranking of units, plus the
trend and session timeline the dashboard draws."""

from __future__ import annotations

import base64
import csv
import io
import time
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from fastapi import APIRouter, Query, Request, Response
from learnguard.api.deps import Caller, CallerDep, RulesDep, SettingsDep, StoreDep
from learnguard.api.ingest import read_body
from learnguard.api.routes.sessions import flag_public
from learnguard.api.timefmt import rfc3339
from learnguard.detector.policy import NON_MISCONDUCT_CAP, Rules
from learnguard.detector.ranking import UnitTally, rank_units
from learnguard.detector.records import Review
from learnguard.features.timeline import public as timeline_public
from learnguard.service.keys import shard_of
from learnguard.service.readside import reviewed_score
from learnguard.service.reports import LearnerCourseReport, ReportFlag, learner_course_reports
from learnguard.service.store import Store

from learnguard.errors import BadRequest, NotFound, Unprocessable

router = APIRouter(prefix="/v1", tags=["supervision"])


def _time(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        if value.isdigit():
            return int(value) / 1000
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"{name}: must be an RFC 3339 time or epoch milliseconds, got {value!r}") from exc
    if parsed.tzinfo is None:
        raise BadRequest(f"{name}: needs an offset, e.g. 2026-03-01T00:00:00+08:00")
    return parsed.timestamp()


def review_public(review: Review) -> dict:
    return {"decision": review.decision, "note": review.note, "by": review.by_name, "by_key": review.by_key,
            "at": rfc3339(review.at)}


def report_flag_public(item: ReportFlag) -> dict:
    out = flag_public(item.flag)
    out.update(session_id=item.session_id, status=item.status, reviews=[review_public(r) for r in item.reviews])
    return out


def _keep(flag: ReportFlag, pattern: str | None, status: str | None, since: float | None, until: float | None) -> bool:
    return ((pattern is None or flag.flag.pattern == pattern) and (status is None or flag.status == status)
            and (since is None or flag.flag.end >= since) and (until is None or flag.flag.start <= until))


@router.get("/reports/flagged", summary="Flagged learners, highest risk first (CSV with Accept: text/csv)")
def flagged(request: Request, caller: CallerDep, store: StoreDep, rules: RulesDep,
            org_id: str | None = None, course_id: str | None = None, pattern: str | None = None,
            status: Literal["open", "confirmed", "dismissed"] | None = None,
            since: str | None = None, until: str | None = None,
            min_risk: Annotated[float, Query(ge=0, le=1)] = 0.0,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None) -> Response:
    caller.require("reports")
    start, end = _time(since, "since"), _time(until, "until")
    try:
        offset = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
    except ValueError as exc:
        raise BadRequest("cursor: not a cursor this service gave out") from exc
    items = []
    for report in learner_course_reports(store, rules, caller.key.org, org_id, course_id):
        kept = [f for f in report.flags if _keep(f, pattern, status, start, end)]
        risk = max((f.flag.confidence for f in kept if f.flag.misconduct),
                   default=max((min(f.flag.confidence, NON_MISCONDUCT_CAP) for f in kept), default=0.0))
        if kept and risk >= min_risk:
            items.append({"learner_id": report.learner_id, "org_id": report.org_id, "course_id": report.course_id,
                          "risk": round(risk, 4), "patterns": sorted({f.flag.pattern for f in kept}),
                          "flags": [report_flag_public(f) for f in kept],
                          "first_seen": rfc3339(min(f.flag.start for f in kept)),
                          "last_seen": rfc3339(max(f.flag.end for f in kept))})
    items.sort(key=lambda item: (-item["risk"], item["learner_id"], item["course_id"]))
    page = items[offset:offset + limit]
    next_cursor = (base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
                   if offset + limit < len(items) else None)
    if "text/csv" in request.headers.get("accept", ""):
        return Response(_csv(page), media_type="text/csv; charset=utf-8",
                        headers={"X-Next-Cursor": next_cursor or ""})
    return Response(msgspec.json.encode({"items": page, "next_cursor": next_cursor}), media_type="application/json")


def _csv(items: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["learner_id", "org_id", "course_id", "risk", "patterns", "flags", "statuses", "first_seen",
                     "last_seen", "reasons"])
    for item in items:
        writer.writerow([item["learner_id"], item["org_id"], item["course_id"], item["risk"],
                         ";".join(item["patterns"]), ";".join(f["flag_id"] for f in item["flags"]),
                         ";".join(f["status"] for f in item["flags"]), item["first_seen"], item["last_seen"],
                         " | ".join(f["reasons"][0]["message"] for f in item["flags"])])
    return out.getvalue()


class ReviewBody(msgspec.Struct):
    decision: Literal["confirmed", "dismissed"]
    note: str = ""


def _flag_detail(store: Store, rules: Rules, flag_id: str, caller: Caller) -> dict:
    ref = store.flags.ref(flag_id)
    if ref is None:
        raise NotFound(f"flag {flag_id!r} is unknown (flags are known once a score or report showed them)")
    caller.require_org(ref.org_id, f"flag {flag_id}")
    record = store.sessions.load_record(shard_of(ref.learner_id, store.shards), ref.session_id)
    flag = None
    if record is not None and record.score is not None:
        flag = next((f for f in reviewed_score(store, record, rules)[0].flags if f.flag_id == flag_id), None)
    out = flag_public(flag) if flag is not None else {"flag_id": flag_id, "pattern": ref.pattern,
                                                      "note": "the flag no longer applies to the session"}
    out.update(session_id=ref.session_id, learner_id=ref.learner_id, course_id=ref.course_id, org_id=ref.org_id)
    return out


@router.post("/flags/{flag_id}/review", summary="Confirm or dismiss a flag (kept with who and when)")
async def review(flag_id: str, request: Request, caller: CallerDep, store: StoreDep, settings: SettingsDep,
                 rules: RulesDep) -> Response:
    caller.require("reviews")
    try:
        body = msgspec.json.decode(await read_body(request, settings), type=ReviewBody)
    except msgspec.ValidationError as exc:
        raise Unprocessable(f"{exc}; send {{\"decision\": \"confirmed\" | \"dismissed\", \"note\": \"…\"}}") from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from exc
    out = _flag_detail(store, rules, flag_id, caller)
    reviews = store.flags.add_review(flag_id, Review(decision=body.decision, note=body.note[:2000],
                                               by_key=caller.key.key_id, by_name=caller.key.name, at=time.time()))
    out.update(status=reviews[-1].decision, reviews=[review_public(r) for r in reviews])
    return Response(msgspec.json.encode(out), media_type="application/json")


@router.get("/flags/{flag_id}", summary="A flag with its reasons and review history")
def get_flag(flag_id: str, caller: CallerDep, store: StoreDep, rules: RulesDep) -> Response:
    caller.require("reports")
    out = _flag_detail(store, rules, flag_id, caller)
    reviews = store.flags.reviews_of([flag_id]).get(flag_id, [])
    out.update(status=reviews[-1].decision if reviews else "open", reviews=[review_public(r) for r in reviews])
    return Response(msgspec.json.encode(out), media_type="application/json")


def _in_period(report: LearnerCourseReport, since: float | None, until: float | None) -> bool:
    """Whether the learner studied the course at some time within the period."""
    return (since is None or report.last_ts >= since) and (until is None or report.first_ts <= until)


@router.get("/reports/orgs", summary="Ranking of units: honour and warning lists")
def orgs(caller: CallerDep, store: StoreDep, rules: RulesDep, under: str | None = None,
         course_id: str | None = None, since: str | None = None, until: str | None = None) -> Response:
    caller.require("reports")
    start, end = _time(since, "since"), _time(until, "until")
    tallies: dict[str, UnitTally] = {}
    courses = {}
    for report in learner_course_reports(store, rules, caller.key.org, under, course_id):
        if not _in_period(report, start, end):
            continue
        if report.course_id not in courses:
            courses[report.course_id] = store.courses.get(report.course_id)
        course = courses[report.course_id]
        tally = tallies.setdefault(report.org_id, UnitTally(report.org_id))
        tally.add(report.learner_id, max(0.0, report.effective_seconds) / 3600,
                  course.required_hours if course and course.required_hours else None,
                  flagged=any(f.flag.misconduct for f in report.flags),
                  confirmed=any(f.status == "confirmed" for f in report.flags))
    items, rule = rank_units(list(tallies.values()))
    return Response(msgspec.json.encode({"items": items, "ranked_by": rule}), media_type="application/json")


@router.get("/reports/trend", summary="Flagged share of sessions per day and pattern (dashboard)")
def trend(caller: CallerDep, store: StoreDep, rules: RulesDep, under: str | None = None,
          course_id: str | None = None) -> Response:
    caller.require("reports")
    days: dict[str, dict] = {}
    for report in learner_course_reports(store, rules, caller.key.org, under, course_id):
        lc = store.sessions.load_learner_course(report.learner_id, report.course_id)
        for sid, summary in (lc.sessions.items() if lc else []):
            day = rfc3339(summary.first_ts)[:10]
            entry = days.setdefault(day, {"day": day, "sessions": 0, "flagged": {}})
            entry["sessions"] += 1
            for pattern in {f.flag.pattern for f in report.flags if f.session_id == sid}:
                entry["flagged"][pattern] = entry["flagged"].get(pattern, 0) + 1
    items = sorted(days.values(), key=lambda d: d["day"])
    for entry in items:
        entry["share"] = {p: round(c / entry["sessions"], 4) for p, c in entry["flagged"].items()}
    return Response(msgspec.json.encode({"items": items}), media_type="application/json")


@router.get("/sessions/{session_id}/timeline", summary="Playback timeline of a session (evidence)")
def timeline(session_id: str, caller: CallerDep, store: StoreDep, rules: RulesDep) -> Response:
    caller.require("reports")
    counts = store.streams.accepted_counts(session_id)
    if not counts:
        raise NotFound(f"session {session_id!r} has no events")
    shard = next(iter(counts))
    record = store.sessions.load_record(shard, session_id)
    if record is None or record.score is None:
        raise NotFound(f"session {session_id!r} is not processed yet")
    caller.require_org(record.state.org_id, f"session {session_id}")
    score, reviews = reviewed_score(store, record, rules)
    flags = [report_flag_public(ReportFlag(session_id, f, reviews.get(f.flag_id, []))) for f in score.flags]
    points = timeline_public(record.state.timeline, list(record.state.videos), record.state.timeline_base)
    for point in points:
        point["at"] = rfc3339(point.pop("ts"))
    return Response(msgspec.json.encode({
        "session_id": session_id, "learner_id": record.state.learner_id, "course_id": record.state.course_id,
        "org_id": record.state.org_id, "risk": score.risk, "level": score.level, "flags": flags,
        "claimed_seconds": score.claimed_seconds, "effective_seconds": score.effective_seconds,
        "points": points}), media_type="application/json")
