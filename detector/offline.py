"""The pipeline without Redis: the same pure code over a list of events in memory.

For notebooks, tests and quick what-ifs on a replayed file. Sessions go through the
one ``SessionPipeline`` one by one, in order of their first event (the cohort baseline
learns from ended, unflagged sessions as the worker's does); the context detectors see
every session at the end, with the linking index kept in memory.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec

from learnguard.detector.assessment import assess, course_responses
from learnguard.detector.context import needed_accounts, with_context
from learnguard.detector.linking import MemoryIndex, probe_of
from learnguard.detector.pipeline import BatchEffects, SessionPipeline
from learnguard.detector.policy import Rules
from learnguard.detector.records import LearnerCourse, SessionSummary
from learnguard.detector.scoring import SessionScore
from learnguard.features.course import Course, CourseInfo
from learnguard.features.events import Event, epoch_seconds
from learnguard.features.session import SessionState, finalized
from learnguard.models.cohort import CohortBaseline
from learnguard.models.irt import RaschFit, fit_rasch


class OfflineRun(msgspec.Struct):
    """Everything an offline run computed: complete scores, final states, learner x course records."""

    scores: dict[str, SessionScore]
    states: dict[str, SessionState]
    learner_courses: dict[tuple[str, str], LearnerCourse]


def score_offline(raw_events: list[dict[str, Any]], course: CourseInfo, rules: Rules | None = None
                  ) -> dict[str, SessionScore]:
    """Score every session of ``raw_events`` (contract-v1 dicts); duplicates count once."""
    return run_offline(raw_events, course, rules).scores


def run_offline(raw_events: list[dict[str, Any]], course: CourseInfo, rules: Rules | None = None) -> OfflineRun:
    """The whole pipeline in memory; see ``score_offline``."""
    rules = rules or Rules()
    events = msgspec.convert(raw_events, list[Event])
    by_session: dict[str, list[Event]] = defaultdict(list)
    seen: set[str] = set()
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            by_session[event.session_id].append(event)
    cohort = CohortBaseline()
    pipeline = SessionPipeline(rules, lambda _: course, lambda _: cohort)
    effects = BatchEffects(records={})
    for session_id in sorted(by_session, key=lambda sid: min(epoch_seconds(e.ts) for e in by_session[sid])):
        pipeline.apply(effects, by_session[session_id])
    devices: dict[str, dict[str, SessionSummary]] = defaultdict(dict)
    for session_id, summary in effects.summaries.items():
        if summary.device:
            devices[summary.device][session_id] = summary
    index = MemoryIndex()
    for session_id, record in effects.records.items():
        index.add(session_id, record.state.course_id, effects.summaries[session_id])
    scores: dict[str, SessionScore] = {}
    states: dict[str, SessionState] = {}
    t = rules.thresholds
    for session_id, record in effects.records.items():
        state, score = record.state, record.score
        assert score is not None
        learner_course = effects.learner_courses[(state.learner_id, state.course_id)]
        summary = learner_course.sessions[session_id]
        device_sessions = devices.get(summary.device or "", {})
        sight = index.sight(probe_of(summary, t), state.course_id)
        others = {lid: effects.learner_courses[(lid, state.course_id)]
                  for lid in needed_accounts(session_id, summary, device_sessions, sight, t)
                  if (lid, state.course_id) in effects.learner_courses}
        scores[session_id] = with_context(session_id, score, summary, learner_course, device_sessions, course, t,
                                          sight, others)
        states[session_id] = finalized(state, rules.playback(course))
    return OfflineRun(scores=scores, states=states, learner_courses=effects.learner_courses)


def portraits_offline(run: OfflineRun, course: Course | None, info: CourseInfo,
                      rules: Rules | None = None) -> dict[str, dict[str, Any]]:
    """The learning-effect assessment of every learner of an offline run, by learner id."""
    rules = rules or Rules()
    fits: dict[str, RaschFit] = {}
    by_course: dict[str, list[LearnerCourse]] = defaultdict(list)
    for (_, course_id), learner_course in run.learner_courses.items():
        by_course[course_id].append(learner_course)
    for course_id, learner_courses in by_course.items():
        fits[course_id] = fit_rasch(course_responses(learner_courses))
    out = {}
    for (learner_id, course_id), learner_course in run.learner_courses.items():
        sessions = {sid: (run.states[sid], run.scores[sid]) for sid in learner_course.sessions}
        out[learner_id] = assess(learner_course, sessions, course, info, fits[course_id], rules.thresholds)
    return out
