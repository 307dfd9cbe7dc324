"""Supervision (contract §5): flagged learners, reviews, the ranking of units, plus the
trend and session timeline the dashboard draws."""

from __future__ import annotations

import base64
import csv
import io
import time
from typing import Annotated, Literal, cast

import msgspec
from fastapi import APIRouter, Query, Request, Response

from learnguard.api.deps import Caller, CallerDep, RulesDep, StoreDep
from learnguard.api.messages import label
from learnguard.api.present import report_flag_public
from learnguard.api.schemas import (
    XLSX,
    AtRiskPublic,
    ChallengeOutcome,
    FlaggedLearner,
    FlaggedPage,
    RowsStatusPublic,
    TimelinePoint,
    TimelinePublic,
    TrendDay,
    TrendPublic,
    UnitRank,
    UnitRanking,
    documented,
)
from learnguard.api.timefmt import local_time, parse_time, rfc3339
from learnguard.detector.ranking import rank_units
from learnguard.errors import BadRequest, NotFound
from learnguard.features.session import FAILED, LATE, PASSED, SessionState
from learnguard.features.timeline import public as timeline_public
from learnguard.service.readside import reviewed_score
from learnguard.service.report_queries import (
    FlagFilter,
    FlaggedItem,
    at_risk,
    flagged_learners,
    trend_days,
    unit_counts,
)
from learnguard.service.reports import ensure_current, rows_status

router = APIRouter(prefix="/v1", tags=["supervision"])


@router.get("/reports/flagged", summary="Flagged learners, highest risk first (CSV with Accept: text/csv)",
            **documented(FlaggedPage, csv=True, errors=(400, 401, 403, 422, 503)))
def flagged(request: Request, caller: CallerDep, store: StoreDep, rules: RulesDep,
            org_id: str | None = None, course_id: str | None = None, pattern: str | None = None,
            status: Literal["open", "confirmed", "dismissed", "appealed"] | None = None,
            since: str | None = None, until: str | None = None,
            min_risk: Annotated[float, Query(ge=0, le=1)] = 0.0,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None,
            format: Literal["json", "csv", "xlsx"] | None = None) -> Response:  # noqa: A002 - the query's name
    caller.require("reports")
    start, end = parse_time(since, "since"), parse_time(until, "until")
    offset = _offset(cursor)
    ensure_current(store, rules)
    found, total = flagged_learners(store, caller.key.org, org_id, course_id, FlagFilter(pattern, status, start, end),
                                    min_risk, offset, limit)
    page = [FlaggedLearner(
        learner_id=item.row.learner_id, org_id=item.row.org_id, course_id=item.row.course_id, risk=item.risk,
        patterns=sorted({f.flag.pattern for f in item.flags}),
        flags=[report_flag_public(f.session_id, f.flag, f.reviews, caller, item.row.org_id, f.sessions)
               for f in item.flags],
        first_seen=rfc3339(min(f.flag.start for f in item.flags)),
        last_seen=rfc3339(max(f.flag.end for f in item.flags))) for item in found if item.flags]
    next_cursor = (base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
                   if offset + limit < total else None)
    table = _wanted_table(request, format)
    if table:
        return _table(_flagged_rows(page, [item for item in found if item.flags], caller), table, "flagged",
                      {"X-Next-Cursor": next_cursor or ""})
    return Response(msgspec.json.encode(FlaggedPage(items=page, next_cursor=next_cursor)),
                    media_type="application/json")


def _cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP: prefix with ')."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _wanted_table(request: Request, fmt: str | None) -> str | None:
    """``csv`` or ``xlsx`` when a spreadsheet is asked for (``format`` or ``Accept``), else None."""
    if fmt in ("csv", "xlsx"):
        return fmt
    return "csv" if fmt is None and "text/csv" in request.headers.get("accept", "") else None


def _table(rows: list[list[object]], kind: str, name: str, headers: dict[str, str] | None = None) -> Response:
    """Rows as CSV (with a UTF-8 byte-order mark: Excel reads Chinese right only with it) or
    as an Excel workbook (openpyxl); every cell kept from running as a formula."""
    safe = [[_cell(value) for value in row] for row in rows]
    if kind == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        book = Workbook()
        sheet = book.active
        sheet.title = name
        for row in safe:  # control characters cannot be stored in a workbook: dropped
            sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
        out = io.BytesIO()
        book.save(out)
        return Response(out.getvalue(), media_type=XLSX, headers={
            **(headers or {}), "Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    text = io.StringIO()
    text.write("\ufeff")
    csv.writer(text).writerows(safe)
    return Response(text.getvalue(), media_type="text/csv; charset=utf-8", headers={
        **(headers or {}), "Content-Disposition": f'attachment; filename="{name}.csv"'})


def _flagged_rows(items: list[FlaggedLearner], found: list[FlaggedItem], caller: Caller) -> list[list[object]]:
    """The page for a spreadsheet: pattern and status names in the reader's language, first
    and last seen in the org's time zone; reasons as the reader reads them."""
    rows: list[list[object]] = [["learner_id", "org_id", "course_id", "risk", "patterns", "pattern_names", "flags",
                                 "statuses", "status_names", "first_seen", "last_seen", "reasons"]]
    for item, source in zip(items, found, strict=True):
        zone = caller.zone(item.org_id)
        rows.append([
            item.learner_id, item.org_id, item.course_id, item.risk, ";".join(item.patterns),
            ";".join(label("pattern", p, caller.lang) for p in item.patterns),
            ";".join(f.flag_id for f in item.flags), ";".join(f.status for f in item.flags),
            ";".join(f.status_label for f in item.flags),
            local_time(min(f.flag.start for f in source.flags), zone),
            local_time(max(f.flag.end for f in source.flags), zone),
            " | ".join(f.reasons[0].message for f in item.flags)])
    return rows


def _ranking_rows(ranking: UnitRanking, lang: str) -> list[list[object]]:
    """The ranking for a spreadsheet, both lists marked, the rule and notes in the last rows."""
    rows: list[list[object]] = [["rank", "list", "org_id", "learners", "active_learners",
                                 "effective_hours_per_learner", "completion_rate", "flagged_rate", "confirmed_rate"]]
    names = {"honour": "红榜" if lang == "zh_CN" else "honour", "warning": "黑榜" if lang == "zh_CN" else "warning"}
    for item in ranking.items:
        rows.append([item.rank, names.get(item.list or "", ""), item.org_id, item.learners, item.active_learners,
                     item.effective_hours_per_learner, item.completion_rate, item.flagged_rate, item.confirmed_rate])
    rows.append([])
    rows.append(["ranked_by", ranking.ranked_by])
    rows.extend(["note", note] for note in ranking.notes)
    return rows


@router.get("/reports/orgs", summary="Ranking of units: honour and warning lists (CSV with Accept: text/csv)",
            **documented(UnitRanking, csv=True, errors=(400, 401, 403, 422, 503)))
def orgs(request: Request, caller: CallerDep, store: StoreDep, rules: RulesDep, under: str | None = None,
         course_id: str | None = None, since: str | None = None, until: str | None = None,
         depth: Annotated[int | None, Query(ge=1, le=10)] = None,
         format: Literal["json", "csv", "xlsx"] | None = None) -> Response:  # noqa: A002 - the query's name
    """Units ranked; ``depth`` rolls them up (1 = province, 2 = university, 3 = school …);
    ``Accept: text/csv`` exports both lists."""
    caller.require("reports")
    start, end = parse_time(since, "since"), parse_time(until, "until")
    ensure_current(store, rules)
    units, notes = unit_counts(store, caller.key.org, under, course_id, start, end, depth)
    items, rule = rank_units(units)
    ranking = UnitRanking(items=[msgspec.convert(item, UnitRank) for item in items], ranked_by=rule, notes=notes)
    table = _wanted_table(request, format)
    if table:
        return _table(_ranking_rows(ranking, caller.lang), table, "ranking")
    return Response(msgspec.json.encode(ranking), media_type="application/json")


@router.get("/reports/trend", summary="Flagged share of sessions per day and pattern (dashboard)",
            **documented(TrendPublic, errors=(401, 403, 422, 503)))
def trend(caller: CallerDep, store: StoreDep, rules: RulesDep, under: str | None = None,
          course_id: str | None = None) -> Response:
    caller.require("reports")
    ensure_current(store, rules)
    items = [TrendDay(day=day, sessions=sessions, flagged=flagged,
                      share={p: round(c / sessions, 4) for p, c in flagged.items()})
             for day, sessions, flagged in trend_days(store, caller.key.org, under, course_id, caller.zone(under))]
    return Response(msgspec.json.encode(TrendPublic(items=items, time_zone=str(caller.zone(under).key))),
                    media_type="application/json")


@router.get("/reports/at-risk", summary="Early warning: learners who will not finish at their pace, or must cram",
            **documented(AtRiskPublic, errors=(400, 401, 403, 422, 503)))
def at_risk_report(caller: CallerDep, store: StoreDep, rules: RulesDep, org_id: str | None = None,
                   course_id: str | None = None, as_of: str | None = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None) -> Response:
    """``as_of`` (RFC 3339 or epoch ms; default now) is the day the warning is for: a replay
    of last year with last year's date gives last year's warning."""
    caller.require("reports")
    moment = parse_time(as_of, "as_of") if as_of else time.time()
    offset = _offset(cursor)
    ensure_current(store, rules)
    found = at_risk(store, caller.key.org, org_id, course_id, cast(float, moment))
    page = found[offset:offset + limit]
    next_cursor = (base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
                   if offset + limit < len(found) else None)
    return Response(msgspec.json.encode(AtRiskPublic(as_of=rfc3339(cast(float, moment)), items=page,
                                                     next_cursor=next_cursor)), media_type="application/json")


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
