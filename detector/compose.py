"""A session's complete score, composed when it is read, without I/O.

The worker stores each session's own score; what depends on other sessions or on a
promoted model is added when a score is read (so a promotion or a new session of the
learner shows at once): the context detectors (``with_context``), the active model's
evidence (``with_models``, one model call for many sessions) and the supervisors' rulings (``with_statuses``).
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec
import numpy as np

from learnguard.detector.base import Flag, Reason, flag_id_for
from learnguard.detector.context import with_context
from learnguard.detector.linking import LinkSight
from learnguard.detector.policy import NON_MISCONDUCT_CAP, Rules, fuse, level_of, standing_seconds
from learnguard.detector.records import LearnerCourse, SessionSummary, summary_of
from learnguard.detector.scoring import ModelEvidence, SessionScore
from learnguard.features.course import CourseInfo
from learnguard.features.session import SessionState, finalized
from learnguard.features.vector import session_features
from learnguard.models.batch import matrix


class ModelCard(Protocol):
    """What fusion needs to know of a registered model (the registry's envelope)."""

    version: str
    kind: str
    training: dict[str, Any]


class SessionModelLike(Protocol):
    def evidence(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def session_summary(state: SessionState, score: SessionScore, learner_course: LearnerCourse | None
                    ) -> SessionSummary:
    """The session as its learner x course record keeps it (or as it will, when not yet there)."""
    return (learner_course.sessions.get(state.session_id) if learner_course else None) or summary_of(state, score)


def in_context(state: SessionState, score: SessionScore, learner_course: LearnerCourse | None,
               device_sessions: dict[str, SessionSummary], course: CourseInfo, rules: Rules,
               sight: LinkSight | None = None, others: dict[str, LearnerCourse] | None = None) -> SessionScore:
    """The stored score with the learner x course, device and linking detectors added."""
    summary = session_summary(state, score, learner_course)
    return with_context(state.session_id, score, summary, learner_course, device_sessions, course, rules.thresholds,
                        sight, others)


def model_confidence(probability: Any, learned: bool) -> Any:
    """How much a model's outlier probability (a float or an array) may weigh: all of it
    for a model learned from rulings, at most ``NON_MISCONDUCT_CAP`` for an unsupervised one.

    >>> model_confidence(1.0, learned=False), model_confidence(0.9, learned=True)
    (0.45, 0.9)
    """
    if learned:
        return probability
    capped = np.minimum(probability, 1.0) * NON_MISCONDUCT_CAP
    return float(capped) if np.ndim(capped) == 0 else capped


def ask_model(states: list[SessionState], model: SessionModelLike, version: str) -> list[ModelEvidence]:
    """The model's evidence on finalised sessions, in one model call (a call costs
    milliseconds, whatever its rows)."""
    if not states:
        return []
    probabilities, percentiles = model.evidence(matrix([session_features(state) for state in states]))
    return [ModelEvidence(version, round(float(p), 6), round(float(pct), 6))
            for p, pct in zip(probabilities, percentiles, strict=True)]


def model_flag(session_id: str, score: SessionScore, evidence: ModelEvidence, card: ModelCard
               ) -> tuple[list[Flag], dict[str, Any]]:
    """The model's evidence as a flag (when it finds the session unusual) and a trace.

    An unsupervised model's flag is not misconduct and its confidence is capped at
    ``NON_MISCONDUCT_CAP``: it points an analyst at a session, it accuses no one. A model
    learned from supervisors' rulings (``semi``) counts as misconduct evidence.
    """
    learned = card.kind == "semi"
    confidence = model_confidence(evidence.probability, learned)
    trace = {"version": card.version, "kind": card.kind, "percentile": round(evidence.percentile, 4),
             "confidence": round(confidence, 4)}
    if confidence <= 0:
        return [], trace
    what = ("learned from supervisors' rulings" if learned
            else "unsupervised: points an analyst at the session, accuses no one")
    reason = Reason("model_unusual_session",
                    f"model {card.version} ({card.kind}, {what}) finds this session more unusual than "
                    f"{evidence.percentile:.1%} of the {card.training.get('sessions', '?')} sessions it was trained "
                    f"on; confidence {confidence:.2f}", round(evidence.percentile, 4), 0.99,
                    params={"form": "semi" if learned else "unsupervised", "version": card.version,
                            "percentile": evidence.percentile, "sessions": card.training.get("sessions", "?"),
                            "confidence": confidence})
    return [Flag(flag_id=flag_id_for(session_id, "anomalous_session"), pattern="anomalous_session",
                 confidence=round(confidence, 3), reasons=[reason], start=score.first_ts, end=score.last_ts,
                 misconduct=learned)], trace


def evidence_missing(scores: list[SessionScore], version: str) -> list[int]:
    """Which scores carry no evidence of ``version`` (scored before it was promoted)."""
    return [i for i, score in enumerate(scores)
            if score.model_evidence is None or score.model_evidence.version != version]


def model_evidence(states: list[SessionState], courses: list[CourseInfo], rules: Rules, model: SessionModelLike,
                   version: str) -> list[ModelEvidence]:
    """``ask_model`` on the sessions finalised as their courses fold them."""
    return ask_model([finalized(state, rules.playback(course)) for state, course in zip(states, courses, strict=True)],
                     model, version)


def with_models(states: list[SessionState], scores: list[SessionScore], evidence: list[ModelEvidence],
                card: ModelCard) -> list[SessionScore]:
    """Each score with the model's evidence on it fused in."""
    out = []
    for state, score, known in zip(states, scores, evidence, strict=True):
        flags, trace = model_flag(state.session_id, score, known, card)
        merged = score.flags + flags
        risk = fuse(merged)
        out.append(msgspec.structs.replace(score, flags=merged, risk=risk, level=level_of(risk),
                                           model_version=f"{score.model_version}+{card.version}",
                                           model=trace, model_evidence=None))
    return out


def with_statuses(score: SessionScore, statuses: dict[str, str]) -> SessionScore:
    """Each flag with its latest ruling (``confirmed``, ``dismissed``, ``appealed``; ``open``
    when none), and the rulings counted: a dismissed flag stays listed but adds nothing to
    risk and level and takes no study time away."""
    if not statuses:
        return score
    flags = [msgspec.structs.replace(flag, status=statuses.get(flag.flag_id, flag.status)) for flag in score.flags]
    if all(flag.stands for flag in flags):
        return msgspec.structs.replace(score, flags=flags)
    risk = fuse(flags)
    return msgspec.structs.replace(score, flags=flags, risk=risk, level=level_of(risk),
                                   effective_seconds=standing_seconds(score.credited(), flags))
