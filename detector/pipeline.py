"""The one session pipeline: fold → detectors → online model score/learn → summary.

The worker calls it for each stream entry, the offline runner for each session of a
file; both get the same answers because both run this code. It does no I/O: what it
needs of the outside (a course, a course's cohort baseline) comes through the callables
it is given, and what it changes is collected in a ``BatchEffects`` for the caller to
store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from learnguard.detector.base import Detector
from learnguard.detector.policy import Rules
from learnguard.detector.records import LearnerCourse, SessionRecord, SessionSummary, summary_of
from learnguard.detector.scoring import default_detectors, evaluate_session
from learnguard.features.compact import compact
from learnguard.features.course import CourseInfo
from learnguard.features.events import Event
from learnguard.features.session import Finalized, SessionState, add_events, advance, start_finalized
from learnguard.models.cohort import CohortBaseline


@dataclass
class BatchEffects:
    """What applying some events changed, before anyone stores it."""

    records: dict[str, SessionRecord]
    learner_courses: dict[tuple[str, str], LearnerCourse] = field(default_factory=dict)
    changed_pairs: set[tuple[str, str]] = field(default_factory=set)
    cohorts_changed: set[str] = field(default_factory=set)
    summaries: dict[str, SessionSummary] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)


def touched_later(entries: list[list[Event] | None]) -> list[set[str]]:
    """For each entry of a batch, its sessions that a later entry touches again (``None``
    stands for an entry that will not be applied): what ``SessionPipeline.apply`` may defer."""
    out: list[set[str]] = []
    later: set[str] = set()
    for events in reversed(entries):
        mine = {e.session_id for e in events or ()}
        out.append(mine & later)
        later |= mine
    return out[::-1]


class SessionPipeline:
    """Applies events to sessions and scores them, in a fixed order.

    ``course_of(course_id)`` gives what detectors know of a course; ``cohort_of(course_id)``
    the course's baseline, which the pipeline teaches (in place) with each session that
    ends without a misconduct flag, once per session.
    """

    def __init__(self, rules: Rules, course_of: Callable[[str], CourseInfo],
                 cohort_of: Callable[[str], CohortBaseline], detectors: list[Detector] | None = None,
                 finals: dict[str, Finalized] | None = None) -> None:
        self.rules = rules
        self.course_of = course_of
        self.cohort_of = cohort_of
        self.detectors = detectors if detectors is not None else default_detectors()
        # sessions' finalized copies kept up to date across entries (and batches, when the
        # caller keeps the dict): the same scores, without re-folding each reorder buffer
        self.finals = finals if finals is not None else {}

    def apply(self, effects: BatchEffects, events: list[Event], defer: Collection[str] = ()) -> None:
        """Fold one entry's events into their sessions, then score those (sorted: a fixed order).

        ``defer``: sessions a later entry of the same batch touches again. Their score now
        would be overwritten by that one, so it is skipped — unless the session has just
        ended and the cohort has not learned from it: the cohort learns at the same entry as
        without deferring, and every score sees the same cohort, so the stored scores are
        the same whatever the batch boundaries (a backlog then scores a session once per
        batch, not once per entry)."""
        by_session: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            by_session[event.session_id].append(event)
        for session_id, session_events in by_session.items():
            record = effects.records.get(session_id)
            if record is None:
                first = session_events[0]
                record = effects.records[session_id] = SessionRecord(state=SessionState(
                    session_id=session_id, learner_id=first.learner_id, org_id=first.org_id,
                    course_id=first.course_id))
            playback = self.rules.playback(self.course_of(record.state.course_id))
            compacted = [compact(event) for event in session_events]
            add_events(record.state, compacted, playback)
            snapshot = self.finals.get(session_id)
            if snapshot is None or not advance(snapshot, record.state, compacted, playback):
                self.finals[session_id] = start_finalized(record.state, playback)
        for session_id in sorted(by_session):
            record = effects.records[session_id]
            if session_id in defer and not self._ends_now(record):
                continue
            self.score(effects, record)

    def _ends_now(self, record: SessionRecord) -> bool:
        """Whether scoring the session now would teach the cohort (it ended, not yet learned)."""
        snapshot = self.finals.get(record.state.session_id)
        return snapshot is not None and not record.state.cohort_learned and \
            snapshot.done.counts.get("session_end", 0) > 0

    def score(self, effects: BatchEffects, record: SessionRecord) -> None:
        """Score a session, let its course's online model see it, and summarise it."""
        state = record.state
        cohort = self.cohort_of(state.course_id)
        snapshot = self.finals.get(state.session_id)
        score, features = evaluate_session(state, self.course_of(state.course_id), self.detectors, self.rules,
                                           cohort.view(), snapshot.done if snapshot is not None else None)
        score.online = cohort.explain_one(features)
        record.score = score
        summary = summary_of(state, score)
        if score.ended and not state.cohort_learned:
            state.cohort_learned = True  # decided once per session, flagged or not
            if not summary.misconduct:
                cohort.learn_one(features)
                effects.cohorts_changed.add(state.course_id)
        pair = (state.learner_id, state.course_id)
        learner_course = effects.learner_courses.get(pair)
        if learner_course is None:
            learner_course = effects.learner_courses[pair] = LearnerCourse(
                learner_id=state.learner_id, course_id=state.course_id, org_id=state.org_id)
        learner_course.sessions[state.session_id] = summary
        effects.changed_pairs.add(pair)
        effects.summaries[state.session_id] = summary
        effects.touched.add(state.session_id)
