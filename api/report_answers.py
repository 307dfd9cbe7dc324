"""The bodies of the report routes, built from the store alone: what a report process runs.

Each function takes the store, the rules, the caller and the parsed query, and returns the
finished body (bytes), its media type and headers — small and picklable, so the same code
answers in the API process or in a report process (``api/report_pool.py``) without the
API process holding the interpreter while a province-wide report is built.
"""

from __future__ import annotations

import base64
import csv
import io
import uuid
from datetime import datetime
from typing import cast

import msgspec

from learnguard.api.deps import Caller
from learnguard.api.messages import label
from learnguard.api.present import report_flag_public
from learnguard.api.schemas import (
    XLSX,
    AtRiskPublic,
    CreditPublic,
    CreditsPage,
    FlaggedLearner,
    FlaggedPage,
    TrendDay,
    TrendPublic,
    UnitRank,
    UnitRanking,
)
from learnguard.api.timefmt import local_time, rfc3339
from learnguard.detector.policy import Rules
from learnguard.detector.ranking import rank_units
from learnguard.service.report_queries import (
    FlagFilter,
    FlaggedItem,
    at_risk,
    credit_rows,
    flagged_learners,
    trend_days,
    unit_counts,
)
from learnguard.service.reports import ensure_current
from learnguard.service.store import Store

JSON = "application/json"

CREDIT_NAMESPACE = uuid.UUID("0c7a3c55-1c1f-4b7e-8f5e-6c6561726e67")  # a credit's statement id: same credit, same id

Answer = tuple[bytes, str, dict[str, str]]
"""A finished response: body, media type, headers."""


class FlaggedQuery(msgspec.Struct, frozen=True):
    org_id: str | None
    course_id: str | None
    filter: FlagFilter
    min_risk: float
    offset: int
    limit: int
    table: str | None  # csv, xlsx, or None for JSON


class RankingQuery(msgspec.Struct, frozen=True):
    under: str | None
    course_id: str | None
    since: float | None
    until: float | None
    depth: int | None
    table: str | None


class TrendQuery(msgspec.Struct, frozen=True):
    under: str | None
    course_id: str | None


class AtRiskQuery(msgspec.Struct, frozen=True):
    org_id: str | None
    course_id: str | None
    as_of: float
    offset: int
    limit: int


class CreditsQuery(msgspec.Struct, frozen=True):
    org_id: str | None
    course_id: str | None
    offset: int
    limit: int
    format: str  # json, csv, xlsx or xapi


def cursor_after(offset: int, limit: int, total: int) -> str | None:
    """The cursor of the next page, or None on the last one."""
    return base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if offset + limit < total else None


def flagged(store: Store, rules: Rules, caller: Caller, query: FlaggedQuery) -> Answer:
    ensure_current(store, rules)
    found, total = flagged_learners(store, caller.key.org, query.org_id, query.course_id, query.filter,
                                    query.min_risk, query.offset, query.limit)
    shown = [item for item in found if item.flags]
    page = [FlaggedLearner(
        learner_id=item.row.learner_id, org_id=item.row.org_id, course_id=item.row.course_id, risk=item.risk,
        patterns=sorted({f.flag.pattern for f in item.flags}),
        flags=[report_flag_public(f.session_id, f.flag, f.reviews, caller, item.row.org_id, f.sessions)
               for f in item.flags],
        first_seen=rfc3339(min(f.flag.start for f in item.flags)),
        last_seen=rfc3339(max(f.flag.end for f in item.flags))) for item in shown]
    next_cursor = cursor_after(query.offset, query.limit, total)
    if query.table:
        return table(_flagged_rows(page, shown, caller), query.table, "flagged", {"X-Next-Cursor": next_cursor or ""})
    return msgspec.json.encode(FlaggedPage(items=page, next_cursor=next_cursor)), JSON, {}


def ranking(store: Store, rules: Rules, caller: Caller, query: RankingQuery) -> Answer:
    ensure_current(store, rules)
    units, notes = unit_counts(store, caller.key.org, query.under, query.course_id, query.since, query.until,
                               query.depth)
    items, rule = rank_units(units)
    ranked = UnitRanking(items=[msgspec.convert(item, UnitRank) for item in items], ranked_by=rule, notes=notes)
    if query.table:
        return table(_ranking_rows(ranked, caller.lang), query.table, "ranking")
    return msgspec.json.encode(ranked), JSON, {}


def trend(store: Store, rules: Rules, caller: Caller, query: TrendQuery) -> Answer:
    ensure_current(store, rules)
    zone = caller.zone(query.under)
    items = [TrendDay(day=day, sessions=sessions, flagged=counts,
                      share={p: round(c / sessions, 4) for p, c in counts.items()})
             for day, sessions, counts in trend_days(store, caller.key.org, query.under, query.course_id, zone)]
    return msgspec.json.encode(TrendPublic(items=items, time_zone=str(zone.key))), JSON, {}


def at_risk_page(store: Store, rules: Rules, caller: Caller, query: AtRiskQuery) -> Answer:
    ensure_current(store, rules)
    found = at_risk(store, caller.key.org, query.org_id, query.course_id, query.as_of)
    page = found[query.offset:query.offset + query.limit]
    return msgspec.json.encode(AtRiskPublic(as_of=rfc3339(cast(float, query.as_of)), items=page,
                                            next_cursor=cursor_after(query.offset, query.limit, len(found)))), JSON, {}


def credits_page(store: Store, rules: Rules, caller: Caller, query: CreditsQuery) -> Answer:
    ensure_current(store, rules)
    found, total = credit_rows(store, caller.key.org, query.org_id, query.course_id, query.offset, query.limit)
    page = [CreditPublic(learner_id=c.learner_id, org_id=c.org_id, course_id=c.course_id,
                         effective_hours=c.effective_hours, creditable_hours=c.creditable_hours, complete=c.complete,
                         status=c.status, sessions=c.sessions,  # type: ignore[arg-type]
                         first_study=rfc3339(c.first_study), last_study=rfc3339(c.last_study))
            for c in found]
    offline = store.offline.of_many(c.learner_id for c in page)
    for item in page:
        item.offline_hours = round(sum(r.hours for r in offline[item.learner_id] if r.activity == item.course_id), 2)
    next_cursor = cursor_after(query.offset, query.limit, total)
    headers = {"X-Next-Cursor": next_cursor or ""}
    if query.format == "xapi":
        return msgspec.json.encode([completed_statement(c) for c in page]), JSON, headers
    if query.format in ("csv", "xlsx"):
        rows: list[list[object]] = [["learner_id", "org_id", "course_id", "effective_hours", "creditable_hours",
                                     "complete", "status", "sessions", "first_study", "last_study", "offline_hours"]]
        for c in page:
            zone = caller.zone(c.org_id)
            rows.append([c.learner_id, c.org_id, c.course_id, c.effective_hours, c.creditable_hours, c.complete,
                         c.status, c.sessions,
                         local_time(_seconds(c.first_study), zone), local_time(_seconds(c.last_study), zone),
                         c.offline_hours])
        return table(rows, query.format, "credits", headers)
    return msgspec.json.encode(CreditsPage(items=page, next_cursor=next_cursor)), JSON, {}


CREDIT_EXT = "https://learnguard.dev/xapi/extensions/"


def completed_statement(credit: CreditPublic) -> dict[str, object]:
    """A credit as the xAPI statement a platform's LRS takes (学时互认): ``completed`` when the
    creditable hours stand, ``progressed`` otherwise; the standing time as ``result.duration``."""
    seconds = round(credit.effective_hours * 3600)
    done = credit.complete and credit.status == "complete"
    return {
        "id": str(uuid.uuid5(CREDIT_NAMESPACE, f"{credit.learner_id}|{credit.course_id}|{seconds}|{credit.status}")),
        "actor": {"objectType": "Agent", "account": {"homePage": "https://learnguard.dev/learners",
                                                     "name": credit.learner_id}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed" if done else
                 "http://adlnet.gov/expapi/verbs/progressed",
                 "display": {"en-US": "completed" if done else "progressed"}},
        "object": {"objectType": "Activity", "id": f"urn:learnguard:course:{credit.course_id}",
                   "definition": {"type": "http://adlnet.gov/expapi/activities/course"}},
        "result": {"duration": f"PT{seconds}S", "completion": done,
                   "extensions": {CREDIT_EXT + "effective-hours": credit.effective_hours,
                                  CREDIT_EXT + "creditable-hours": credit.creditable_hours,
                                  CREDIT_EXT + "status": credit.status}},
        "context": {"extensions": {CREDIT_EXT + "org": credit.org_id}},
        "timestamp": credit.last_study,
    }


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP: prefix with ')."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def table(rows: list[list[object]], kind: str, name: str, headers: dict[str, str] | None = None) -> Answer:
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
        return out.getvalue(), XLSX, {**(headers or {}), "Content-Disposition": f'attachment; filename="{name}.xlsx"'}
    text = io.StringIO()
    text.write("\ufeff")
    csv.writer(text).writerows(safe)
    return text.getvalue().encode(), "text/csv; charset=utf-8", {
        **(headers or {}), "Content-Disposition": f'attachment; filename="{name}.csv"'}


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


def _ranking_rows(ranked: UnitRanking, lang: str) -> list[list[object]]:
    """The ranking for a spreadsheet, both lists marked, the rule and notes in the last rows."""
    rows: list[list[object]] = [["rank", "list", "org_id", "learners", "active_learners",
                                 "effective_hours_per_learner", "completion_rate", "flagged_rate", "confirmed_rate"]]
    names = {"honour": "红榜" if lang == "zh_CN" else "honour", "warning": "黑榜" if lang == "zh_CN" else "warning"}
    for item in ranked.items:
        rows.append([item.rank, names.get(item.list or "", ""), item.org_id, item.learners, item.active_learners,
                     item.effective_hours_per_learner, item.completion_rate, item.flagged_rate, item.confirmed_rate])
    rows.append([])
    rows.append(["ranked_by", ranked.ranked_by])
    rows.extend(["note", note] for note in ranked.notes)
    return rows
