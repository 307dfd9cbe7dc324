"""From session state to the score a platform reads: risk, level, flags, study time.

``evaluate_session`` finalises a session (folds what the reorder buffer holds) and runs
every session-level detector on it; fusion and levels are ``policy``'s.
"""

from __future__ import annotations

import msgspec

from learnguard.detector.base import Detector, Flag, SessionView
from learnguard.detector.flooding import ScreenFloodingDetector
from learnguard.detector.policy import Rules, fuse, level_of, standing_seconds
from learnguard.detector.scripted import ScriptedPlaybackDetector
from learnguard.detector.verification import (
    Verification,
    capped_by_delivery,
    missed_while_playing,
    resolved_of,
    verification_of,
)
from learnguard.features.course import CourseInfo
from learnguard.features.linking import LinkFacts, link_facts
from learnguard.features.session import SessionState, credited_wall_seconds, finalized, watched_media_seconds
from learnguard.features.vector import session_features
from learnguard.models.cohort import CohortView

MODEL_VERSION = "patterns-1"


class ModelEvidence(msgspec.Struct, array_like=True):
    """What a model version said of a session: its outlier probability and the share of
    training sessions less unusual. Kept with the score by the worker (and cached by the
    read side for sessions scored before a promotion), so a read asks the model nothing."""

    version: str
    probability: float
    percentile: float


class SessionScore(msgspec.Struct, omit_defaults=True):
    """The computed answer for one session (stored beside the state by the worker)."""

    risk: float
    level: str
    flags: list[Flag]
    claimed_seconds: float
    effective_seconds: float
    events: int
    model_version: str
    notes: list[str] = msgspec.field(default_factory=list)
    first_ts: float = 0.0
    last_ts: float = 0.0
    ended: bool = False
    devices: list[str] = msgspec.field(default_factory=list)
    ips: list[str] = msgspec.field(default_factory=list)
    quiz: dict[str, bool] = msgspec.field(default_factory=dict)
    model: dict | None = None
    online: dict | None = None
    link: LinkFacts | None = None  # what links the session to others (kept in its summary)
    verification: Verification | None = None  # what the platform's servers observed (v1.1)
    # Study time before any flag takes from it, so a ruling can give it back (-1: a score
    # stored before it was kept; its effective_seconds is all there is).
    credited_seconds: float = -1.0
    model_evidence: ModelEvidence | None = None

    def credited(self) -> float:
        return self.credited_seconds if self.credited_seconds >= 0 else self.effective_seconds


def default_detectors() -> list[Detector]:
    """The detectors that run on every session."""
    return [ScriptedPlaybackDetector(), ScreenFloodingDetector()]


def credited_seconds(state: SessionState, course: CourseInfo) -> float:
    """Watched media (as far as the servers delivered it), capped by credited wall time ×
    max_rate: the study time before any flag takes from it."""
    media = capped_by_delivery(state, watched_media_seconds(state))
    return min(media, credited_wall_seconds(state) * course.max_rate)


def evaluate_session(state: SessionState, course: CourseInfo, detectors: list[Detector], rules: Rules,
                     cohort: CohortView | None = None, done: SessionState | None = None
                     ) -> tuple[SessionScore, dict[str, float]]:
    """The score and the feature vector of a session (the pipeline teaches cohorts with it).

    ``done``: the session's ``finalized`` copy when the caller keeps one up to date (the
    worker does: ``features.session.Finalized``); it is only read."""
    if done is None:
        done = finalized(state, rules.playback(course))
    features = session_features(done)
    view = SessionView(state=done, course=course, features=features, cohort=cohort or CohortView(),
                       thresholds=rules.thresholds)
    flags = [flag for detector in detectors for flag in detector.detect(view)]
    risk = fuse(flags)
    credited = credited_seconds(done, course)
    notes: list[str] = []
    if not course.described:
        notes.append(f"course {state.course_id} is not described: no deadline or video durations "
                     f"known; max_rate {course.max_rate:g} assumed")
    if done.late_events:
        notes.append(f"{done.late_events} events arrived after later events had been processed")
    score = SessionScore(risk=risk, level=level_of(risk), flags=flags,
                         claimed_seconds=round(done.claimed_seconds, 1),
                         effective_seconds=standing_seconds(credited, flags),
                         credited_seconds=round(credited, 1),
                         events=done.applied_events, model_version=MODEL_VERSION, notes=notes,
                         first_ts=done.first_ts, last_ts=done.last_ts,
                         ended=done.counts.get("session_end", 0) > 0,
                         devices=list(done.devices), ips=list(done.ips), quiz=dict(done.quiz),
                         link=link_facts(done, done.ips[0] if done.ips else None,
                                         len(missed_while_playing(done, rules.thresholds)), resolved_of(done)),
                         verification=verification_of(done))
    return score, features
