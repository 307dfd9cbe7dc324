"""The pipeline without Redis: the same pure code over a list of events in memory.

For notebooks, tests and quick what-ifs on a replayed file. Sessions are folded one by
one in order of their first event; the cohort baseline learns from ended, unflagged
sessions as the worker's does; the context detectors see every session at the end.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec

from detector.base import CourseInfo
from detector.cohort import CohortBaseline
from detector.context import CrammingRules, with_context
from detector.scoring import SessionScore, default_detectors, evaluate_session
from detector.store import LearnerCourse, SessionSummary
from features.compact import compact
from features.course import Course
from features.events import Event
from features.session import PlaybackRules, SessionState, add_events, finalized
from models.assessment import assess, course_responses
from models.irt import RaschFit, fit_rasch


class OfflineRun(msgspec.Struct):
    """Everything an offline run computed: complete scores, final states, learner x course records."""

    scores: dict[str, SessionScore]
    states: dict[str, SessionState]
    learner_courses: dict[tuple[str, str], LearnerCourse]


def score_offline(raw_events: list[dict[str, Any]], course: CourseInfo, reorder_window_s: float = 90.0,
                  cramming: CrammingRules | None = None) -> dict[str, SessionScore]:
    """Score every session of ``raw_events`` (contract-v1 dicts); duplicates count once."""
    return run_offline(raw_events, course, reorder_window_s, cramming).scores


def run_offline(raw_events: list[dict[str, Any]], course: CourseInfo, reorder_window_s: float = 90.0,
                cramming: CrammingRules | None = None) -> OfflineRun:
    """The whole pipeline in memory; see ``score_offline``."""
    events = msgspec.convert(raw_events, list[Event])
    by_session: dict[str, list[Event]] = defaultdict(list)
    seen: set[str] = set()
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            by_session[event.session_id].append(event)
    rules = PlaybackRules(max_rate=course.max_rate, reorder_window_s=reorder_window_s)
    cohort = CohortBaseline()
    scores: dict[str, SessionScore] = {}
    states: dict[str, SessionState] = {}
    learner_courses: dict[tuple[str, str], LearnerCourse] = {}
    devices: dict[str, dict[str, SessionSummary]] = defaultdict(dict)
    detectors = default_detectors()
    order = sorted(by_session, key=lambda sid: min(e.ts.timestamp() if hasattr(e.ts, "timestamp")
                                                    else e.ts / 1000 for e in by_session[sid]))
    for session_id in order:
        first = by_session[session_id][0]
        state = SessionState(session_id, first.learner_id, first.org_id, first.course_id)
        add_events(state, [compact(e) for e in by_session[session_id]], rules)
        score, features = evaluate_session(state, course, detectors, reorder_window_s, cohort.view())
        score.online = cohort.score_one(features)
        misconduct = any(flag.misconduct for flag in score.flags)
        if score.ended and not misconduct:
            cohort.learn_one(features)
        summary = SessionSummary(state.learner_id, score.first_ts, score.last_ts, score.effective_seconds,
                                 score.claimed_seconds, state.devices[0] if state.devices else None,
                                 state.ips[0] if state.ips else None, misconduct, score.quiz,
                                 sorted({f.pattern for f in score.flags}), score.risk)
        pair = (state.learner_id, state.course_id)
        learner_courses.setdefault(pair, LearnerCourse(state.learner_id, state.course_id, state.org_id)) \
            .sessions[session_id] = summary
        if summary.device:
            devices[summary.device][session_id] = summary
        scores[session_id] = score
        states[session_id] = finalized(state, rules)
    rules_cramming = cramming or CrammingRules()
    for session_id, score in scores.items():
        state = states[session_id]
        learner_course = learner_courses[(state.learner_id, state.course_id)]
        summary = learner_course.sessions[session_id]
        scores[session_id] = with_context(session_id, score, summary, learner_course,
                                          devices.get(summary.device or "", {}), course, rules_cramming)
    return OfflineRun(scores=scores, states=states, learner_courses=learner_courses)


def portraits_offline(run: OfflineRun, course: Course | None, info: CourseInfo,
                      cramming: CrammingRules | None = None) -> dict[str, dict[str, Any]]:
    """The learning-effect assessment of every learner of an offline run, by learner id."""
    fits: dict[str, RaschFit] = {}
    by_course: dict[str, list[LearnerCourse]] = defaultdict(list)
    for (_, course_id), learner_course in run.learner_courses.items():
        by_course[course_id].append(learner_course)
    for course_id, learner_courses in by_course.items():
        fits[course_id] = fit_rasch(course_responses(learner_courses))
    out = {}
    for (learner_id, course_id), learner_course in run.learner_courses.items():
        sessions = {sid: (run.states[sid], run.scores[sid]) for sid in learner_course.sessions}
        out[learner_id] = assess(learner_course, sessions, course, info, fits[course_id],
                                 cramming or CrammingRules())
    return out
