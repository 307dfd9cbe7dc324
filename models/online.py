"""The river online model of a course's sessions, with river's contract.

``learn_one(x)`` teaches one ended, unflagged session; ``score_one(x) -> float`` says how
unusual a session is (higher = more unusual, HalfSpaceTrees' mass score). ``explain_one``
puts the score against what the model has seen (its running quantiles), for the score's
``online`` block. It never accuses anyone: a cold model says so.

>>> model = OnlineSessionModel()
>>> for i in range(60):
...     model.learn_one({"plays": 1.0 + i % 3, "seeks": 2.0})
>>> isinstance(model.score_one({"plays": 50.0, "seeks": 0.0}), float), model.sessions
(True, 60)
"""

from __future__ import annotations

from river import anomaly, compose, preprocessing, stats
from river.base import AnomalyDetector

MIN_ONLINE = 50


class OnlineSessionModel(AnomalyDetector):
    """HalfSpaceTrees (10 trees, height 8) over min-max scaled session features; a river
    ``AnomalyDetector``, so river's own ``check_estimator`` holds it to river's contract."""

    def __init__(self, n_trees: int = 10, height: int = 8, window_size: int = 100, seed: int = 7) -> None:
        for name, value in (("n_trees", n_trees), ("height", height), ("window_size", window_size)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        self.n_trees, self.height, self.window_size, self.seed = n_trees, height, window_size, seed
        self.pipeline = compose.Pipeline(
            preprocessing.MinMaxScaler(),
            anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed))
        self.levels = {q: stats.Quantile(q) for q in (0.5, 0.9, 0.99)}
        self.sessions = 0

    def score_one(self, x: dict) -> float:  # x: dict, as river's AnomalyDetector declares it
        return float(self.pipeline.score_one(_numeric(x)))

    def learn_one(self, x: dict) -> None:
        numeric = _numeric(x)
        score = float(self.pipeline.score_one(numeric))
        for tracker in self.levels.values():
            tracker.update(score)
        self.pipeline.learn_one(numeric)
        self.sessions += 1

    def explain_one(self, x: dict[str, float]) -> dict[str, float | int | str]:
        """The score beside the highest running quantile it exceeds, and a cold-start note."""
        score = self.score_one(x)
        levels = {q: float(t.get() or 0.0) for q, t in self.levels.items()}
        above = max((q for q, level in levels.items() if score > level and self.sessions), default=0.0)
        trace: dict[str, float | int | str] = {"model": "river HalfSpaceTrees", "score": round(score, 4),
                                               "cohort_sessions": self.sessions,
                                               "above_cohort_percentile": round(above * 100)}
        if self.sessions < MIN_ONLINE:
            trace["note"] = (f"cold start: the course's online model has learned {self.sessions} sessions "
                             f"(needs {MIN_ONLINE}); the pattern detectors decide")
        return trace


def _numeric(features: dict[str, float]) -> dict[str, float]:
    return {name: float(value) for name, value in features.items()}
