"""Supervision (contract §5): flagged learners, reviews, the ranking of units, plus the
trend and session timeline the dashboard draws."""

from __future__ import annotations

import base64
import time
from typing import Annotated, Literal, cast

import msgspec
from fastapi import APIRouter, Query, Request, Response

from learnguard.api import report_answers as answers
from learnguard.api.deps import CallerDep, RulesDep, StoreDep
from learnguard.api.present import report_flag_public
from learnguard.api.report_pool import ReportsDep
from learnguard.api.schemas import (
    AtRiskPublic,
    ChallengeOutcome,
    FlaggedPage,
    RowsStatusPublic,
    TimelinePoint,
    TimelinePublic,
    TrendPublic,
    UnitRanking,
    documented,
)
from learnguard.api.timefmt import parse_time, rfc3339
from learnguard.errors import BadRequest, NotFound
from learnguard.features.session import FAILED, LATE, PASSED, SessionState
from learnguard.features.timeline import public as timeline_public
from learnguard.service.readside import reviewed_score
from learnguard.service.report_queries import FlagFilter
from learnguard.service.reports import rows_status

router = APIRouter(prefix="/v1", tags=["supervision"])


@router.get("/reports/flagged", summary="Flagged learners, highest risk first (CSV with Accept: text/csv)",
            **documented(FlaggedPage, csv=True, errors=(400, 401, 403, 422, 503)))
def flagged(request: Request, caller: CallerDep, reports: ReportsDep,
            org_id: str | None = None, course_id: str | None = None, pattern: str | None = None,
            status: Literal["open", "confirmed", "dismissed", "appealed"] | None = None,
            since: str | None = None, until: str | None = None,
            min_risk: Annotated[float, Query(ge=0, le=1)] = 0.0,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None,
            format: Literal["json", "csv", "xlsx"] | None = None) -> Response:  # noqa: A002 - the query's name
    caller.require("reports")
    start, end = parse_time(since, "since"), parse_time(until, "until")
    query = answers.FlaggedQuery(org_id, course_id, FlagFilter(pattern, status, start, end), min_risk,
                                 _offset(cursor), limit, _wanted_table(request, format))
    return reports.answer(answers.flagged, caller, query)


def _wanted_table(request: Request, fmt: str | None) -> str | None:
    """``csv`` or ``xlsx`` when a spreadsheet is asked for (``format`` or ``Accept``), else None."""
    if fmt in ("csv", "xlsx"):
        return fmt
    return "csv" if fmt is None and "text/csv" in request.headers.get("accept", "") else None


@router.get("/reports/orgs", summary="Ranking of units: honour and warning lists (CSV with Accept: text/csv)",
            **documented(UnitRanking, csv=True, errors=(400, 401, 403, 422, 503)))
def orgs(request: Request, caller: CallerDep, reports: ReportsDep, under: str | None = None,
         course_id: str | None = None, since: str | None = None, until: str | None = None,
         depth: Annotated[int | None, Query(ge=1, le=10)] = None,
         format: Literal["json", "csv", "xlsx"] | None = None) -> Response:  # noqa: A002 - the query's name
    """Units ranked; ``depth`` rolls them up (1 = province, 2 = university, 3 = school …);
    ``Accept: text/csv`` exports both lists."""
    caller.require("reports")
    query = answers.RankingQuery(under, course_id, parse_time(since, "since"), parse_time(until, "until"), depth,
                                 _wanted_table(request, format))
    return reports.answer(answers.ranking, caller, query)


@router.get("/reports/trend", summary="Flagged share of sessions per day and pattern (dashboard)",
            **documented(TrendPublic, errors=(401, 403, 422, 503)))
def trend(caller: CallerDep, reports: ReportsDep, under: str | None = None,
          course_id: str | None = None) -> Response:
    caller.require("reports")
    return reports.answer(answers.trend, caller, answers.TrendQuery(under, course_id))


@router.get("/reports/at-risk", summary="Early warning: learners who will not finish at their pace, or must cram",
            **documented(AtRiskPublic, errors=(400, 401, 403, 422, 503)))
def at_risk_report(caller: CallerDep, reports: ReportsDep, org_id: str | None = None,
                   course_id: str | None = None, as_of: str | None = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None) -> Response:
    """``as_of`` (RFC 3339 or epoch ms; default now) is the day the warning is for: a replay
    of last year with last year's date gives last year's warning."""
    caller.require("reports")
    moment = parse_time(as_of, "as_of") if as_of else time.time()
    query = answers.AtRiskQuery(org_id, course_id, cast(float, moment), _offset(cursor), limit)
    return reports.answer(answers.at_risk_page, caller, query)


def _offset(cursor: str | None) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
    except ValueError as exc:
        raise BadRequest("cursor: not a cursor this service gave out") from exc


@router.get("/reports/status", summary="How current the report rows are (and the rebuild after a model change)",
            **documented(RowsStatusPublic, errors=(401, 403, 503)))
def status(caller: CallerDep, store: StoreDep) -> Response:
    caller.require("reports")
    return Response(msgspec.json.encode(msgspec.convert(rows_status(store), RowsStatusPublic)),
                    media_type="application/json")


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
    flags = [report_flag_public(session_id, f, reviews.get(f.flag_id, []), caller, record.state.org_id)
             for f in score.flags]
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
