"""The detector interface: pure functions from a session's view to flags with reasons.

A detector never touches Redis or HTTP; it reads a ``SessionView`` (the finalised session
state, the course, the cohort baseline when there is one) and returns ``Flag``s. Every
flag carries at least one ``Reason`` with the measured value and what it was held to.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

import msgspec

from features.session import SessionState

PATTERNS = ("scripted_playback", "screen_flooding", "last_minute_cramming", "account_sharing")


class Reason(msgspec.Struct, omit_defaults=True):
    """One piece of evidence: what was measured and what it was compared with."""

    code: str
    message: str
    value: float
    threshold: float


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


def flag_id_for(session_id: str, pattern: str) -> str:
    """A stable flag id: the same session and pattern always give the same id."""
    return "f-" + hashlib.blake2b(f"{session_id}\x00{pattern}".encode(), digest_size=8).hexdigest()


class CourseInfo(msgspec.Struct, frozen=True):
    """What detectors know of the course (defaults when it was never described)."""

    described: bool
    max_rate: float
    deadline: float | None = None
    durations: dict[str, float] = msgspec.field(default_factory=dict)


class SessionView(msgspec.Struct):
    """Everything a detector may read about one session."""

    state: SessionState
    course: CourseInfo


class Detector(Protocol):
    """A pattern detector. ``detect`` is pure and fast (it runs once per touched session)."""

    pattern: str

    def detect(self, view: SessionView) -> list[Flag]:
        ...
