"""From session state to the score a platform reads: risk, level, flags, study time.

Fusion is a noisy-OR of the misconduct flags' confidences, so one strong detector is
enough and independent weak ones add up; ``risk`` never hides which flag drove it
because the flags come with it. Flags that are not misconduct (cramming) are capped below
``review`` so they never make a session high risk on their own.
"""

from __future__ import annotations

import msgspec

from detector.base import CourseInfo, Detector, Flag, SessionView
from detector.cohort import CohortView
from detector.flooding import ScreenFloodingDetector
from detector.scripted import ScriptedPlaybackDetector
from features.session import (
    PlaybackRules,
    SessionState,
    credited_wall_seconds,
    finalized,
    watched_media_seconds,
)
from features.vector import session_features

MODEL_VERSION = "patterns-1"
LEVEL_REVIEW = 0.5
LEVEL_HIGH = 0.8
NON_MISCONDUCT_CAP = 0.45


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


def default_detectors() -> list[Detector]:
    """The detectors that run on every session."""
    return [ScriptedPlaybackDetector(), ScreenFloodingDetector()]


def fuse(flags: list[Flag]) -> float:
    """Noisy-OR of the misconduct flags' confidences, combined with the strongest
    non-misconduct flag (cramming, an unsupervised model) capped at ``NON_MISCONDUCT_CAP``:
    however many of those a session has, together they stay below ``review``."""
    keep = 1.0
    for flag in flags:
        if flag.misconduct:
            keep *= 1.0 - flag.confidence
    other = max((min(flag.confidence, NON_MISCONDUCT_CAP) for flag in flags if not flag.misconduct), default=0.0)
    return round(1.0 - keep * (1.0 - other), 4)


def level_of(risk: float) -> str:
    if risk >= LEVEL_HIGH:
        return "high"
    if risk >= LEVEL_REVIEW:
        return "review"
    return "normal"


def effective_seconds(state: SessionState, course: CourseInfo, flags: list[Flag]) -> float:
    """Watched media, capped by credited wall time × max_rate, minus what flags explain."""
    media = watched_media_seconds(state)
    cap = credited_wall_seconds(state) * course.max_rate
    suspect = sum(flag.suspect_media_seconds for flag in flags if flag.misconduct)
    return max(0.0, min(media, cap) - suspect)


def score_session(state: SessionState, course: CourseInfo, detectors: list[Detector],
                  reorder_window_s: float, cohort: CohortView | None = None) -> SessionScore:
    """Finalise the state (fold buffered events) and run every detector on it."""
    return evaluate_session(state, course, detectors, reorder_window_s, cohort)[0]


def evaluate_session(state: SessionState, course: CourseInfo, detectors: list[Detector],
                     reorder_window_s: float, cohort: CohortView | None = None
                     ) -> tuple[SessionScore, dict[str, float]]:
    """The score and the feature vector of a session (the worker teaches cohorts with it)."""
    rules = PlaybackRules(max_rate=course.max_rate, reorder_window_s=reorder_window_s)
    done = finalized(state, rules)
    features = session_features(done)
    view = SessionView(state=done, course=course, features=features, cohort=cohort or CohortView())
    flags = [flag for detector in detectors for flag in detector.detect(view)]
    risk = fuse(flags)
    notes: list[str] = []
    if not course.described:
        notes.append(f"course {state.course_id} is not described: no deadline or video durations "
                     f"known; max_rate {course.max_rate:g} assumed")
    if done.late_events:
        notes.append(f"{done.late_events} events arrived after later events had been processed")
    score = SessionScore(risk=risk, level=level_of(risk), flags=flags,
                         claimed_seconds=round(done.claimed_seconds, 1),
                         effective_seconds=round(effective_seconds(done, course, flags), 1),
                         events=done.applied_events, model_version=MODEL_VERSION, notes=notes,
                         first_ts=done.first_ts, last_ts=done.last_ts,
                         ended=done.counts.get("session_end", 0) > 0,
                         devices=list(done.devices), ips=list(done.ips), quiz=dict(done.quiz))
    return score, features
