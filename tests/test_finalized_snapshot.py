"""The worker's kept-up-to-date finalized copies give exactly the scores a full re-fold gives,
whatever order events arrive in (late ones included) and however entries are cut."""

from __future__ import annotations

import random

import msgspec

from learnguard.detector.pipeline import BatchEffects, SessionPipeline, touched_later
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


def _after_batches(entries: list[list[Event]], course_json: dict, batches: list[int] | None) -> tuple:
    """Records, learner x course summaries and the cohort after applying ``entries`` cut into
    batches of the given sizes, deferring scores within a batch (None: every entry scored)."""
    rules = rules_from(Settings())
    cohort = CohortBaseline()
    course = rules.course(decode_course(msgspec.json.encode(course_json)))
    effects = BatchEffects(records={})
    pipeline = SessionPipeline(rules, lambda _: course, lambda _: cohort, finals={})
    start = 0
    for size in batches or [1] * len(entries):
        batch = entries[start:start + size]
        later = touched_later(list(batch)) if batches else [set()] * len(batch)
        for events, defer in zip(batch, later, strict=True):
            pipeline.apply(effects, events, defer)
        start += size
    return ({sid: msgspec.to_builtins(r) for sid, r in effects.records.items()},
            {pair: msgspec.to_builtins(lc) for pair, lc in effects.learner_courses.items()},
            cohort.dumps())


def test_a_backlog_scored_once_per_batch_stores_what_scoring_every_entry_stores() -> None:
    """A worker behind its stream scores each session at its last entry in the batch (and
    where it ends, for the cohort) instead of at every entry: the same records, summaries and
    cohort, whatever the batch boundaries — so a restart mid-backlog changes nothing either."""
    cohort = simulate_cohort(learners=30, seed=31, observed=True)
    rng = random.Random(9)
    events = sorted(cohort.events, key=lambda e: e["received_at"])
    for _ in range(len(events) // 20):  # some events arrive late (after their session's end), some early
        i = rng.randrange(len(events) - 400)
        j = i + rng.randrange(1, 400)
        events[i], events[j] = events[j], events[i]
    decoded = _decode(msgspec.json.encode(events))
    entries, start = [], 0
    while start < len(decoded):
        size = rng.choice([20, 120, 400])
        entries.append(decoded[start:start + size])
        start += size
    every_entry = _after_batches(entries, cohort.course, None)
    for _ in range(2):
        sizes, left = [], len(entries)
        while left > 0:
            sizes.append(min(left, rng.choice([1, 7, 40, 500])))
            left -= sizes[-1]
        assert _after_batches(entries, cohort.course, sizes) == every_entry
    assert sum(r["state"].get("cohort_learned", False) for r in every_entry[0].values()) >= 25  # the cohort did learn
