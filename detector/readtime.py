"""Answers composed when read: a session's complete score (worker score + context
detectors), the course's Rasch fit, and a learner's portrait."""

from __future__ import annotations

import msgspec

from detector.base import Flag, Reason, flag_id_for
from detector.context import CrammingRules, with_context
from detector.scoring import SessionScore, fuse, level_of
from detector.store import SessionRecord, SessionSummary, Store, shard_of
from features.course import course_info
from features.session import PlaybackRules, SessionState, finalized
from features.vector import session_features
from learnguard.settings import Settings
from models.assessment import assess, course_responses
from models.batch import matrix
from models.irt import RaschFit, fit_rasch
from models.registry import Registry


def cramming_rules(settings: Settings) -> CrammingRules:
    return CrammingRules(window_hours=settings.cramming_window_hours, min_share=settings.cramming_min_share,
                         min_hours=settings.cramming_min_hours)


def registry_of(store: Store) -> Registry:
    """One registry (and so one cached active model) per store object."""
    registry = getattr(store, "_registry", None)
    if registry is None:
        registry = Registry(store.client, store.keys)
        store._registry = registry  # type: ignore[attr-defined]
    return registry


def model_flag(state: SessionState, score: SessionScore, registry: Registry) -> tuple[list[Flag], dict | None]:
    """The active model's view of a session: a flag when it finds it unusual, and a trace."""
    model, envelope = registry.active()
    if model is None or envelope is None:
        return [], None
    X = matrix([session_features(state)])
    confidence = float(model.predict_proba(X)[0])
    percentile = float(model.percentile(X)[0])
    trace = {"version": envelope.version, "kind": envelope.kind, "percentile": round(percentile, 4),
             "confidence": round(confidence, 4)}
    if confidence <= 0:
        return [], trace
    learned = envelope.kind == "semi"
    what = ("learned from supervisors' rulings" if learned
            else "unsupervised: points an analyst at the session, accuses no one")
    reason = Reason("model_unusual_session",
                    f"model {envelope.version} ({envelope.kind}, {what}) finds this session more unusual than "
                    f"{percentile:.1%} of the {envelope.training.get('sessions', '?')} sessions it was trained on; "
                    f"confidence {confidence:.2f}", round(percentile, 4), 0.99)
    return [Flag(flag_id=flag_id_for(state.session_id, "anomalous_session"), pattern="anomalous_session",
                 confidence=round(confidence, 3), reasons=[reason], start=score.first_ts, end=score.last_ts,
                 misconduct=learned)], trace


def complete_score(store: Store, record: SessionRecord, settings: Settings) -> SessionScore:
    """Add cramming, account sharing, schedule and model evidence to the stored session score."""
    state, score = record.state, record.score
    assert score is not None
    learner_course, device_sessions, course = store.context_of(state.learner_id, state.course_id,
                                                               state.devices[:2])
    summary = (learner_course.sessions.get(state.session_id) if learner_course else None) or SessionSummary(
        learner_id=state.learner_id, first_ts=score.first_ts, last_ts=score.last_ts,
        effective_seconds=score.effective_seconds, claimed_seconds=score.claimed_seconds,
        device=state.devices[0] if state.devices else None, ip=state.ips[0] if state.ips else None,
        misconduct=False)
    info = course_info(course, settings.default_max_rate)
    result = with_context(state.session_id, score, summary, learner_course, device_sessions, info,
                          cramming_rules(settings))
    registry = registry_of(store)
    if registry.active()[0] is None:  # pointer re-read at most every 2 s: no round trip per score
        return result
    done = finalized(state, PlaybackRules(max_rate=info.max_rate, reorder_window_s=settings.reorder_window_s))
    flags, trace = model_flag(done, result, registry)
    if trace is None:
        return result
    merged = result.flags + flags
    risk = fuse(merged)
    return msgspec.structs.replace(result, flags=merged, risk=risk, level=level_of(risk),
                                   model_version=f"{result.model_version}+{trace['version']}", model=trace)


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
