"""What is kept per session, per learner × course and per flag: plain data records.

The worker writes them, the read side and the reports read them; the store only moves
their bytes. ``summary_of`` is the one place a session becomes its summary.
"""

from __future__ import annotations

import msgspec

from learnguard.detector.scoring import SessionScore
from learnguard.features.linking import LinkFacts
from learnguard.features.session import SessionState


class SessionRecord(msgspec.Struct):
    """What is stored per session: the state and its latest score."""

    state: SessionState
    score: SessionScore | None = None


class SessionSummary(msgspec.Struct, array_like=True):
    """One session as its learner x course record and the device index keep it."""

    learner_id: str
    first_ts: float
    last_ts: float
    effective_seconds: float
    claimed_seconds: float
    device: str | None
    ip: str | None
    misconduct: bool
    quiz: dict[str, bool] = msgspec.field(default_factory=dict)
    patterns: list[str] = msgspec.field(default_factory=list)
    risk: float = 0.0
    link: LinkFacts = msgspec.field(default_factory=LinkFacts)


class FlagRef(msgspec.Struct):
    """What a flag is about (a flag's id is a hash of its session and pattern)."""

    session_id: str
    learner_id: str
    course_id: str
    org_id: str
    pattern: str


class Review(msgspec.Struct):
    """A supervisor's ruling on a flag; a later review supersedes, none is ever removed."""

    decision: str
    note: str
    by_key: str
    by_name: str
    at: float


class LearnerCourse(msgspec.Struct):
    """A learner's sessions in one course (cramming, schedules, two places at once)."""

    learner_id: str
    course_id: str
    org_id: str
    sessions: dict[str, SessionSummary] = msgspec.field(default_factory=dict)


def summary_of(state: SessionState, score: SessionScore) -> SessionSummary:
    """A scored session as the learner x course record and the device index keep it.

    Devices and addresses come from the score, which saw the finalised session: events
    still in the reorder buffer count (a session shorter than the buffer has its device).

    >>> from learnguard.detector.scoring import SessionScore
    >>> state = SessionState("s1", "l1", "org", "c1")
    >>> score = SessionScore(risk=0.0, level="normal", flags=[], claimed_seconds=60.0, effective_seconds=60.0,
    ...                      events=3, model_version="patterns-1", devices=["d1"])
    >>> summary_of(state, score).device, summary_of(state, score).misconduct
    ('d1', False)
    """
    return SessionSummary(
        learner_id=state.learner_id, first_ts=score.first_ts, last_ts=score.last_ts,
        effective_seconds=score.effective_seconds, claimed_seconds=score.claimed_seconds,
        device=score.devices[0] if score.devices else None, ip=score.ips[0] if score.ips else None,
        misconduct=any(flag.misconduct for flag in score.flags), quiz=score.quiz,
        patterns=sorted({f.pattern for f in score.flags}), risk=score.risk, link=score.link or LinkFacts())
