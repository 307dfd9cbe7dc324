"""The worker's kept-up-to-date finalized copies give exactly the scores a full re-fold gives,
whatever order events arrive in (late ones included) and however entries are cut."""

from __future__ import annotations

import random

import msgspec

from learnguard.detector.pipeline import BatchEffects, SessionPipeline
from learnguard.detector.policy import rules_from
from learnguard.features.events import Event
from learnguard.models.cohort import CohortBaseline
from learnguard.service.courses import decode_course
from learnguard.settings import Settings
from learnguard.simulator.cohort import simulate_cohort

_decode = msgspec.json.Decoder(list[Event]).decode


def scores_after_entries(entries: list[list[Event]], course_json: dict, keep_snapshots: bool) -> list[dict]:
    rules = rules_from(Settings())
    cohort = CohortBaseline()
    course = rules.course(decode_course(msgspec.json.encode(course_json)))
    effects = BatchEffects(records={})
    finals: dict = {}
    seen = []
    for number, entry in enumerate(entries):
        pipeline = SessionPipeline(rules, lambda _: course, lambda _: cohort,
                                   finals=finals if keep_snapshots else {})
        pipeline.apply(effects, entry)
        if number % 10 == 9:  # every tenth entry, every score so far
            seen.append({sid: msgspec.to_builtins(record.score) for sid, record in effects.records.items()})
    seen.append({sid: msgspec.to_builtins(record.score) for sid, record in effects.records.items()})
    return seen


def test_snapshots_score_exactly_as_a_full_refold() -> None:
    cohort = simulate_cohort(learners=10, seed=23, observed=True)
    events = list(cohort.events)
    rng = random.Random(5)
    for _ in range(len(events) // 20):  # some events arrive late, some early
        i = rng.randrange(len(events) - 40)
        j = i + rng.randrange(1, 40)
        events[i], events[j] = events[j], events[i]
    decoded = _decode(msgspec.json.encode(events))
    cuts, entries, start = [1, 3, 50, 200, 700], [], 0
    while start < len(decoded):  # entries of varied sizes, as platforms' batches are
        size = rng.choice(cuts)
        entries.append(decoded[start:start + size])
        start += size
    fast = scores_after_entries(entries, cohort.course, True)
    full = scores_after_entries(entries, cohort.course, False)
    assert len(fast[-1]) == len(cohort.truth.sessions)
    assert fast == full
