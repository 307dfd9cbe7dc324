"""Answers composed when read: a session's complete score (worker score + context
detectors), the course's Rasch fit, and a learner's portrait."""

from __future__ import annotations

import msgspec

from detector.context import CrammingRules, with_context
from detector.scoring import SessionScore
from detector.store import SessionRecord, SessionSummary, Store, shard_of
from features.course import course_info
from features.session import PlaybackRules, finalized
from learnguard.settings import Settings
from models.assessment import assess, course_responses
from models.irt import RaschFit, fit_rasch


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


RASCH_TTL_S = 300


def course_fit(store: Store, course_id: str) -> RaschFit | None:
    """The course's Rasch fit, refitted at most every ``RASCH_TTL_S`` seconds."""
    cached = store.cached_blob(store.keys.rasch(course_id))
    if cached:
        return msgspec.json.decode(cached, type=RaschFit)
    responses = course_responses(store.roster_learner_courses(course_id))
    if not responses:
        return None
    fit = fit_rasch(responses)
    store.cache_blob(store.keys.rasch(course_id), msgspec.json.encode(fit), RASCH_TTL_S)
    return fit


def learner_portrait(store: Store, learner_id: str, course_id: str | None, settings: Settings
                     ) -> tuple[str, list[dict]] | None:
    """(org_id, one assessment per course) for a learner, or None if LearnGuard never saw them."""
    courses = [course_id] if course_id else store.courses_of(learner_id)
    shard = shard_of(learner_id, store.shards)
    entries: list[dict] = []
    org_id = ""
    for cid in courses:
        learner_course = store.load_learner_course(learner_id, cid)
        if learner_course is None:
            continue
        org_id = learner_course.org_id
        records = store.load_records(shard, sorted(learner_course.sessions))
        course = store.get_course(cid)
        info = course_info(course, settings.default_max_rate)
        rules = PlaybackRules(max_rate=info.max_rate, reorder_window_s=settings.reorder_window_s)
        sessions = {sid: (finalized(record.state, rules), complete_score(store, record, settings))
                    for sid, record in records.items() if record.score is not None}
        entries.append(assess(learner_course, sessions, course, info, course_fit(store, cid),
                              cramming_rules(settings)))
    return (org_id, entries) if entries else None
