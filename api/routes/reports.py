"""Supervision (contract §5): flagged learners, reviews, the ranking of units, plus the
trend and session timeline the dashboard draws."""

from __future__ import annotations

import base64
import csv
import io
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from fastapi import APIRouter, Query, Request, Response

from learnguard.api.deps import CallerDep, RulesDep, StoreDep
from learnguard.api.present import report_flag_public
from learnguard.api.schemas import (
    ChallengeOutcome,
    FlaggedLearner,
    FlaggedPage,
    TimelinePoint,
    TimelinePublic,
    TrendDay,
    TrendPublic,
    UnitRank,
    UnitRanking,
    documented,
)
from learnguard.api.timefmt import rfc3339
from learnguard.detector.policy import NON_MISCONDUCT_CAP
from learnguard.detector.ranking import UnitTally, rank_units
from learnguard.errors import BadRequest, NotFound
from learnguard.features.session import FAILED, LATE, PASSED, SessionState
from learnguard.features.timeline import public as timeline_public
from learnguard.service.readside import reviewed_score
from learnguard.service.reports import LearnerCourseReport, ReportFlag, learner_course_reports

router = APIRouter(prefix="/v1", tags=["supervision"])


def _time(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    shown = value if len(value) <= 40 else value[:40] + "…"
    try:
        if value.isdigit() and len(value) <= 15:
            return int(value) / 1000
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise BadRequest(f"{name}: needs an offset, e.g. 2026-03-01T00:00:00+08:00")
        return parsed.timestamp()
    except (ValueError, OverflowError) as exc:
        raise BadRequest(f"{name}: must be an RFC 3339 time with an offset or epoch milliseconds, "
                         f"got {shown!r}") from exc


def _keep(flag: ReportFlag, pattern: str | None, status: str | None, since: float | None, until: float | None) -> bool:
    """Whether a flag is listed: a dismissed flag only when dismissed ones are asked for."""
    return ((pattern is None or flag.flag.pattern == pattern)
            and (flag.stands if status is None else flag.status == status)
            and (since is None or flag.flag.end >= since) and (until is None or flag.flag.start <= until))


@router.get("/reports/flagged", summary="Flagged learners, highest risk first (CSV with Accept: text/csv)",
            **documented(FlaggedPage, csv=True, errors=(400, 401, 403, 422, 503)))
def flagged(request: Request, caller: CallerDep, store: StoreDep, rules: RulesDep,
            org_id: str | None = None, course_id: str | None = None, pattern: str | None = None,
            status: Literal["open", "confirmed", "dismissed", "appealed"] | None = None,
            since: str | None = None, until: str | None = None,
            min_risk: Annotated[float, Query(ge=0, le=1)] = 0.0,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None) -> Response:
    caller.require("reports")
    start, end = _time(since, "since"), _time(until, "until")
    try:
        offset = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
    except ValueError as exc:
        raise BadRequest("cursor: not a cursor this service gave out") from exc
    items: list[FlaggedLearner] = []
    for report in learner_course_reports(store, rules, caller.key.org, org_id, course_id):
        kept = [f for f in report.flags if _keep(f, pattern, status, start, end)]
        standing = [f for f in kept if f.stands]
        risk = max((f.flag.confidence for f in standing if f.flag.misconduct),
                   default=max((min(f.flag.confidence, NON_MISCONDUCT_CAP) for f in standing), default=0.0))
        if kept and risk >= min_risk:
            items.append(FlaggedLearner(
                learner_id=report.learner_id, org_id=report.org_id, course_id=report.course_id, risk=round(risk, 4),
                patterns=sorted({f.flag.pattern for f in kept}),
                flags=[report_flag_public(f.session_id, f.flag, f.reviews, caller.covers, f.sessions) for f in kept],
                first_seen=rfc3339(min(f.flag.start for f in kept)), last_seen=rfc3339(max(f.flag.end for f in kept))))
    items.sort(key=lambda item: (-item.risk, item.learner_id, item.course_id))
    page = items[offset:offset + limit]
    next_cursor = (base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
                   if offset + limit < len(items) else None)
    if "text/csv" in request.headers.get("accept", ""):
        return Response(_csv(page), media_type="text/csv; charset=utf-8",
                        headers={"X-Next-Cursor": next_cursor or ""})
    return Response(msgspec.json.encode(FlaggedPage(items=page, next_cursor=next_cursor)),
                    media_type="application/json")


def _cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP: prefix with ')."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv(items: list[FlaggedLearner]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["learner_id", "org_id", "course_id", "risk", "patterns", "flags", "statuses", "first_seen",
                     "last_seen", "reasons"])
    for item in items:
        writer.writerow([_cell(value) for value in (
            item.learner_id, item.org_id, item.course_id, item.risk, ";".join(item.patterns),
            ";".join(f.flag_id for f in item.flags), ";".join(f.status for f in item.flags),
            item.first_seen, item.last_seen, " | ".join(f.reasons[0].message for f in item.flags))])
    return out.getvalue()


def _in_period(report: LearnerCourseReport, since: float | None, until: float | None) -> bool:
    """Whether the learner studied the course at some time within the period."""
    return (since is None or report.last_ts >= since) and (until is None or report.first_ts <= until)


@router.get("/reports/orgs", summary="Ranking of units: honour and warning lists",
            **documented(UnitRanking, errors=(400, 401, 403, 422, 503)))
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
                  flagged=report.misconduct, confirmed=report.confirmed)
    items, rule = rank_units(list(tallies.values()))
    ranking = UnitRanking(items=[msgspec.convert(item, UnitRank) for item in items], ranked_by=rule)
    return Response(msgspec.json.encode(ranking), media_type="application/json")


@router.get("/reports/trend", summary="Flagged share of sessions per day and pattern (dashboard)",
            **documented(TrendPublic, errors=(401, 403, 422, 503)))
def trend(caller: CallerDep, store: StoreDep, rules: RulesDep, under: str | None = None,
          course_id: str | None = None) -> Response:
    caller.require("reports")
    days: dict[str, TrendDay] = {}
    for report in learner_course_reports(store, rules, caller.key.org, under, course_id):
        lc = store.sessions.load_learner_course(report.learner_id, report.course_id)
        for sid, summary in (lc.sessions.items() if lc else []):
            day = rfc3339(summary.first_ts)[:10]
            entry = days.setdefault(day, TrendDay(day=day, sessions=0, flagged={}, share={}))
            entry.sessions += 1
            for pattern in {f.flag.pattern for f in report.flags if sid in f.sessions and f.stands}:
                entry.flagged[pattern] = entry.flagged.get(pattern, 0) + 1
    items = sorted(days.values(), key=lambda d: d.day)
    for entry in items:
        entry.share = {p: round(c / entry.sessions, 4) for p, c in entry.flagged.items()}
    return Response(msgspec.json.encode(TrendPublic(items=items)), media_type="application/json")


@router.get("/sessions/{session_id}/timeline", summary="Playback timeline of a session (evidence)",
            **documented(TimelinePublic, errors=(401, 403, 404, 503)))
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
    flags = [report_flag_public(session_id, f, reviews.get(f.flag_id, []), caller.covers) for f in score.flags]
    state = record.state
    points = [TimelinePoint(at=rfc3339(point["ts"]), type=point["type"], video_id=point["video_id"],
                            position=point["position"], extra=point["extra"])
              for point in timeline_public(state.timeline, list(state.videos), state.timeline_base)]
    delivered = [TimelinePoint(at=rfc3339(point["ts"]), type=point["type"], video_id=point["video_id"],
                               position=point["position"], extra=None)
                 for point in timeline_public(state.deliveries, list(state.videos), state.timeline_base)]
    return Response(msgspec.json.encode(TimelinePublic(
        session_id=session_id, learner_id=state.learner_id, course_id=state.course_id, org_id=state.org_id,
        risk=score.risk, level=score.level, flags=flags, claimed_seconds=score.claimed_seconds,
        effective_seconds=score.effective_seconds, points=points, delivered=delivered,
        challenges=challenge_outcomes(state))), media_type="application/json")


def challenge_outcomes(state: SessionState) -> list[ChallengeOutcome]:
    """Each service challenge with its outcome and latency, oldest first."""
    out = []
    for challenge_id, c in sorted(state.challenges.items(), key=lambda item: item[1].at):
        if c.outcome in (PASSED, FAILED):
            outcome = "passed" if c.outcome == PASSED else "failed"
        elif c.outcome == LATE or state.counts.get("session_end", 0) or state.last_received > c.expires_at:
            outcome = "missed"
        else:
            outcome = "pending"
        latency = round(c.answered_at - c.at, 2) if c.answered_at >= 0 else None
        out.append(ChallengeOutcome(challenge_id=challenge_id, at=rfc3339(c.at), outcome=outcome,  # type: ignore[arg-type]
                                    latency_s=latency))
    return out
