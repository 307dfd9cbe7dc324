"""Detectors that look beyond one session: the learner's course and the device's accounts.

They run when a session is read (scoring, reports), on the learner x course summary the
worker keeps and on the device index, so they see the learner's other sessions and the
other accounts a device drove, whichever worker processed them.

- ``last_minute_cramming``: a learning-quality signal, never misconduct on its own.
- ``account_sharing``: one device working through several accounts in turn (proxy
  learning), or one learner studying in two places at once.
- schedules: the same start time every day adds weight to ``scripted_playback`` but
  never raises it alone.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import msgspec

from learnguard.detector.base import Evidence, Flag, Reason, combine, flag_id_for
from learnguard.detector.policy import fuse, level_of
from learnguard.detector.records import LearnerCourse, SessionSummary
from learnguard.detector.scoring import SessionScore
from learnguard.detector.thresholds import Thresholds
from learnguard.features.course import CourseInfo


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


class Cramming(msgspec.Struct):
    """How a learner's effective study time in a course sits against the deadline."""

    total_hours: float
    window_hours_studied: float
    share_in_window: float
    index: float  # 0: spread from opening to deadline, 1: all of it at the deadline


def cramming_of(learner_course: LearnerCourse, deadline: float, opens_at: float | None,
                t: Thresholds) -> Cramming:
    """Effective time before ``deadline``, spread evenly over each session's span."""
    window_start = deadline - t.cramming_window_hours * 3600
    first = min((s.first_ts for s in learner_course.sessions.values()), default=deadline)
    opening = opens_at if opens_at is not None else first
    span = max(deadline - opening, 1.0)
    total = in_window = weighted = 0.0
    for summary in learner_course.sessions.values():
        effective = summary.effective_seconds
        if effective <= 0:
            continue
        length = max(summary.last_ts - summary.first_ts, 1.0)
        in_window += effective * _overlap(summary.first_ts, summary.last_ts + 1, window_start, deadline) / length
        total += effective
        middle = (summary.first_ts + summary.last_ts) / 2
        weighted += effective * min(1.0, max(0.0, (deadline - middle) / span))
    share = in_window / total if total else 0.0
    index = 1.0 - weighted / total if total else 0.0
    return Cramming(total_hours=total / 3600, window_hours_studied=in_window / 3600,
                    share_in_window=share, index=index)


def cramming_flags(session_id: str, summary: SessionSummary, learner_course: LearnerCourse,
                   course: CourseInfo, t: Thresholds) -> list[Flag]:
    if course.deadline is None:
        return []
    result = cramming_of(learner_course, course.deadline, course.opens_at, t)
    window_start = course.deadline - t.cramming_window_hours * 3600
    in_window = summary.last_ts >= window_start and summary.first_ts <= course.deadline
    if not in_window or result.share_in_window < t.cramming_min_share \
            or result.window_hours_studied < t.cramming_min_hours:
        return []
    reason = Reason(
        "study_concentrated_before_deadline",
        f"{result.share_in_window:.0%} of {result.total_hours:.1f} h of effective study fell in the last "
        f"{t.cramming_window_hours:.0f} h before the deadline ({result.window_hours_studied:.1f} h); flagged from "
        f"{t.cramming_min_share:.0%} with at least {t.cramming_min_hours:g} h; cramming index {result.index:.2f} "
        "(0 = spread over the course, 1 = all at the deadline). A learning-quality signal, not misconduct.",
        round(result.share_in_window, 3), t.cramming_min_share)
    return [Flag(flag_id=flag_id_for(session_id, "last_minute_cramming"), pattern="last_minute_cramming",
                 confidence=round(min(0.95, result.share_in_window), 3), reasons=[reason],
                 start=summary.first_ts, end=summary.last_ts, misconduct=False)]


def sharing_evidence(session_id: str, summary: SessionSummary, device_sessions: dict[str, SessionSummary],
                     learner_course: LearnerCourse | None, t: Thresholds) -> list[Evidence]:
    found: list[Evidence] = []
    if summary.device:
        nearby = sorted(((sid, s) for sid, s in device_sessions.items()
                         if abs(s.first_ts - summary.first_ts) <= t.sharing_day_s), key=lambda item: item[1].first_ts)
        chain = _chain_containing(session_id, nearby, t.sharing_max_gap_s)
        accounts = {s.learner_id for _, s in chain}
        if len(accounts) >= t.sharing_min_accounts:
            day = datetime.fromtimestamp(summary.first_ts, tz=UTC).strftime("%Y-%m-%d")
            found.append(Evidence(Reason(
                "device_drives_accounts_in_turn",
                f"device {summary.device} worked through {len(accounts)} learners' accounts one after another around "
                f"{day} UTC ({len(chain)} sessions, each starting within {t.sharing_max_gap_s / 60:.0f} min of the "
                f"previous one's end); flagged from {t.sharing_min_accounts} accounts. A shared office computer "
                f"can look alike: confirm with the unit before acting",
                float(len(accounts)), float(t.sharing_min_accounts)), 0.85, True))
    if learner_course is not None and summary.effective_seconds >= 300:
        for other_id, other in learner_course.sessions.items():
            overlap = _overlap(summary.first_ts, summary.last_ts, other.first_ts, other.last_ts)
            if other_id != session_id and other.device != summary.device and other.effective_seconds >= 300 \
                    and overlap >= t.two_places_min_overlap_s:
                found.append(Evidence(Reason(
                    "two_places_at_once",
                    f"studied on device {summary.device} and on {other.device} at the same time for "
                    f"{overlap / 60:.0f} min (session {other_id}); flagged from "
                    f"{t.two_places_min_overlap_s / 60:.0f} min",
                    round(overlap, 1), t.two_places_min_overlap_s), 0.7, True))
                break
    return found


def _chain_containing(session_id: str, ordered: list[tuple[str, SessionSummary]], max_gap_s: float
                      ) -> list[tuple[str, SessionSummary]]:
    """The run of back-to-back sessions (of any accounts) that contains ``session_id``."""
    chains: list[list[tuple[str, SessionSummary]]] = []
    for item in ordered:
        if chains and 0 <= item[1].first_ts - chains[-1][-1][1].last_ts <= max_gap_s \
                and chains[-1][-1][1].learner_id != item[1].learner_id:
            chains[-1].append(item)
        else:
            chains.append([item])
    for chain in chains:
        if any(sid == session_id for sid, _ in chain):
            return chain
    return []


def schedule_evidence(learner_course: LearnerCourse, t: Thresholds) -> list[Evidence]:
    """The same start minute on many days: a scheduler, not a person (weak on its own)."""
    by_day: dict[int, float] = {}
    for summary in learner_course.sessions.values():
        day = int(summary.first_ts // 86400)
        by_day[day] = min(by_day.get(day, math.inf), summary.first_ts)
    if len(by_day) < t.same_start_min_days:
        return []
    minutes = [(ts % 86400) / 60 for ts in by_day.values()]
    mean = sum(minutes) / len(minutes)
    sd = math.sqrt(sum((m - mean) ** 2 for m in minutes) / (len(minutes) - 1))
    if sd >= t.same_start_sd_min:
        return []
    return [Evidence(Reason(
        "same_start_time_daily",
        f"started at {int(mean // 60):02d}:{int(mean % 60):02d} UTC ± {sd:.1f} min on {len(by_day)} days; "
        f"noted under {t.same_start_sd_min:.0f} min", round(sd, 2), t.same_start_sd_min), 0.35, False)]


def with_context(session_id: str, score: SessionScore, summary: SessionSummary,
                 learner_course: LearnerCourse | None, device_sessions: dict[str, SessionSummary],
                 course: CourseInfo, t: Thresholds) -> SessionScore:
    """The session's score with the learner x course and device detectors added and fused."""
    flags = list(score.flags)
    if learner_course is not None:
        flags += cramming_flags(session_id, summary, learner_course, course, t)
        schedule = schedule_evidence(learner_course, t)
        for index, flag in enumerate(flags):
            if flag.pattern == "scripted_playback" and schedule:
                keep = (1 - flag.confidence) * (1 - schedule[0].weight)
                flags[index] = msgspec.structs.replace(flag, confidence=round(min(0.99, 1 - keep), 3),
                                                       reasons=flag.reasons + [schedule[0].reason])
    sharing = sharing_evidence(session_id, summary, device_sessions, learner_course, t)
    flags += combine(session_id, "account_sharing", sharing, summary.first_ts, summary.last_ts,
                     suspect_media_seconds=score.effective_seconds)
    if len(flags) == len(score.flags) and flags == score.flags:
        return score
    risk = fuse(flags)
    effective = score.effective_seconds
    if any(f.pattern == "account_sharing" for f in flags):
        effective = 0.0
    return msgspec.structs.replace(score, flags=flags, risk=risk, level=level_of(risk), effective_seconds=effective)
