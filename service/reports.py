"""Supervisor reports composed when read: flagged learners and the ranking of units.

Both walk the learner x course records of the courses in scope (a roster per course),
load full scores only for sessions that can carry a flag, and attach every flag's review
history. Cost grows with the learners in scope; fine for a university's cadres, an index
of flagged sessions is the next step for a province.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from learnguard.detector.base import Flag
from learnguard.detector.context import cramming_of
from learnguard.detector.policy import Rules
from learnguard.detector.records import LearnerCourse, Review
from learnguard.features.course import CourseInfo
from learnguard.features.orgs import org_covers
from learnguard.service.keys import shard_of
from learnguard.service.readside import reviewed_scores
from learnguard.service.store import Store


@dataclass
class ReportFlag:
    """A flag of a learner x course; a learner-level flag (cramming, sharing) is one entry
    spanning every session it touches, with one ruling."""

    session_id: str
    flag: Flag
    reviews: list[Review]
    sessions: list[str] = field(default_factory=list)

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


@dataclass
class LearnerCourseReport:
    learner_id: str
    org_id: str
    course_id: str
    flags: list[ReportFlag] = field(default_factory=list)
    effective_seconds: float = 0.0
    sessions: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0

    @property
    def risk(self) -> float:
        """The strongest standing misconduct flag (a dismissed flag no longer counts)."""
        return max((f.flag.confidence for f in self.flags if f.flag.misconduct and f.stands), default=0.0)

    @property
    def patterns(self) -> list[str]:
        return sorted({f.flag.pattern for f in self.flags})

    @property
    def misconduct(self) -> bool:
        """Whether a misconduct flag stands (cramming is learning quality, not a violation)."""
        return any(f.flag.misconduct and f.stands for f in self.flags)

    @property
    def confirmed(self) -> bool:
        """Whether a supervisor confirmed a misconduct flag."""
        return any(f.flag.misconduct and f.status == "confirmed" for f in self.flags)


def _candidates(learner_course: LearnerCourse, info: CourseInfo, rules: Rules,
                shared_devices: set[str], linked: set[str]) -> list[str]:
    """Sessions that may carry a flag: a session-level one, cramming, a shared device, a
    session of the same learner at the same time, or a link the index holds."""
    t = rules.thresholds
    cramming = False
    if info.deadline is not None:
        result = cramming_of(learner_course, info.deadline, info.opens_at, t)
        cramming = (result.share_in_window >= t.cramming_min_share
                    and result.window_hours_studied >= t.cramming_min_hours)
    return [sid for sid, s in learner_course.sessions.items()
            if s.patterns or cramming or s.device in shared_devices or sid in linked
            or (len(learner_course.sessions) > 1 and _overlaps_elsewhere(sid, learner_course))]


def _overlaps_elsewhere(session_id: str, learner_course: LearnerCourse) -> bool:
    me = learner_course.sessions[session_id]
    return any(min(me.last_ts, other.last_ts) > max(me.first_ts, other.first_ts)
               for sid, other in learner_course.sessions.items() if sid != session_id)


def learner_course_reports(store: Store, rules: Rules, caller_org: str | None, org_filter: str | None,
                           course_id: str | None) -> list[LearnerCourseReport]:
    """Every learner x course in scope, with its flags (complete, reviewed) attached."""
    reports: list[LearnerCourseReport] = []
    for cid in ([course_id] if course_id else store.sessions.course_ids()):
        info = rules.course(store.courses.get(cid))
        in_scope = [lc for lc in store.sessions.roster_learner_courses(cid)
                    if org_covers(caller_org, lc.org_id) and (org_filter is None or org_covers(org_filter, lc.org_id))]
        devices = sorted({s.device for lc in in_scope for s in lc.sessions.values() if s.device})
        shared = {device for device, sessions in store.sessions.devices_sessions(devices).items()
                  if len({s.learner_id for s in sessions.values()}) > 1}
        linked = store.sessions.linked_sessions(cid, in_scope, rules.thresholds.farm_min_accounts)
        for lc in in_scope:
            report = LearnerCourseReport(lc.learner_id, lc.org_id, cid, sessions=len(lc.sessions),
                                         effective_seconds=sum(s.effective_seconds for s in lc.sessions.values()
                                                               if not s.misconduct),
                                         first_ts=min((s.first_ts for s in lc.sessions.values()), default=0.0),
                                         last_ts=max((s.last_ts for s in lc.sessions.values()), default=0.0))
            candidates = _candidates(lc, info, rules, shared, linked)
            records = store.sessions.load_records(shard_of(lc.learner_id, store.shards), sorted(candidates))
            scored = [record for _, record in sorted(records.items()) if record.score is not None]
            by_id: dict[str, ReportFlag] = {}
            for sid, (score, reviews) in reviewed_scores(store, scored, rules).items():
                for flag in score.flags:
                    if flag.flag_id in by_id:
                        by_id[flag.flag_id].absorb(sid, flag)
                    else:
                        by_id[flag.flag_id] = ReportFlag(sid, flag, reviews.get(flag.flag_id, []), [sid])
                # the summary counted the worker's view of the session; the read side's stands
                summary = lc.sessions[sid]
                stored = 0.0 if summary.misconduct else summary.effective_seconds
                stands = 0.0 if any(f.misconduct and f.stands for f in score.flags) else score.effective_seconds
                report.effective_seconds += stands - stored
            report.flags = list(by_id.values())
            reports.append(report)
    return reports
