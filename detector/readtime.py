"""A session's complete score as read: the worker's score plus the context detectors."""

from __future__ import annotations

from detector.context import CrammingRules, with_context
from detector.scoring import SessionScore
from detector.store import SessionRecord, SessionSummary, Store
from features.course import course_info
from learnguard.settings import Settings


def cramming_rules(settings: Settings) -> CrammingRules:
    return CrammingRules(window_hours=settings.cramming_window_hours, min_share=settings.cramming_min_share,
                         min_hours=settings.cramming_min_hours)


def complete_score(store: Store, record: SessionRecord, settings: Settings) -> SessionScore:
    """Add cramming, account sharing and schedule evidence to the stored session score."""
    state, score = record.state, record.score
    assert score is not None
    learner_course, device_sessions, course = store.context_of(state.learner_id, state.course_id,
                                                               state.devices[:2])
    summary = (learner_course.sessions.get(state.session_id) if learner_course else None) or SessionSummary(
        learner_id=state.learner_id, first_ts=score.first_ts, last_ts=score.last_ts,
        effective_seconds=score.effective_seconds, claimed_seconds=score.claimed_seconds,
        device=state.devices[0] if state.devices else None, ip=state.ips[0] if state.ips else None,
        misconduct=False)
    return with_context(state.session_id, score, summary, learner_course, device_sessions,
                        course_info(course, settings.default_max_rate), cramming_rules(settings))
