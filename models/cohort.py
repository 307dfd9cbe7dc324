"""Cohort baselines: what the learners of a course usually do, learned online with river.

Per course (and shard: a shard holds a random slice of learners), running quantiles of
the features that separate people from scripts. A session teaches the baseline once,
when it ends, and only if no detector flagged it (STYLE 2: don't learn from what you
flag), so a course full of bots does not become "normal". Below ``MIN_COHORT`` sessions
the detectors use their fixed floors alone and say so.
"""

from __future__ import annotations

import io
import pickle

import msgspec
from river import stats

from learnguard.models.online import OnlineSessionModel

MIN_COHORT = 30

# feature -> (quantile, which sessions teach it)
TRACKED: dict[str, float] = {
    "check_latency_mean_s": 0.05,
    "heartbeat_gap_sd_s": 0.05,
    "resume_gap_mean_s": 0.05,
    "comments_per_hour": 0.99,
    "max_clicks_per_s": 0.99,
    "short_dwells": 0.99,
    "media_fetches": 0.1,  # > 0: at least 90 % of the course's playing sessions had media delivered
}
NEEDS = {
    "check_latency_mean_s": "check_answers",
    "heartbeat_gap_sd_s": "heartbeats",
    "resume_gap_mean_s": "resume_gaps",
    "media_fetches": "credited_wall_s",
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
        self.online = OnlineSessionModel()

    def __setstate__(self, state: dict) -> None:
        """Blobs written before the online model had its own class keep working."""
        if "online_levels" in state:
            model = OnlineSessionModel()
            model.pipeline, model.levels = state.pop("online"), state.pop("online_levels")
            model.sessions = state["sessions"]
            state["online"] = model
        self.__dict__.update(state)
        for name, q in TRACKED.items():  # features tracked since the blob was written start empty
            self.quantiles.setdefault(name, stats.Quantile(q))
            self.counts.setdefault(name, 0)

    def score_one(self, features: dict[str, float]) -> float:
        """How unusual a session is for this course's online model (higher = more unusual)."""
        return self.online.score_one(features)

    def explain_one(self, features: dict[str, float]) -> dict[str, float | int | str]:
        """The online model's view of a session against this cohort, for the score's ``online``."""
        return self.online.explain_one(features)

    def learn_one(self, features: dict[str, float]) -> None:
        """Teach one ended session that no detector flagged (STYLE 2)."""
        self.online.learn_one(features)
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
        """Only for blobs this service wrote to its own store (never user input); blobs
        written before the package moved under ``learnguard`` load too."""
        baseline = _Unpickler(io.BytesIO(blob)).load()
        if not isinstance(baseline, CohortBaseline):
            raise TypeError("not a cohort baseline")
        return baseline


class _Unpickler(pickle.Unpickler):
    """Maps the module of the old layout (``detector.cohort``) to where the class lives now."""

    def find_class(self, module: str, name: str) -> object:
        if module == "detector.cohort":
            module = __name__
        return super().find_class(module, name)
