"""The learning-effect assessment of one learner in one course: participation, attitude,
mastery and overall, each 0–100 with explanations naming the evidence.

Pure: it takes the learner's sessions (state and complete score), the course, and the
course's Rasch fit, and returns the portrait entry. Only time that stands counts: a
session with a standing misconduct flag adds nothing to hours or coverage (a flag a
supervisor dismissed no longer counts).
"""

from __future__ import annotations

from typing import Any

import msgspec

from learnguard.detector.base import Flag
from learnguard.detector.context import cramming_of
from learnguard.detector.next_steps import creditable, plan
from learnguard.detector.records import LearnerCourse
from learnguard.detector.scoring import SessionScore
from learnguard.detector.thresholds import Thresholds
from learnguard.features.course import Course, CourseInfo
from learnguard.features.intervals import add_interval, total_length
from learnguard.features.session import SessionState
from learnguard.models.irt import RaschFit, percent

WEIGHTS = {"participation": 0.4, "attitude": 0.3, "mastery": 0.3}
FEW_ANSWERS = 6
COMPLETE_COVERAGE = 0.9
ACTIVE_DAYS_TARGET = 8


def _misconduct(score: SessionScore) -> bool:
    """A standing misconduct flag (one a supervisor dismissed no longer counts)."""
    return any(flag.misconduct and flag.stands for flag in score.flags)


def coverage_by_video(states: list[SessionState], durations: dict[str, float]) -> dict[str, float]:
    """Share of each video's duration watched across sessions, each second once."""
    merged: dict[str, list[list[float]]] = {}
    for state in states:
        for video_id, track in state.videos.items():
            spans = merged.setdefault(video_id, [])
            for low, high in track.watched:
                add_interval(spans, low, high)
            if video_id not in durations and track.duration:
                durations[video_id] = track.duration
    return {video: min(1.0, total_length(merged.get(video, [])) / duration) if duration else 0.0
            for video, duration in durations.items()}


def assess(learner_course: LearnerCourse, sessions: dict[str, tuple[SessionState, SessionScore]],
           course: Course | None, info: CourseInfo, fit: RaschFit | None, rules: Thresholds,
           as_of: float | None = None) -> dict[str, Any]:
    """The portrait entry for one course (contract §4), with its next steps as of ``as_of``
    (epoch seconds; the learner's last activity when None, so a replay gives the same answer)."""
    good = {sid: pair for sid, pair in sessions.items() if not _misconduct(pair[1])}
    effective_h = sum(score.effective_seconds for _, score in good.values()) / 3600
    claimed_h = sum(score.claimed_seconds for _, score in sessions.values()) / 3600
    required_h = course.required_hours if course and course.required_hours is not None else None
    durations = {video.video_id: video.duration for video in course.videos} if course else {}
    coverage = coverage_by_video([state for state, _ in good.values()], durations)
    total_duration = sum(durations.values())
    coverage_share = (sum(coverage[v] * durations[v] for v in durations) / total_duration) if total_duration else 0.0
    flags: list[Flag] = [flag for _, score in sessions.values() for flag in score.flags]
    explanations: list[Explained] = []
    participation = _participation(effective_h, claimed_h, required_h, coverage, coverage_share, good, explanations)
    attitude = _attitude(learner_course, sessions, info, rules, flags, explanations)
    mastery, mastery_detail = _mastery(learner_course.learner_id, fit, explanations)
    parts: dict[str, float | None] = {"participation": participation, "attitude": attitude, "mastery": mastery}
    present = {k: value for k, value in parts.items() if value is not None}
    weights = {k: v for k, v in WEIGHTS.items() if k in present}
    total_weight = sum(weights.values())
    overall = sum(present[k] * w for k, w in weights.items()) / total_weight
    explanations.append(Explained(
        "explain.overall", "overall = " + " + ".join(f"{w / total_weight:.0%} {k}" for k, w in weights.items())
        + ("" if mastery is not None else " (no quiz answers yet: mastery left out)"),
        {"form": "three" if mastery is not None else "two",
         **{k: w / total_weight for k, w in weights.items()}}))
    return {
        "course_id": learner_course.course_id,
        "effective_hours": round(effective_h, 2), "claimed_hours": round(claimed_h, 2),
        "required_hours": required_h,
        "progress": round(min(1.0, effective_h / required_h), 3) if required_h else None,
        "coverage": round(coverage_share, 3),
        "coverage_by_video": {v: round(c, 3) for v, c in sorted(coverage.items())},
        "assessment": {"participation": round(participation), "attitude": round(attitude),
                       "mastery": None if mastery is None else round(mastery), "overall": round(overall),
                       "weights": {k: round(w / total_weight, 3) for k, w in weights.items()},
                       "mastery_detail": mastery_detail,
                       "explanations": [e.message for e in explanations],
                       "explained": [{"code": e.code, "params": e.params} for e in explanations]},
        "flags": flags,
        "next_steps": _next_steps(learner_course, good, course, info, fit, coverage, effective_h, as_of),
    }


class Explained(msgspec.Struct):
    """One explanation: its English message, and its code and numbers for other languages."""

    code: str
    message: str
    params: dict[str, Any]


def _next_steps(learner_course: LearnerCourse, good: dict[str, tuple[SessionState, SessionScore]],
                course: Course | None, info: CourseInfo, fit: RaschFit | None, coverage: dict[str, float],
                effective_h: float, as_of: float | None) -> dict[str, Any]:
    latest: dict[str, tuple[float, bool]] = {}
    for summary in learner_course.sessions.values():
        for item, correct in summary.quiz.items():
            if item not in latest or summary.last_ts >= latest[item][0]:
                latest[item] = (summary.last_ts, correct)
    wrong = sorted(item for item, (_, correct) in latest.items() if not correct)
    ability = fit.abilities.get(learner_course.learner_id) if fit else None
    video_seconds = sum(video.duration for video in course.videos) if course else 0.0
    hours, _ = creditable(course.required_hours if course else None, video_seconds)
    started = min((s.first_ts for s in learner_course.sessions.values()), default=0.0)
    last = max((s.last_ts for s in learner_course.sessions.values()), default=0.0)
    return plan(wrong, info.checkpoints, coverage, ability, fit.difficulties if fit else {}, effective_h, hours,
                info.opens_at if info.opens_at is not None else started, info.deadline,
                as_of if as_of is not None else last)


def _participation(effective_h: float, claimed_h: float, required_h: float | None, coverage: dict[str, float],
                   coverage_share: float, good: dict[str, tuple[SessionState, SessionScore]],
                   explanations: list[Explained]) -> float:
    hours_ratio = min(1.0, effective_h / required_h) if required_h else min(1.0, coverage_share)
    completed = sum(1 for c in coverage.values() if c >= COMPLETE_COVERAGE)
    completion = completed / len(coverage) if coverage else 0.0
    days = {int(score.first_ts // 86400) for _, score in good.values() if score.effective_seconds >= 300}
    active = min(1.0, len(days) / ACTIVE_DAYS_TARGET)
    value = 100 * (0.45 * hours_ratio + 0.3 * coverage_share + 0.15 * completion + 0.1 * active)
    target = f"of the {required_h:g} h required" if required_h else "(no required hours described)"
    explanations.append(Explained(
        "explain.participation",
        f"participation {value:.0f}: {effective_h:.1f} h of study that stands {target} "
        f"(the platform counted {claimed_h:.1f} h); watched {coverage_share:.0%} of the course's "
        f"video time, {completed} of {len(coverage)} videos to ≥ {COMPLETE_COVERAGE:.0%}; studied on {len(days)} days",
        {"form": "required" if required_h else "open", "value": value, "hours": effective_h,
         "required": required_h or 0.0, "claimed": claimed_h, "coverage": coverage_share, "completed": completed,
         "videos": len(coverage), "complete_share": COMPLETE_COVERAGE, "days": len(days)}))
    return value


def _attitude(learner_course: LearnerCourse, sessions: dict[str, tuple[SessionState, SessionScore]],
              info: CourseInfo, rules: Thresholds, flags: list[Flag], explanations: list[Explained]) -> float:
    notes = []
    params: dict[str, Any] = {}
    if info.deadline is not None:
        cram = cramming_of(learner_course, info.deadline, info.opens_at, rules)
        regularity = 1.0 - cram.index if cram.total_hours else 0.5
        late = sum(s.effective_seconds for s in learner_course.sessions.values() if s.first_ts > info.deadline)
        punctuality = 1.0 - late / max(cram.total_hours * 3600, 1.0) if cram.total_hours else 0.5
        notes.append(f"cramming index {cram.index:.2f} ({cram.share_in_window:.0%} of study in the last "
                     f"{rules.cramming_window_hours:.0f} h before the deadline)")
        params.update(index=cram.index, share=cram.share_in_window, window_h=rules.cramming_window_hours,
                      late_h=late / 3600)
        if late:
            notes.append(f"{late / 3600:.1f} h studied after the deadline")
    else:
        regularity = punctuality = 0.5
        notes.append("no deadline described: regularity and punctuality not judged")
    prompted = sum(state.counts.get("check_prompt", 0) for state, _ in sessions.values())
    answered = sum(state.check_latency.n for state, _ in sessions.values())
    checks = answered / prompted if prompted else 0.8
    notes.append(f"answered {answered} of {prompted} presence checks" if prompted else "no presence checks shown")
    rewatch = sum(state.backward_seeks for state, _ in sessions.values())
    flooding = any(flag.pattern == "screen_flooding" and flag.stands for flag in flags)
    comments = 0 if flooding else sum(state.counts.get("comment", 0) for state, _ in sessions.values())
    interaction = min(1.0, (rewatch + comments) / 4)
    notes.append(f"{rewatch} seeks back to re-watch, {comments} genuine comments")
    misconduct = sorted({flag.pattern for flag in flags if flag.misconduct and flag.stands})
    integrity = 0.0 if misconduct else 1.0
    notes.append(f"integrity flags: {', '.join(misconduct)}" if misconduct else "no integrity flags")
    value = 100 * (0.3 * regularity + 0.15 * punctuality + 0.2 * checks + 0.15 * interaction + 0.2 * integrity)
    form = ("deadline" if info.deadline is not None else "open") + ("-flagged" if misconduct else "-clean")
    explanations.append(Explained("explain.attitude", f"attitude {value:.0f}: " + "; ".join(notes), {
        **params, "form": form, "value": value, "answered": answered, "prompted": prompted, "rewatch": rewatch,
        "comments": comments, "misconduct_patterns": ",".join(misconduct)}))
    return value


def _mastery(learner_id: str, fit: RaschFit | None, explanations: list[Explained]
             ) -> tuple[float | None, dict[str, Any]]:
    if fit is None or learner_id not in fit.abilities:
        explanations.append(Explained("explain.mastery", "mastery: no quiz answers yet", {"form": "none"}))
        return None, {}
    ability, se = fit.abilities[learner_id], fit.ability_se[learner_id]
    low, high = percent(ability - 1.96 * se), percent(ability + 1.96 * se)
    value = percent(ability)
    detail = {"ability_logit": round(ability, 3), "standard_error": round(se, 3),
              "interval_95": [round(low), round(high)], "items_in_course_model": len(fit.difficulties)}
    uncertain = "; few answers, so this is uncertain" if se > 0.8 else ""
    explanations.append(Explained(
        "explain.mastery",
        f"mastery {value:.0f} (95% interval {low:.0f}–{high:.0f}{uncertain}): quiz answers "
        f"weighed by item difficulty in a Rasch model fitted to the whole course "
        f"({len(fit.difficulties)} items, {fit.responses} answers; answers from flagged sessions count one fifth)",
        {"form": "uncertain" if uncertain else "sure", "value": value, "low": low, "high": high,
         "items": len(fit.difficulties), "answers": fit.responses}))
    return value, detail


def course_responses(learner_courses: list[LearnerCourse], flagged_weight: float = 0.2
                     ) -> list[tuple[str, str, float, float]]:
    """Every quiz answer of a course, down-weighted when its session had a misconduct flag."""
    out = []
    for learner_course in learner_courses:
        for summary in learner_course.sessions.values():
            weight = flagged_weight if summary.misconduct else 1.0
            for item, correct in summary.quiz.items():
                out.append((learner_course.learner_id, item, float(correct), weight))
    return out

