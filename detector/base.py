"""The detector interface: pure functions from a session's view to flags with reasons.

A detector never touches Redis or HTTP; it reads a ``SessionView`` (the finalised session
state, the course, the cohort baseline when there is one) and returns ``Flag``s. Every
flag carries at least one ``Reason`` with the measured value and what it was held to.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

import msgspec

from learnguard.detector.thresholds import Thresholds
from learnguard.features.course import CourseInfo
from learnguard.features.session import SessionState
from learnguard.models.cohort import CohortView


class Related(msgspec.Struct, omit_defaults=True):
    """Another account (and session) a linking reason rests on; the API shows it only to
    readers whose org subtree holds it."""

    learner_id: str
    org_id: str
    session_id: str = ""


class Reason(msgspec.Struct, omit_defaults=True):
    """One piece of evidence: what was measured and what it was compared with."""

    code: str
    message: str
    value: float
    threshold: float
    related: list[Related] = msgspec.field(default_factory=list)
    basis: str = "claim"  # "observed" when it rests on what the platform's servers saw (contract v1.1 §8)
    # the numbers the message names, so it can be rendered in another language and time zone
    # (``api.messages``); ``form`` picks the variant when a code has several messages
    params: dict[str, float | str] = msgspec.field(default_factory=dict)


class Flag(msgspec.Struct, omit_defaults=True):
    """A suspected pattern in a session, with its evidence."""

    flag_id: str
    pattern: str
    confidence: float
    reasons: list[Reason]
    start: float
    end: float
    status: str = "open"
    misconduct: bool = True
    suspect_media_seconds: float = 0.0
    voids_time: bool = False  # while it stands, none of the session's study time does

    @property
    def stands(self) -> bool:
        """Whether the flag counts: every status but a supervisor's dismissal."""
        return self.status != DISMISSED


DISMISSED = "dismissed"
# Patterns judged over a learner's whole course, not one sitting: one flag id (and so one
# ruling) per learner x course, shown in each session it touches.
LEARNER_LEVEL_PATTERNS = frozenset({"last_minute_cramming", "account_sharing"})


def flag_id_for(session_id: str, pattern: str) -> str:
    """A stable flag id: the same session and pattern always give the same id."""
    return "f-" + hashlib.blake2b(f"{session_id}\x00{pattern}".encode(), digest_size=8).hexdigest()


def learner_flag_id(learner_id: str, course_id: str, pattern: str) -> str:
    """The id of a learner-level flag: the same learner, course and pattern, the same id.

    >>> learner_flag_id("l1", "c1", "last_minute_cramming") == learner_flag_id("l1", "c1", "last_minute_cramming")
    True
    >>> learner_flag_id("l1", "c1", "account_sharing") != flag_id_for("l1", "account_sharing")
    True
    """
    return "f-" + hashlib.blake2b(f"{learner_id}\x00{course_id}\x00{pattern}\x00learner".encode(),
                                  digest_size=8).hexdigest()


class SessionView(msgspec.Struct):
    """Everything a detector may read about one session."""

    state: SessionState
    course: CourseInfo
    features: dict[str, float] = msgspec.field(default_factory=dict)
    cohort: CohortView = msgspec.field(default_factory=CohortView)
    thresholds: Thresholds = msgspec.field(default_factory=Thresholds)


class Evidence(msgspec.Struct):
    """A reason with its weight: how much it alone makes the pattern likely."""

    reason: Reason
    weight: float
    strong: bool


def combine(session_id: str, pattern: str, evidence: list[Evidence], start: float, end: float,
            misconduct: bool = True, suspect_media_seconds: float = 0.0) -> list[Flag]:
    """One flag per pattern from its evidence: noisy-OR of the weights, and only when at
    least one strong reason is present (weak signals alone never accuse anyone)."""
    if not any(item.strong for item in evidence):
        return []
    keep = 1.0
    for item in evidence:
        keep *= 1.0 - item.weight
    ordered = sorted(evidence, key=lambda item: -item.weight)
    return [Flag(flag_id=flag_id_for(session_id, pattern), pattern=pattern,
                 confidence=round(min(0.99, 1.0 - keep), 3), reasons=[item.reason for item in ordered],
                 start=start, end=end, misconduct=misconduct,
                 suspect_media_seconds=suspect_media_seconds)]


class Detector(Protocol):
    """A pattern detector. ``detect`` is pure and fast (it runs once per touched session)."""

    pattern: str

    def detect(self, view: SessionView) -> list[Flag]:
        ...
