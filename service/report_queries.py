"""Reports read from the stored rows as fixed-width records (``service.rows``), with numpy:
filtering, grouping and sorting a province's rows cost no Python per row. Only the page
a supervisor sees is read as detail (flags with reasons and rulings).

The answers are those of reading every learner × course's flags one by one (the tests
compare them with each session's score): a dismissed flag is left out unless dismissed
ones are asked for, risk is that of the standing flags, a learner counts once per unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import pandas as pd

from learnguard.detector.next_steps import CRAM_FACTOR, creditable
from learnguard.detector.policy import NON_MISCONDUCT_CAP
from learnguard.detector.ranking import ACTIVE_HOURS, UnitCounts
from learnguard.features.course import course_info
from learnguard.features.orgs import org_covers
from learnguard.service.reports import (
    REPORT_PATTERNS,
    LearnerCourseReport,
    ReportFlag,
    credit_status,
    decode_detail,
    pattern_number,
)
from learnguard.service.rows import STATUSES, Tables
from learnguard.service.store import Store

DISMISSED = STATUSES.index("dismissed")


@dataclass(frozen=True)
class FlagFilter:
    """Which flags a flagged-learner report keeps."""

    pattern: str | None = None
    status: str | None = None
    since: float | None = None
    until: float | None = None

    def keeps(self, flag: ReportFlag) -> bool:
        """The same rule as ``keep_mask``, for one flag of a detail."""
        return ((self.pattern is None or flag.flag.pattern == self.pattern)
                and (flag.stands if self.status is None else flag.status == self.status)
                and (self.since is None or flag.flag.end >= self.since)
                and (self.until is None or flag.flag.start <= self.until))

    def keep_mask(self, records: np.ndarray) -> np.ndarray:
        keep = np.ones(len(records), dtype=bool)
        if self.pattern is not None:
            keep &= (records["pattern"] == pattern_number(self.pattern)) if self.pattern in REPORT_PATTERNS \
                else np.zeros(len(records), dtype=bool)
        if self.status is None:
            keep &= records["status"] != DISMISSED
        else:
            keep &= records["status"] == STATUSES.index(self.status)
        if self.since is not None:
            keep &= records["end"] >= self.since
        if self.until is not None:
            keep &= records["start"] <= self.until
        return keep


@dataclass
class FlaggedItem:
    risk: float
    row: LearnerCourseReport
    flags: list[ReportFlag]


def _course_ids(store: Store, course_id: str | None) -> list[str]:
    return [course_id] if course_id else store.sessions.course_ids()


def _in_scope(store: Store, records: np.ndarray, caller_org: str | None, under: str | None) -> np.ndarray:
    """Which records lie in the caller's subtree and the asked-for one."""
    numbers = [number for org, number in store.rows.org_table().items()
               if org_covers(caller_org, org) and (under is None or org_covers(under, org))]
    return np.isin(records["org"], np.array(numbers, dtype=np.uint32))


def flagged_learners(store: Store, caller_org: str | None, under: str | None, course_id: str | None,
                     kept: FlagFilter, min_risk: float, offset: int, limit: int) -> tuple[list[FlaggedItem], int]:
    """One page of learner × course items with kept flags, highest risk first, and how many in all."""
    courses = _course_ids(store, course_id)
    tables: Tables = store.rows.tables("flag", courses)
    records = tables.records
    mask = _in_scope(store, records, caller_org, under) & kept.keep_mask(records)
    if not mask.any():
        return [], 0
    chosen, rows = records[mask], tables.row[mask]
    standing = chosen["status"] != DISMISSED
    confidence = chosen["confidence"].astype(np.float64)
    # per learner x course: the strongest standing misconduct flag, else the strongest other one, capped
    misconduct = np.full(len(tables.learners), -1.0)
    np.maximum.at(misconduct, rows, np.where(standing & (chosen["misconduct"] == 1), confidence, -1.0))
    other = np.full(len(tables.learners), -1.0)
    np.maximum.at(other, rows, np.where(standing, np.minimum(confidence, NON_MISCONDUCT_CAP), 0.0))
    risk = np.round(np.where(misconduct >= 0, misconduct, other), 4)
    listed = np.flatnonzero((other >= 0) & (risk >= min_risk - 1e-9))  # rows with a kept flag, risky enough
    learner_names = np.array(tables.learners, dtype=str)[listed]
    course_names = np.array(courses, dtype=str)[tables.row_course[listed]]
    order = listed[np.lexsort((course_names, learner_names, -risk[listed]))]
    total = len(order)
    page = order[offset:offset + limit]
    wanted = [(courses[tables.row_course[i]], tables.learners[i]) for i in page]
    items = []
    for (_, _), raw, risk_value in zip(wanted, store.rows.details(wanted), risk[page], strict=True):
        if raw is None:  # removed since the records were read
            continue
        row = decode_detail(raw)
        items.append(FlaggedItem(float(risk_value), row, [f for f in row.flags if kept.keeps(f)]))
    return items, total


def creditable_hours(store: Store, course_id: str) -> tuple[float, str | None]:
    """The hours a learner can complete a course with: its ``required_hours``, or what its
    videos hold when that is less (a course asking 40 h of 12 h of video would otherwise
    leave every unit at 0 % completion), and a note saying so; nan when nothing is described."""
    course = store.courses.get(course_id)
    if course is None:
        return np.nan, None
    hours, note = creditable(course.required_hours, sum(v.duration for v in course.videos))
    return (np.nan if hours is None else hours), (f"course {course_id} {note}" if note else None)


def unit_at(org_id: str, depth: int | None) -> str:
    """The unit an org rolls up to at ``depth`` path segments (itself when shallower).

    >>> unit_at("zhejiang/hdu/computing", 2), unit_at("zhejiang", 2), unit_at("zhejiang/hdu", None)
    ('zhejiang/hdu', 'zhejiang', 'zhejiang/hdu')
    """
    return org_id if depth is None else "/".join(org_id.split("/")[:depth])


def unit_counts(store: Store, caller_org: str | None, under: str | None, course_id: str | None,
                since: float | None, until: float | None, depth: int | None = None
                ) -> tuple[list[UnitCounts], list[str]]:
    """Each unit's learners (once each, whatever their courses), active, complete, flagged,
    confirmed, and standing hours, over the learners who studied within the period; with
    ``depth``, units rolled up to that level of the org tree. Also notes on completion."""
    courses = _course_ids(store, course_id)
    tables = store.rows.tables("row", courses)
    records = tables.records
    mask = _in_scope(store, records, caller_org, under)
    if since is not None:
        mask &= records["last"] >= since
    if until is not None:
        mask &= records["first"] <= until
    chosen = records[mask]
    if not len(chosen):
        return [], []
    creditable = [creditable_hours(store, c) for c in courses]
    notes = [note for _, note in creditable if note]
    required = np.array([hours for hours, _ in creditable], dtype=np.float64)[tables.course[mask]]
    hours = chosen["effective"].astype(np.float64) / 3600
    names = {number: org for org, number in store.rows.org_table().items()}
    units = {number: unit_at(org, depth) for number, org in names.items()}
    numbers, inverse = np.unique(chosen["org"], return_inverse=True)
    rolled = np.array([units[int(n)] for n in numbers], dtype=object)[inverse]  # one lookup per unit, not per row
    frame = pd.DataFrame({"org": rolled, "learner": chosen["learner"], "hours": hours,
                          "active": hours >= ACTIVE_HOURS,
                          "complete": np.nan_to_num(required, nan=np.inf) <= hours,
                          "flagged": chosen["flagged"] == 1, "confirmed": chosen["confirmed"] == 1})
    per_learner = frame.groupby(["org", "learner"], sort=False).agg(
        hours=("hours", "sum"), active=("active", "any"), complete=("complete", "any"),
        flagged=("flagged", "any"), confirmed=("confirmed", "any"))
    per_unit = per_learner.groupby(level="org").agg(
        learners=("hours", "size"), hours=("hours", "sum"), active=("active", "sum"), complete=("complete", "sum"),
        flagged=("flagged", "sum"), confirmed=("confirmed", "sum"))
    return [UnitCounts(org_id=str(org), learners=int(r.learners), active=int(r.active),
                       complete=int(r.complete), flagged=int(r.flagged), confirmed=int(r.confirmed),
                       hours=float(r.hours)) for org, r in per_unit.iterrows()], notes


def local_days(epoch_s: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """The local day (days since 1970-01-01 in ``zone``) of each time: one offset when the
    zone keeps one over the span (Asia/Shanghai does), else pandas per time.

    >>> local_days(np.array([1772326800.0, 1772384400.0]), ZoneInfo("Asia/Shanghai")).tolist()
    [20513, 20514]
    """
    if not len(epoch_s):
        return np.zeros(0, dtype=np.int64)
    low, high = float(epoch_s.min()), float(epoch_s.max())
    probes = np.linspace(low, high, num=min(64, max(2, int((high - low) // 86400) + 2)))
    offsets = {datetime.fromtimestamp(t, tz=zone).utcoffset() for t in probes}
    if len(offsets) == 1:
        shift = next(iter(offsets))
        return np.floor((epoch_s + (shift.total_seconds() if shift else 0.0)) / 86400).astype(np.int64)
    starts = pd.DatetimeIndex(pd.to_datetime(epoch_s, unit="s", utc=True)).tz_convert(zone)
    return np.asarray(starts.tz_localize(None).asi8 // (86400 * 10**9))


def trend_days(store: Store, caller_org: str | None, under: str | None, course_id: str | None,
               zone: ZoneInfo) -> list[tuple[str, int, dict[str, int]]]:
    """Per local day of ``zone``: sessions started, and how many carried each standing pattern."""
    tables = store.rows.tables("mark", _course_ids(store, course_id))
    records = tables.records
    chosen = records[_in_scope(store, records, caller_org, under)]
    if not len(chosen):
        return []
    days = local_days(chosen["first"], zone)
    unique, inverse, counts = np.unique(days, return_inverse=True, return_counts=True)
    out = []
    per_pattern = {p: np.bincount(inverse, weights=((chosen["patterns"] >> n) & 1).astype(np.float64),
                                  minlength=len(unique)) for n, p in enumerate(REPORT_PATTERNS)}
    for i, day in enumerate(unique):
        label = datetime.fromtimestamp(int(day) * 86400, tz=UTC).strftime("%Y-%m-%d")
        flagged = {p: int(c[i]) for p, c in per_pattern.items() if c[i]}
        out.append((label, int(counts[i]), flagged))
    return out


class AtRisk(msgspec.Struct):
    """A learner who will not reach a course's creditable hours at their pace so far
    (``at_risk``) or would need at least twice that pace (``cramming_ahead``): hours, days,
    hours per day, as of the report's time."""

    learner_id: str
    org_id: str
    course_id: str
    effective_hours: float
    creditable_hours: float
    pace_hours_per_day: float
    needed_hours_per_day: float
    projected_hours: float
    days_left: float
    at_risk: bool
    cramming_ahead: bool


def at_risk(store: Store, caller_org: str | None, under: str | None, course_id: str | None, as_of: float
            ) -> list[AtRisk]:
    """Learners of courses with a deadline still ahead who, at their pace since the course
    opened (or since they started), will not reach its creditable hours — most hours short
    first — and those who would need twice their pace (starting to cram)."""
    out: list[AtRisk] = []
    names = {number: org for org, number in store.rows.org_table().items()}
    for cid in _course_ids(store, course_id):
        course = store.courses.get(cid)
        info = course_info(course, 2.0)
        if course is None or info.deadline is None or info.deadline <= as_of:
            continue
        hours, _ = creditable(course.required_hours, sum(v.duration for v in course.videos))
        if hours is None:
            continue
        tables = store.rows.tables("row", [cid], with_learners=True)
        records = tables.records
        mask = _in_scope(store, records, caller_org, under) & (records["first"] <= as_of)
        chosen, learners = records[mask], [tables.learners[tables.row[i]] for i in np.flatnonzero(mask)]
        started = np.full(len(chosen), info.opens_at) if info.opens_at is not None else chosen["first"]
        effective = chosen["effective"].astype(np.float64) / 3600
        pace = effective / np.maximum(1.0, (as_of - started) / 86400)
        days_left = (info.deadline - as_of) / 86400
        projected = effective + pace * days_left
        remaining = np.maximum(0.0, hours - effective)
        needed = remaining / days_left
        behind = (remaining > 0) & (projected < hours)
        cramming = (remaining > 0) & (needed >= CRAM_FACTOR * np.maximum(pace, 1e-9))
        for i in np.flatnonzero(behind | cramming):
            out.append(AtRisk(learners[i], names[int(chosen["org"][i])], cid, round(float(effective[i]), 2),
                              round(hours, 2), round(float(pace[i]), 3), round(float(needed[i]), 3),
                              round(float(projected[i]), 2), round(days_left, 1), bool(behind[i]), bool(cramming[i])))
    out.sort(key=lambda r: (-(r.creditable_hours - r.projected_hours), r.learner_id, r.course_id))
    return out


class Credit(msgspec.Struct):
    """The study hours of a learner × course that stand (学时认定): online hours after the
    rulings, what the course can credit, and whether a misconduct flag holds them back."""

    learner_id: str
    org_id: str
    course_id: str
    effective_hours: float
    creditable_hours: float | None
    complete: bool
    status: str  # complete | in_progress | under_review | misconduct_confirmed
    sessions: int
    first_study: float
    last_study: float


def credit_rows(store: Store, caller_org: str | None, under: str | None, course_id: str | None,
                offset: int = 0, limit: int | None = None) -> tuple[list[Credit], int]:
    """One page of the learner × course credits in scope — course by course, learners in id
    order — and how many there are in all. The rows are read in one round trip; only the
    page's credits are built."""
    courses = _course_ids(store, course_id)
    tables = store.rows.tables("row", courses, with_learners=True)
    records = tables.records
    chosen = np.flatnonzero(_in_scope(store, records, caller_org, under))
    ordered = sorted(chosen, key=lambda i: (int(tables.course[i]), tables.learners[tables.row[i]]))
    page = ordered[offset:None if limit is None else offset + limit]
    names = {number: org for org, number in store.rows.org_table().items()}
    hours_of: dict[int, float | None] = {}
    out: list[Credit] = []
    for i in page:
        index = int(tables.course[i])
        if index not in hours_of:
            course = store.courses.get(courses[index])
            hours_of[index] = creditable(course.required_hours,
                                         sum(v.duration for v in course.videos))[0] if course else None
        hours, record = hours_of[index], records[i]
        effective = round(float(record["effective"]) / 3600, 3)
        status = credit_status(float(record["effective"]), hours, bool(record["flagged"]), bool(record["confirmed"]))
        out.append(Credit(tables.learners[tables.row[i]], names[int(record["org"])], courses[index], effective,
                          None if hours is None else round(hours, 3), hours is not None and effective >= hours - 1e-6,
                          status, int(record["sessions"]), float(record["first"]), float(record["last"])))
    return out, len(ordered)
