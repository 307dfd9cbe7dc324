"""The read side: a session's complete score, the course's Rasch fit and a learner's
portrait, composed from what the worker stored (one round trip for the context) and the
active model, with the supervisors' rulings laid over the flags.

This is the one path every reader takes (score, timeline, flag detail, reports,
portraits, exports), so they all show the same flags with the same statuses.
"""

from __future__ import annotations

from typing import cast

import msgspec

from learnguard.detector.assessment import assess, course_responses
from learnguard.detector.compose import (
    evidence_missing,
    in_context,
    model_evidence,
    session_summary,
    with_models,
    with_statuses,
)
from learnguard.detector.context import needed_accounts
from learnguard.detector.linking import probe_of
from learnguard.detector.policy import Rules
from learnguard.detector.records import FlagRef, Review, SessionRecord, summary_of
from learnguard.detector.scoring import ModelEvidence, SessionScore
from learnguard.features.session import finalized
from learnguard.models.irt import RaschFit, fit_rasch
from learnguard.service.courses import decode_course
from learnguard.service.keys import shard_of
from learnguard.service.store import Store

RASCH_TTL_S = 300


def complete_score(store: Store, record: SessionRecord, rules: Rules) -> SessionScore:
    """The stored score with cramming, account sharing, schedules and model evidence added."""
    return complete_scores(store, [record], rules)[0]


def complete_scores(store: Store, records: list[SessionRecord], rules: Rules) -> list[SessionScore]:
    """``complete_score`` of several sessions: the context read per session, the active
    model asked once for all of them (a model call costs milliseconds, whatever its rows)."""
    results: list[SessionScore] = []
    courses = []
    model, envelope = store.registry.active()  # pointer re-read at most every 2 s: no round trip per score
    known: dict[int, ModelEvidence] = {}  # what the active model said before, read with the context
    for i, record in enumerate(records):
        state, score = record.state, record.score
        assert score is not None
        probe = probe_of(summary_of(state, score), rules.thresholds)
        stale = envelope is not None and bool(evidence_missing([score], envelope.version))
        learner_course, device_sessions, raw_course, sight, cached = store.sessions.context_of(
            state.learner_id, state.course_id, state.devices[:2], probe,
            (envelope.version, state.session_id) if envelope is not None and stale else None)
        if cached is not None:
            known[i] = cached
        summary = session_summary(state, score, learner_course)
        wanted = needed_accounts(state.session_id, summary, device_sessions, sight, rules.thresholds)
        others = store.sessions.learner_courses_of(wanted, state.course_id)  # a second trip only when linked
        course = rules.course(decode_course(raw_course))
        courses.append(course)
        results.append(in_context(state, score, learner_course, device_sessions, course, rules, sight, others))
    if model is None or envelope is None or not records:
        return results
    states = [record.state for record in records]
    evidence = [score.model_evidence for score in results]
    # scored before the promotion: cached by an earlier read (read with the context above), or asked once and cached
    for i in evidence_missing(results, envelope.version):
        evidence[i] = known.get(i)
    unknown = [i for i, found in enumerate(evidence) if found is None or found.version != envelope.version]
    if unknown:
        asked = model_evidence([states[i] for i in unknown], [courses[i] for i in unknown], rules, model,
                               envelope.version)
        for i, found in zip(unknown, asked, strict=True):
            evidence[i] = found
        store.sessions.cache_evidence(envelope.version, {
            (shard_of(states[i].learner_id, store.shards), states[i].session_id): found
            for i, found in zip(unknown, asked, strict=True)})
    return with_models(states, results, cast(list[ModelEvidence], evidence), envelope)


def reviewed_score(store: Store, record: SessionRecord, rules: Rules
                   ) -> tuple[SessionScore, dict[str, list[Review]]]:
    """The complete score with each flag's latest ruling as its status (and counted: a
    dismissed flag no longer adds risk or takes study time), and the histories.

    Every flag shown is registered by id, so a supervisor can review it.
    """
    return reviewed_scores(store, [record], rules)[record.state.session_id]


def reviewed_scores(store: Store, records: list[SessionRecord], rules: Rules
                    ) -> dict[str, tuple[SessionScore, dict[str, list[Review]]]]:
    """``reviewed_score`` of several sessions, registering and reading rulings in one trip each."""
    scores = {record.state.session_id: (record.state, score)
              for record, score in zip(records, complete_scores(store, records, rules), strict=True)}
    refs = {flag.flag_id: FlagRef(state.session_id, state.learner_id, state.course_id, state.org_id, flag.pattern)
            for state, score in scores.values() for flag in score.flags}
    if not refs:
        return {sid: (score, {}) for sid, (_, score) in scores.items()}
    reviews = store.flags.register(refs)
    out: dict[str, tuple[SessionScore, dict[str, list[Review]]]] = {}
    for sid, (_, score) in scores.items():
        mine = {flag.flag_id: reviews[flag.flag_id] for flag in score.flags if flag.flag_id in reviews}
        out[sid] = with_statuses(score, {fid: history[-1].decision for fid, history in mine.items()}), mine
    return out


def course_fit(store: Store, course_id: str) -> RaschFit | None:
    """The course's Rasch fit, refitted at most every ``RASCH_TTL_S`` seconds."""
    cached = store.sessions.cached_fit(course_id)
    if cached:
        return msgspec.json.decode(cached, type=RaschFit)
    responses = course_responses(store.sessions.roster_learner_courses(course_id))
    if not responses:
        return None
    fit = fit_rasch(responses)
    store.sessions.cache_fit(course_id, msgspec.json.encode(fit), RASCH_TTL_S)
    return fit


def learner_portrait(store: Store, learner_id: str, course_id: str | None, rules: Rules,
                     as_of: float | None = None) -> tuple[str, list[dict]] | None:
    """(org_id, one assessment per course) for a learner, or None if LearnGuard never saw them."""
    courses = [course_id] if course_id else store.sessions.courses_of(learner_id)
    shard = shard_of(learner_id, store.shards)
    entries: list[dict] = []
    org_id = ""
    for cid in courses:
        learner_course = store.sessions.load_learner_course(learner_id, cid)
        if learner_course is None:
            continue
        org_id = learner_course.org_id
        records = store.sessions.load_records(shard, sorted(learner_course.sessions))
        course = store.courses.get(cid)
        info = rules.course(course)
        scored = [record for record in records.values() if record.score is not None]
        reviewed = reviewed_scores(store, scored, rules)
        sessions = {record.state.session_id: (finalized(record.state, rules.playback(info)),
                                              reviewed[record.state.session_id][0]) for record in scored}
        entries.append(assess(learner_course, sessions, course, info, course_fit(store, cid), rules.thresholds,
                              as_of))
    return (org_id, entries) if entries else None
