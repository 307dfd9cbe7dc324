"""Feature tables for analysts and batch models: one row per session (and per learner x
course), with the flags, the risk and the supervisors' review decisions as labels.

``label`` is 1 when a supervisor confirmed a misconduct flag of the session, 0 when they
dismissed its flags (or all of them), and missing when nobody ruled.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from learnguard.detector.policy import Rules
from learnguard.detector.records import Review
from learnguard.detector.scoring import SessionScore
from learnguard.features.session import SessionState, finalized
from learnguard.features.vector import FEATURE_NAMES, session_features
from learnguard.service.keys import shard_of
from learnguard.service.readside import reviewed_score
from learnguard.service.store import Store


def label_of(score: SessionScore, reviews: dict[str, list[Review]]) -> float | None:
    decisions = [reviews[f.flag_id][-1].decision for f in score.flags
                 if f.misconduct and reviews.get(f.flag_id)]
    if "confirmed" in decisions:
        return 1.0
    if decisions:
        return 0.0
    return None


def session_row(state: SessionState, score: SessionScore, reviews: dict[str, list[Review]]) -> dict[str, Any]:
    """One session as a table row: ids, time, outcome, label and every feature."""
    return {
        "session_id": state.session_id, "learner_id": state.learner_id, "org_id": state.org_id,
        "course_id": state.course_id,
        "day": datetime.fromtimestamp(state.first_ts, tz=UTC).strftime("%Y-%m-%d"),
        "first_ts": state.first_ts, "last_ts": state.last_ts, "risk": score.risk, "level": score.level,
        "patterns": ",".join(sorted({f.pattern for f in score.flags})),
        "misconduct_flagged": any(f.misconduct for f in score.flags),
        "flag_ids": ",".join(f.flag_id for f in score.flags),
        "label": label_of(score, reviews),
        "claimed_seconds": score.claimed_seconds, "effective_seconds": score.effective_seconds,
        **session_features(state),
    }


def session_rows(store: Store, rules: Rules, since: float | None = None,
                 until: float | None = None) -> list[dict[str, Any]]:
    """Every session in the store (optionally within an event-time span) as rows."""
    rows: list[dict[str, Any]] = []
    for course_id in store.sessions.course_ids():
        playback = rules.playback(rules.course(store.courses.get(course_id)))
        for learner_course in store.sessions.roster_learner_courses(course_id):
            wanted = [sid for sid, s in learner_course.sessions.items()
                      if (since is None or s.last_ts >= since) and (until is None or s.first_ts <= until)]
            records = store.sessions.load_records(shard_of(learner_course.learner_id, store.shards), sorted(wanted))
            for _, record in sorted(records.items()):
                if record.score is not None:
                    score, reviews = reviewed_score(store, record, rules)
                    rows.append(session_row(finalized(record.state, playback), score, reviews))
    return rows


def learner_course_rows(sessions: pd.DataFrame) -> pd.DataFrame:
    """Per learner x course: study time, sessions, flags and labels, and mean features."""
    if sessions.empty:
        return sessions
    grouped = sessions.groupby(["learner_id", "course_id", "org_id"])
    out = grouped.agg(sessions=("session_id", "size"), first_ts=("first_ts", "min"), last_ts=("last_ts", "max"),
                      claimed_seconds=("claimed_seconds", "sum"), effective_seconds=("effective_seconds", "sum"),
                      max_risk=("risk", "max"), misconduct_sessions=("misconduct_flagged", "sum"),
                      label=("label", "max")).reset_index()
    means = grouped[list(FEATURE_NAMES)].mean().reset_index(drop=True).add_prefix("mean_")
    out = pd.concat([out, means], axis=1)
    out["day"] = pd.to_datetime(out["first_ts"], unit="s", utc=True).dt.strftime("%Y-%m-%d")
    return out


def export_features(rows: list[dict[str, Any]], out: Path) -> dict[str, int]:
    """Write ``sessions/`` and ``learner_courses/`` as Parquet datasets partitioned by day."""
    out.mkdir(parents=True, exist_ok=True)
    sessions = pd.DataFrame(rows)
    counts = {"sessions": len(sessions), "learner_courses": 0}
    if sessions.empty:
        return counts
    sessions.to_parquet(out / "sessions", partition_cols=["day"], index=False)
    learner_courses = learner_course_rows(sessions)
    learner_courses.to_parquet(out / "learner_courses", partition_cols=["day"], index=False)
    counts["learner_courses"] = len(learner_courses)
    return counts


def load_sessions(path: Path) -> pd.DataFrame:
    """Read an exported sessions table back (all days)."""
    return pd.read_parquet(path / "sessions")
