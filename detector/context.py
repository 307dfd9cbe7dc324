"""Detectors that look beyond one session: the learner's course and the device's accounts.

They run when a session is read (scoring, reports), on the learner x course summary the
worker keeps and on the device and linking indexes, so they see the learner's other
sessions and the other accounts a place saw, whichever worker processed them.

- ``last_minute_cramming``: a learning-quality signal, never misconduct on its own.
- linking (``detector/linking``): accounts taking turns at one place (``account_sharing``),
  one account playing in several sessions at once, replayed sessions, farms (review queue).
- schedules: the same start time every day adds weight to ``scripted_playback`` but
  never raises it alone.
"""

from __future__ import annotations

import math

import msgspec

from learnguard.detector.base import (
    LEARNER_LEVEL_PATTERNS,
    Evidence,
    Flag,
    Reason,
    combine,
    flag_id_for,
    learner_flag_id,
)
from learnguard.detector.linking import (
    MAX_LINKED,
    Linked,
    LinkSight,
    answering_evidence,
    farm_candidates,
    farm_flag,
    parallel_evidence,
    replay_candidates,
    replay_evidence,
    ring_candidates,
    ring_evidence,
)
from learnguard.detector.policy import fuse, level_of, standing_seconds
from learnguard.detector.records import LearnerCourse, SessionSummary
from learnguard.detector.scoring import SessionScore
from learnguard.detector.thresholds import Thresholds
from learnguard.detector.verification import chance_evidence
from learnguard.features.course import CourseInfo
from learnguard.features.session import ACTED_BUCKET_S

WEAK_CODES = frozenset({
    "muted_from_first_frame", "hidden_without_switching", "no_seek_no_pause", "unbroken_sitting",
    "heartbeat_cadence_regular", "same_start_time_daily", "client_clock_off"})
"""Reasons that never accuse alone (``Evidence.strong`` is false for them)."""


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
        round(result.share_in_window, 3), t.cramming_min_share,
        params={"share": result.share_in_window, "hours": result.total_hours, "window_h": t.cramming_window_hours,
                "window_hours": result.window_hours_studied, "min_share": t.cramming_min_share,
                "min_hours": t.cramming_min_hours, "index": result.index})
    return [Flag(flag_id=flag_id_for(session_id, "last_minute_cramming"), pattern="last_minute_cramming",
                 confidence=round(min(0.95, result.share_in_window), 3), reasons=[reason],
                 start=summary.first_ts, end=summary.last_ts, misconduct=False)]


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
        f"noted under {t.same_start_sd_min:.0f} min", round(sd, 2), t.same_start_sd_min,
        params={"start_utc_minute": mean, "sd": sd, "days": len(by_day), "max_sd": t.same_start_sd_min}), 0.35, False)]


def with_context(session_id: str, score: SessionScore, summary: SessionSummary,
                 learner_course: LearnerCourse | None, device_sessions: dict[str, SessionSummary],
                 course: CourseInfo, t: Thresholds, sight: LinkSight | None = None,
                 others: dict[str, LearnerCourse] | None = None) -> SessionScore:
    """The session's score with the learner x course, schedule and linking detectors added
    and fused. ``others`` holds the records of the accounts ``needed_accounts`` named."""
    flags = list(score.flags)
    voiding: set[str] = set()  # patterns whose flags take all the session's study time
    unwatched = False  # nobody watched, but nobody cheated: the time goes without a flag
    if learner_course is not None:
        flags += cramming_flags(session_id, summary, learner_course, course, t)
        schedule = schedule_evidence(learner_course, t)
        if schedule:
            flags = _merged(flags, session_id, "scripted_playback", schedule, summary, strengthen_only=True)
        flags, voided, unwatched = _verification_across(flags, session_id, summary, learner_course, t)
        voiding |= voided
    linked = linking_evidence(session_id, summary, learner_course, device_sessions, sight or LinkSight(),
                              others or {}, t)
    for pattern, evidence in linked.evidence.items():
        flags = _merged(flags, session_id, pattern, evidence, summary)
        voiding.add(pattern)
    flags += linked.review
    if len(flags) == len(score.flags) and flags == score.flags:
        return score
    flags = [_as_learner_level(flag, summary.learner_id, learner_course, voiding) for flag in flags]
    credited = 0.0 if unwatched else score.credited()
    return msgspec.structs.replace(score, flags=flags, risk=fuse(flags), level=level_of(fuse(flags)),
                                   effective_seconds=standing_seconds(credited, flags), credited_seconds=credited)


def _as_learner_level(flag: Flag, learner_id: str, learner_course: LearnerCourse | None, voiding: set[str]) -> Flag:
    """The flag marked when it voids the session's time, and with its learner x course id
    when its pattern is judged over the whole course (one ruling for every session)."""
    changes: dict[str, object] = {}
    if flag.pattern in voiding:
        changes["voids_time"] = True
    if flag.pattern in LEARNER_LEVEL_PATTERNS and learner_course is not None:
        changes["flag_id"] = learner_flag_id(learner_id, learner_course.course_id, flag.pattern)
    return msgspec.structs.replace(flag, **changes) if changes else flag


def _verification_across(flags: list[Flag], session_id: str, summary: SessionSummary,
                         learner_course: LearnerCourse, t: Thresholds) -> tuple[list[Flag], set[str], bool]:
    """Challenge evidence over the learner's sessions of the course (a bot guesses, or is not
    there, in every sitting), and misses explained by the learner acting in another session.
    Returns the flags, the patterns whose flags void the session's time, and whether the
    time goes without a flag (nobody watched here)."""
    voided: set[str] = set()
    reasons = {r.code for f in flags for r in f.reasons}
    sessions = list(learner_course.sessions.values())
    if summary.link.graded and "checkpoints_at_chance" not in reasons:
        across = chance_evidence(sum(s.link.graded for s in sessions), sum(s.link.right for s in sessions),
                                 sum(s.link.chance for s in sessions), t,
                                 f"checkpoint questions over this learner's {len(sessions)} sessions")
        if across:
            flags = _merged(flags, session_id, "scripted_playback", across, summary)
            voided.add("scripted_playback")
    if summary.link.missed_playing and "challenges_missed_while_playing" not in reasons:
        across = missed_across(learner_course, t)
        if across:
            flags = _merged(flags, session_id, "scripted_playback", across, summary)
            voided.add("scripted_playback")
    flags, elsewhere = _misses_explained(flags, session_id, summary, learner_course)
    return flags, voided, elsewhere


def missed_across(learner_course: LearnerCourse, t: Thresholds) -> list[Evidence]:
    """Challenges missed while playing, over the learner's sessions of the course: a bot that
    nobody watches misses in every sitting, a person stepping away now and then does not
    miss half of them."""
    sessions = list(learner_course.sessions.values())
    missed = sum(s.link.missed_playing for s in sessions)
    resolved = sum(s.link.resolved for s in sessions)
    if missed < t.challenge_min_missed + 1 or missed * 2 < resolved:
        return []
    return [Evidence(Reason(
        "challenges_missed_while_playing",
        f"{missed} of {resolved} challenges over this learner's {len(sessions)} sessions went unanswered while "
        f"playback went on; people step away now and then: flagged from {t.challenge_min_missed + 1} and half "
        "of the challenges", float(missed), float(t.challenge_min_missed + 1), basis="observed",
        params={"form": "learner", "missed": missed, "resolved": resolved, "sessions": len(sessions),
                "min": t.challenge_min_missed + 1}), 0.6, True)]


def _misses_explained(flags: list[Flag], session_id: str, summary: SessionSummary,
                      learner_course: LearnerCourse) -> tuple[list[Flag], bool]:
    """A scripted-playback flag resting only on missed challenges is dropped when the learner
    was acting in another session meanwhile (a tab left playing while they went on on the
    phone): nobody watched here, so the time does not stand, but nobody cheated either."""
    strong = {"challenges_missed_while_playing"}
    kept: list[Flag] = []
    explained = False
    for flag in flags:
        codes = {r.code for r in flag.reasons} - WEAK_CODES
        if flag.pattern == "scripted_playback" and codes and codes <= strong and _acting_elsewhere(
                session_id, summary, learner_course):
            explained = True
            continue
        kept.append(flag)
    return kept, explained


def _acting_elsewhere(session_id: str, summary: SessionSummary, learner_course: LearnerCourse) -> bool:
    for other_id, other in learner_course.sessions.items():
        if other_id == session_id or other.last_ts <= summary.first_ts or other.first_ts >= summary.last_ts:
            continue
        if any(summary.first_ts <= bucket * ACTED_BUCKET_S <= summary.last_ts for bucket in other.link.acted) or any(
                summary.first_ts <= at <= summary.last_ts for at in other.link.answers):
            return True
    return False


def _merged(flags: list[Flag], session_id: str, pattern: str, evidence: list[Evidence], summary: SessionSummary,
            strengthen_only: bool = False) -> list[Flag]:
    """``evidence`` folded into the session's flag of ``pattern`` (noisy-OR), or a new flag
    when there is none and some of it is strong (``strengthen_only``: never a new flag)."""
    for index, flag in enumerate(flags):
        if flag.pattern == pattern:
            keep = 1 - flag.confidence
            for item in evidence:
                keep *= 1 - item.weight
            flags = list(flags)
            flags[index] = msgspec.structs.replace(flag, confidence=round(min(0.99, 1 - keep), 3),
                                                   reasons=flag.reasons + [item.reason for item in evidence])
            return flags
    if strengthen_only:
        return flags
    return flags + combine(session_id, pattern, evidence, summary.first_ts, summary.last_ts)


def needed_accounts(session_id: str, summary: SessionSummary, device_sessions: dict[str, SessionSummary],
                    sight: LinkSight, t: Thresholds) -> list[str]:
    """Other accounts whose records the linking detectors need (loaded in one round trip)."""
    wanted = ring_candidates(session_id, summary, device_sessions, sight, t) \
        | replay_candidates(session_id, summary, sight, t) | farm_candidates(summary, sight, t)
    wanted.discard(summary.learner_id)
    return sorted(wanted)[:MAX_LINKED]


def linking_evidence(session_id: str, summary: SessionSummary, learner_course: LearnerCourse | None,
                     device_sessions: dict[str, SessionSummary], sight: LinkSight,
                     others: dict[str, LearnerCourse], t: Thresholds) -> Linked:
    """Evidence by pattern from the links between this session and other sessions/accounts."""
    out = Linked()
    records = dict(others)
    if summary.claimed_seconds <= 0 and summary.effective_seconds <= 0:
        return out  # a session that claims no study time is no one's study time to doubt
    if learner_course is not None:
        records[summary.learner_id] = learner_course
        ring = ring_evidence(summary, ring_candidates(session_id, summary, device_sessions, sight, t), records, t)
        if ring:
            out.evidence.setdefault("account_sharing", []).extend(ring)
    pattern, parallel = parallel_evidence(session_id, summary, learner_course, t, ACTED_BUCKET_S)
    if parallel:
        out.evidence.setdefault(pattern, []).extend(parallel)
    answering = answering_evidence(summary, sight, t)
    if answering:
        out.evidence.setdefault("account_sharing", []).extend(answering)
    replay = replay_evidence(summary, sight, records, t)
    if replay:
        out.evidence.setdefault("scripted_playback", []).extend(replay)
    out.review = farm_flag(session_id, summary, learner_course, farm_candidates(summary, sight, t), records, t)
    return out
