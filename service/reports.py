"""The supervisors' report rows: computed, refreshed, stored.

Each learner x course has a report row (``service.rows``): its standing study time, its
flags (complete — context, linking, model — with their rulings) and when each session
started with the patterns standing on it. ``compute_rows`` builds rows the way a read of
every score would, loading full scores only for sessions that can carry a flag and asking
the model once per batch; ``refresh_rows`` recomputes the rows marked dirty;
``ensure_current`` runs before a report is read (``service.report_queries``): it refreshes
first when only a few rows are dirty (read-your-writes for a ruling or a small cohort) and
otherwise lets the report read the stored rows while the refresher catches up.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime

import msgspec
import numpy as np

from learnguard.detector.base import Flag
from learnguard.detector.context import cramming_of
from learnguard.detector.next_steps import creditable
from learnguard.detector.policy import PATTERNS, Rules
from learnguard.detector.records import LearnerCourse, Review
from learnguard.features.course import CourseInfo
from learnguard.service.keys import shard_of
from learnguard.service.readside import reviewed_scores
from learnguard.service.rows import FLAG, MARK, ROW, STATUSES, StoredRow
from learnguard.service.store import Store

log = logging.getLogger(__name__)

SYNC_REFRESH = 500     # a report refreshes this many dirty rows itself before it reads
REFRESH_BATCH = 200    # rows a refresh computes per round (one model call for their sessions)
BUSY_WAIT_S = 5.0      # how long a report waits for a refresh running elsewhere to write


class ReportFlag(msgspec.Struct, array_like=True):
    """A flag of a learner x course; a learner-level flag (cramming, sharing) is one entry
    spanning every session it touches, with one ruling."""

    session_id: str
    flag: Flag
    reviews: list[Review]
    sessions: list[str] = msgspec.field(default_factory=list)

    @property
    def status(self) -> str:
        return self.flag.status

    @property
    def stands(self) -> bool:
        return self.flag.stands

    def absorb(self, session_id: str, flag: Flag) -> None:
        """Another session of the same learner-level flag: its span and confidence join."""
        self.sessions.append(session_id)
        self.flag = msgspec.structs.replace(self.flag, start=min(self.flag.start, flag.start),
                                            end=max(self.flag.end, flag.end),
                                            confidence=max(self.flag.confidence, flag.confidence))


class SessionMark(msgspec.Struct, array_like=True):
    """When a session started and the patterns standing on it (the trend counts these)."""

    first_ts: float
    patterns: list[str] = msgspec.field(default_factory=list)


class LearnerCourseReport(msgspec.Struct, array_like=True):
    """The report row of a learner x course."""

    learner_id: str
    org_id: str
    course_id: str
    flags: list[ReportFlag] = msgspec.field(default_factory=list)
    effective_seconds: float = 0.0
    sessions: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0
    marks: list[SessionMark] = msgspec.field(default_factory=list)
    built_at: float = 0.0

    @property
    def misconduct(self) -> bool:
        """Whether a misconduct flag stands (cramming is learning quality, not a violation)."""
        return any(f.flag.misconduct and f.stands for f in self.flags)

    @property
    def confirmed(self) -> bool:
        """Whether a supervisor confirmed a misconduct flag."""
        return any(f.flag.misconduct and f.status == "confirmed" for f in self.flags)

    def related(self) -> set[str]:
        """Other learners the row's flags name (their rows may change with this one)."""
        return {r.learner_id for f in self.flags for reason in f.flag.reasons for r in reason.related}


_decode_row = msgspec.msgpack.Decoder(LearnerCourseReport).decode


def _candidates(learner_course: LearnerCourse, info: CourseInfo, rules: Rules, linked: set[str]) -> list[str]:
    """Sessions that may carry a flag: a session-level one, cramming, a session of the same
    learner at the same time, or a link the index holds (a shared device among them)."""
    t = rules.thresholds
    cramming = False
    if info.deadline is not None:
        result = cramming_of(learner_course, info.deadline, info.opens_at, t)
        cramming = (result.share_in_window >= t.cramming_min_share
                    and result.window_hours_studied >= t.cramming_min_hours)
    return [sid for sid, s in learner_course.sessions.items()
            if s.patterns or cramming or sid in linked
            or (len(learner_course.sessions) > 1 and _overlaps_elsewhere(sid, learner_course))]


def _overlaps_elsewhere(session_id: str, learner_course: LearnerCourse) -> bool:
    me = learner_course.sessions[session_id]
    return any(min(me.last_ts, other.last_ts) > max(me.first_ts, other.first_ts)
               for sid, other in learner_course.sessions.items() if sid != session_id)


def compute_rows(store: Store, rules: Rules, course_id: str, learner_courses: list[LearnerCourse]
                 ) -> list[LearnerCourseReport]:
    """The report rows of some learners of a course: flags complete and reviewed, study
    time as the read side credits it, and each session's start with its standing patterns."""
    info = rules.course(store.courses.get(course_id))
    linked = store.sessions.linked_sessions(course_id, learner_courses, rules.thresholds.farm_min_accounts) \
        | store.sessions.sessions_on_shared_devices(learner_courses, rules.thresholds.sharing_day_s)
    wanted = {lc.learner_id: _candidates(lc, info, rules, linked) for lc in learner_courses}
    unreadable: dict[str, str] = {}
    records = [record for lc in learner_courses for _, record in sorted(store.sessions.load_records(
        shard_of(lc.learner_id, store.shards), sorted(wanted[lc.learner_id]), unreadable).items())
        if record.score is not None]
    if unreadable:  # a row without those sessions' flags would clear them: the stored row stays as it was
        log.error("report rows of course %s kept as they were: %s", course_id,
                  "; ".join(f"session {sid}: {problem}" for sid, problem in sorted(unreadable.items())))
        learner_courses = [lc for lc in learner_courses if not unreadable.keys() & wanted[lc.learner_id]]
    reviewed = reviewed_scores(store, records, rules)
    now = time.time()
    rows = []
    for lc in learner_courses:
        report = LearnerCourseReport(lc.learner_id, lc.org_id, course_id, sessions=len(lc.sessions),
                                     effective_seconds=sum(s.effective_seconds for s in lc.sessions.values()
                                                           if not s.misconduct),
                                     first_ts=min((s.first_ts for s in lc.sessions.values()), default=0.0),
                                     last_ts=max((s.last_ts for s in lc.sessions.values()), default=0.0),
                                     built_at=now)
        by_id: dict[str, ReportFlag] = {}
        standing: dict[str, list[str]] = {}
        for sid in sorted(wanted[lc.learner_id]):
            if sid not in reviewed:
                continue
            score, reviews = reviewed[sid]
            for flag in score.flags:
                if flag.flag_id in by_id:
                    by_id[flag.flag_id].absorb(sid, flag)
                else:
                    by_id[flag.flag_id] = ReportFlag(sid, flag, reviews.get(flag.flag_id, []), [sid])
            standing[sid] = sorted({f.pattern for f in score.flags if f.stands})
            # the summary counted the worker's view of the session; the read side's stands
            summary = lc.sessions[sid]
            stored = 0.0 if summary.misconduct else summary.effective_seconds
            stands = 0.0 if any(f.misconduct and f.stands for f in score.flags) else score.effective_seconds
            report.effective_seconds += stands - stored
        report.flags = list(by_id.values())
        report.marks = [SessionMark(s.first_ts, standing.get(sid, [])) for sid, s in sorted(lc.sessions.items())]
        rows.append(report)
    return rows


def refresh_rows(store: Store, rules: Rules, limit: int = REFRESH_BATCH) -> int:
    """Recompute up to ``limit`` dirty rows (all of them after a model change); returns how
    many were recomputed. Learners a changed row names are marked in turn."""
    book = store.rows
    mark_after_model_change(store)
    taken = book.take(limit)
    if not taken:
        return 0
    token = book.busy(BUSY_WAIT_S * 6)
    try:
        done = 0
        for course_id, learners in taken.items():
            records = store.sessions.learner_courses_of(learners, course_id)
            rows = compute_rows(store, rules, course_id, list(records.values()))
            before = [decode_detail(raw) for raw in book.details([(course_id, lid) for lid in learners]) if raw]
            old = {row.learner_id: row for row in before}
            numbers = book.org_numbers({row.org_id for row in rows})
            previous = book.records_of(course_id, learners) if store.hooks.listening() else None
            book.write(course_id, {row.learner_id: stored_row(row, numbers[row.org_id]) for row in rows},
                       [learner for learner in learners if learner not in records])
            if previous is not None:
                store.hooks.notify(credit_changes(store, course_id, rows, previous))
            cascade = {(other, course_id) for row in rows if _flags_changed(old.get(row.learner_id), row)
                       for other in row.related() if other != row.learner_id}
            book.mark(cascade)
            done += len(learners)
        return done
    finally:
        book.idle(token)


def credit_status(effective_s: float, hours: float | None, flagged: bool, confirmed: bool) -> str:
    """A learner × course's credit: complete, in_progress, under_review (misconduct stands,
    not ruled) or misconduct_confirmed (``/v1/credits`` and the webhooks say the same)."""
    if confirmed:
        return "misconduct_confirmed"
    if flagged:
        return "under_review"
    return "complete" if hours is not None and effective_s / 3600 >= hours - 1e-6 else "in_progress"


def credit_changes(store: Store, course_id: str, rows: list[LearnerCourseReport],
                   previous: dict[str, np.void]) -> list[dict[str, object]]:
    """The rows whose standing hours (to the hundredth) or credit status changed, as
    ``credit.changed`` notifications."""
    course = store.courses.get(course_id)
    hours = creditable(course.required_hours, sum(v.duration for v in course.videos))[0] if course else None
    now = time.time()
    out: list[dict[str, object]] = []
    for row in rows:
        effective = max(0.0, row.effective_seconds)
        status = credit_status(effective, hours, row.misconduct, row.confirmed)
        old = previous.get(row.learner_id)
        old_effective = float(old["effective"]) if old is not None else 0.0
        old_status = credit_status(old_effective, hours, bool(old["flagged"]), bool(old["confirmed"])) \
            if old is not None else None
        if old is not None and round(old_effective / 3600, 2) == round(effective / 3600, 2) and old_status == status:
            continue
        out.append({"type": "credit.changed", "learner_id": row.learner_id, "org_id": row.org_id,
                    "course_id": course_id, "effective_hours": round(effective / 3600, 3),
                    "previous_effective_hours": round(old_effective / 3600, 3) if old is not None else None,
                    "status": status, "previous_status": old_status,
                    "creditable_hours": None if hours is None else round(hours, 3),
                    "at": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")})
    return out


def mark_after_model_change(store: Store) -> bool:
    """Every row dirty when the active model is not the one the rows were built with (a
    rebuild whose progress ``rows_status`` reports); True when it marked them."""
    book = store.rows
    _, envelope = store.registry.active()  # the version the scores are composed with
    version = envelope.version if envelope else ""
    if book.built_for() == version:
        return False
    book.set_built_for(version)
    book.set_rebuild_total(book.mark_courses(store.sessions.course_ids()))
    return True


def rows_status(store: Store) -> dict[str, object]:
    """How current the rows are: stored, waiting, and the rebuild after the last model change."""
    book = store.rows
    mark_after_model_change(store)
    total, pending = book.rebuild_total(), book.pending()
    return {"rows": book.counts(store.sessions.course_ids()), "pending": pending,
            "model": book.built_for() or None,
            "rebuild": {"total": total, "done": max(0, total - pending)} if total else None}


def _flags_changed(old: LearnerCourseReport | None, new: LearnerCourseReport) -> bool:
    def key(row: LearnerCourseReport | None) -> set[tuple[str, str, float]]:
        return {(f.flag.flag_id, f.status, f.flag.confidence) for f in row.flags} if row else set()
    return key(old) != key(new)


def ensure_current(store: Store, rules: Rules) -> None:
    """Before a report is read: when only a few rows are stale (a ruling, a small cohort),
    recompute them now and wait for a refresh running elsewhere, so a report shows what
    was just done; when many are (a rebuild), read what is stored while the refresher works."""
    book = store.rows
    mark_after_model_change(store)
    if book.pending() <= SYNC_REFRESH:
        while refresh_rows(store, rules, SYNC_REFRESH):
            pass
        book.wait_idle(BUSY_WAIT_S)


# -- rows as stored -------------------------------------------------------------------------
REPORT_PATTERNS = (*PATTERNS, "anomalous_session")
OTHER_PATTERN = 15  # the bit of a pattern this list does not know


def pattern_number(pattern: str) -> int:
    """The pattern's number in the records (its bit in a session mark).

    >>> pattern_number("scripted_playback"), pattern_number("something_new")
    (0, 15)
    """
    return REPORT_PATTERNS.index(pattern) if pattern in REPORT_PATTERNS else OTHER_PATTERN


def learner_hash(learner_id: str) -> int:
    """A learner as 64 bits, to count distinct learners in the records."""
    return int.from_bytes(hashlib.blake2b(learner_id.encode(), digest_size=8).digest(), "little")


def stored_row(report: LearnerCourseReport, org: int) -> StoredRow:
    """A report row as its fixed-width records (``service.rows``) and its detail."""
    row = np.zeros(1, dtype=ROW)
    row[0] = (learner_hash(report.learner_id), org, report.sessions, max(0.0, report.effective_seconds),
              report.first_ts, report.last_ts, report.misconduct, report.confirmed)
    flags = np.zeros(len(report.flags), dtype=FLAG)
    for index, item in enumerate(report.flags):
        status = STATUSES.index(item.status) if item.status in STATUSES else 0
        flags[index] = (org, pattern_number(item.flag.pattern), status, item.flag.misconduct, item.flag.confidence,
                        item.flag.start, item.flag.end)
    marks = np.zeros(len(report.marks), dtype=MARK)
    for index, mark in enumerate(report.marks):
        marks[index] = (org, mark.first_ts, sum(1 << pattern_number(p) for p in set(mark.patterns)))
    return StoredRow(row.tobytes(), flags.tobytes(), marks.tobytes(),
                     msgspec.msgpack.encode(report) if report.flags else b"")


def decode_detail(raw: bytes) -> LearnerCourseReport:
    return _decode_row(raw)
