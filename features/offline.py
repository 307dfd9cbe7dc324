"""Offline training records (party-school classes, lectures, practice) read from a CSV.

Cadres earn part of their hours offline; a supervisor needs both in one portrait, kept
apart: offline hours are what the unit recorded, not what LearnGuard measured, so they
never mix into ``effective_hours``. Every bad line is reported by number and field; a
good line's id is derived from its content (and its occurrence in the file), so importing
the same file twice adds nothing. No I/O here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import date

import msgspec

KINDS = ("lecture", "party_school_class", "practice", "seminar", "self_study", "other")
ALIASES = {"讲座": "lecture", "专题讲座": "lecture", "党校": "party_school_class", "党校培训": "party_school_class",
           "实践": "practice", "现场教学": "practice", "研讨": "seminar", "自学": "self_study", "其他": "other",
           "party-school": "party_school_class", "party_school": "party_school_class"}
COLUMNS = ("learner_id", "org_id", "activity", "hours", "date", "kind")
ID_RE = re.compile(r"^(?!\.{1,2}$)[^/\x00-\x1f\x7f]{1,128}$")
ORG_RE = re.compile(r"^[^/]+(/[^/]+)*$")


class OfflineRecord(msgspec.Struct, frozen=True):
    """One offline activity a learner attended, as the unit recorded it."""

    record_id: str
    learner_id: str
    org_id: str
    activity: str  # a course id (then it joins that course's portrait entry) or the activity's name
    hours: float
    day: str  # ISO date
    kind: str


class LineError(msgspec.Struct, frozen=True):
    line: int
    error: str


def read_offline_csv(text: str) -> tuple[list[tuple[int, OfflineRecord]], list[LineError]]:
    """The good records with their line numbers and, for every other line, its number
    (1 = the header) and why."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = [name.strip().lower() for name in reader.fieldnames or []]
    reader.fieldnames = ["activity" if name == "course_id" else name for name in fields]
    missing = [column for column in COLUMNS if column not in reader.fieldnames]
    if missing:
        return [], [LineError(1, f"header: missing column(s) {', '.join(missing)} "
                                 f"(expected {', '.join(COLUMNS)}; course_id may stand for activity)")]
    records: list[tuple[int, OfflineRecord]] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(reader, start=2):
        try:
            record = _record({k: (v or "").strip() for k, v in row.items() if k})
        except ValueError as exc:
            errors.append(LineError(number, str(exc)))
            continue
        content = "|".join((record.learner_id, record.org_id, record.activity, f"{record.hours:g}", record.day,
                            record.kind))
        seen[content] = seen.get(content, 0) + 1  # the same line twice in a file is two sittings
        record_id = hashlib.sha1(f"{content}|{seen[content]}".encode()).hexdigest()[:20]
        records.append((number, msgspec.structs.replace(record, record_id=record_id)))
    return records, errors


def _record(row: dict[str, str]) -> OfflineRecord:
    learner, org, activity = row["learner_id"], row["org_id"], row["activity"]
    if not ID_RE.match(learner):
        raise ValueError(f"learner_id: {learner!r} is not an id (1–128 characters, no '/')")
    if not ORG_RE.match(org) or len(org) > 256:
        raise ValueError(f"org_id: {org!r} is not a unit path such as 'zhejiang/hdu'")
    if not activity or len(activity) > 256:
        raise ValueError("activity: required (a course id or the activity's name, ≤ 256 characters)")
    try:
        hours = float(row["hours"])
    except ValueError:
        raise ValueError(f"hours: {row['hours']!r} is not a number") from None
    if not 0 < hours <= 24:
        raise ValueError(f"hours: {hours:g} is not in (0, 24] — one line is one day's attendance")
    try:
        day = date.fromisoformat(row["date"])
    except ValueError:
        raise ValueError(f"date: {row['date']!r} is not a date such as 2026-03-01") from None
    if not 2000 <= day.year <= 2099:
        raise ValueError(f"date: {day.isoformat()} is outside 2000–2099")
    kind = ALIASES.get(row["kind"], row["kind"].lower().replace(" ", "_").replace("-", "_"))
    if kind not in KINDS:
        raise ValueError(f"kind: {row['kind']!r} is not one of {', '.join(KINDS)} (or 党校, 讲座, 实践, 研讨, 自学)")
    return OfflineRecord("", learner, org, activity, hours, day.isoformat(), kind)
