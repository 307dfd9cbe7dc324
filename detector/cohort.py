"""Cohort baselines: what the learners of a course usually do, learned online with river.

Per course (and shard: a shard holds a random slice of learners), running quantiles of
the features that separate people from scripts. A session teaches the baseline once,
when it ends, and only if no detector flagged it (STYLE 2: don't learn from what you
flag), so a course full of bots does not become "normal". Below ``MIN_COHORT`` sessions
the detectors use their fixed floors alone and say so.
"""

from __future__ import annotations

import pickle

import msgspec
from river import anomaly, compose, preprocessing, stats

MIN_COHORT = 30
MIN_ONLINE = 50

# feature -> (quantile, which sessions teach it)
TRACKED: dict[str, float] = {
    "check_latency_mean_s": 0.05,
    "heartbeat_gap_sd_s": 0.05,
    "resume_gap_mean_s": 0.05,
    "comments_per_hour": 0.99,
    "max_clicks_per_s": 0.99,
    "short_dwells": 0.99,
}
NEEDS = {
    "check_latency_mean_s": "check_answers",
    "heartbeat_gap_sd_s": "heartbeats",
    "resume_gap_mean_s": "resume_gaps",
}


class CohortView(msgspec.Struct, frozen=True):
    """The numbers detectors compare with: quantiles and how many sessions taught them."""

    sessions: int = 0
    quantiles: dict[str, float] = msgspec.field(default_factory=dict)
    counts: dict[str, int] = msgspec.field(default_factory=dict)

    def baseline(self, feature: str) -> float | None:
        """The cohort's quantile for ``feature``, or None while too few sessions taught it."""
        if self.counts.get(feature, 0) < MIN_COHORT:
            return None
        return self.quantiles.get(feature)


def _numeric(features: dict[str, float]) -> dict[str, float]:
    return {name: float(value) for name, value in features.items()}


class CohortBaseline:
    """river quantiles per tracked feature; ``learn_one`` takes a session's features.

    >>> cohort = CohortBaseline()
    >>> for i in range(40):
    ...     cohort.learn_one({"check_latency_mean_s": 3.0 + i % 5, "check_answers": 2.0})
    >>> view = cohort.view()
    >>> view.sessions, view.baseline("check_latency_mean_s") is not None, view.baseline("comments_per_hour")
    (40, True, 0.0)
    """

    def __init__(self) -> None:
        self.sessions = 0
        self.quantiles = {name: stats.Quantile(q) for name, q in TRACKED.items()}
        self.counts = dict.fromkeys(TRACKED, 0)
        self.online = compose.Pipeline(preprocessing.MinMaxScaler(),
                                       anomaly.HalfSpaceTrees(n_trees=10, height=8, window_size=100, seed=7))
        self.online_levels = {q: stats.Quantile(q) for q in (0.5, 0.9, 0.99)}

    def score_one(self, features: dict[str, float]) -> dict[str, float | int | str]:
        """The online model's view of a session against this cohort (higher = more unusual)."""
        score = float(self.online.score_one(_numeric(features)))
        levels = {q: float(t.get() or 0.0) for q, t in self.online_levels.items()}
        above = max((q for q, level in levels.items() if score > level and self.sessions), default=0.0)
        trace: dict[str, float | int | str] = {"model": "river HalfSpaceTrees", "score": round(score, 4),
                                               "cohort_sessions": self.sessions,
                                               "above_cohort_percentile": round(above * 100)}
        if self.sessions < MIN_ONLINE:
            trace["note"] = (f"cold start: the course's online model has learned {self.sessions} sessions "
                             f"(needs {MIN_ONLINE}); the pattern detectors decide")
        return trace

    def learn_one(self, features: dict[str, float]) -> None:
        numeric = _numeric(features)
        score = float(self.online.score_one(numeric))
        for tracker in self.online_levels.values():
            tracker.update(score)
        self.online.learn_one(numeric)
        self.sessions += 1
        for name, quantile in self.quantiles.items():
            needed = NEEDS.get(name)
            if needed and features.get(needed, 0.0) < (10 if needed == "heartbeats" else 2):
                continue
            quantile.update(features.get(name, 0.0))
            self.counts[name] += 1

    def view(self) -> CohortView:
        return CohortView(sessions=self.sessions,
                          quantiles={n: float(q.get() or 0.0) for n, q in self.quantiles.items()},
                          counts=dict(self.counts))

    def dumps(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def loads(blob: bytes) -> CohortBaseline:
        """Only for blobs this service wrote to its own store (never user input)."""
        baseline = pickle.loads(blob)  # noqa: S301 - written by our workers only
        if not isinstance(baseline, CohortBaseline):
            raise TypeError("not a cohort baseline")
        return baseline
