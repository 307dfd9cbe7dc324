"""Batch anomaly models on session feature vectors, following pyod's contract.

``SessionModel.fit(X, y=None)`` / ``decision_function`` / ``predict_proba``; fitted
attributes end in ``_``; the decision threshold is stored with the model. Kinds:

- ``iforest``, ``ecod``, ``hbos``: one pyod detector, unsupervised;
- ``ensemble``: IForest and HBOS, scores averaged as training percentiles;
- ``semi``: the ensemble's score plus the features, fed to a gradient-boosting classifier
  trained on supervisors' rulings (confirmed = 1, dismissed = 0). ADBench found that even
  a few labels beat the best unsupervised detector.

Cost matters for live scoring: ECOD revisits its training set on every call (~0.4 s), so
it is marked batch-only; IForest (~9 ms a call) and HBOS (~0.2 ms) score live.
"""

from __future__ import annotations

import numpy as np

from learnguard.features.vector import FEATURE_NAMES

KINDS = ("iforest", "ecod", "hbos", "ensemble", "semi")
LIVE_KINDS = {"iforest", "hbos", "ensemble", "semi"}


def _detector(kind: str, seed: int):
    from pyod.models.ecod import ECOD
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest

    if kind == "iforest":
        return IForest(n_estimators=100, random_state=seed)
    if kind == "ecod":
        return ECOD()
    if kind == "hbos":
        return HBOS()
    raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")


def matrix(rows: list[dict], feature_names: tuple[str, ...] = FEATURE_NAMES) -> np.ndarray:
    """Rows of features as a float matrix (signed log scale tames heavy tails)."""
    raw = np.array([[float(row.get(name, 0.0) or 0.0) for name in feature_names] for row in rows], dtype=float)
    return np.sign(raw) * np.log1p(np.abs(raw))


class SessionModel:
    """A trained session anomaly model.

    >>> import random
    >>> rng = random.Random(1)
    >>> rows = [{n: rng.gauss(10, 1) for n in FEATURE_NAMES} for _ in range(300)]
    >>> odd = [{n: 1000.0 for n in FEATURE_NAMES}]
    >>> model = SessionModel("hbos").fit(matrix(rows))
    >>> bool(model.percentile(matrix(odd))[0] > 0.99), bool(model.percentile(matrix(rows[:1]))[0] < 0.99)
    (True, True)
    """

    def __init__(self, kind: str = "ensemble", contamination: float = 0.05, seed: int = 0) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if not 0 < contamination < 0.5:
            raise ValueError(f"contamination must be in (0, 0.5), got {contamination!r}")
        self.kind = kind
        self.contamination = contamination
        self.seed = seed
        self.feature_names = FEATURE_NAMES

    # -- fitting ----------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray | None = None,
            sample_weight: np.ndarray | None = None) -> SessionModel:
        parts = ["iforest", "hbos"] if self.kind in ("ensemble", "semi") else [self.kind]
        self.detectors_ = [_detector(kind, self.seed).fit(X) for kind in parts]
        self.train_scores_ = [np.sort(d.decision_scores_) for d in self.detectors_]
        unsupervised = self._unsupervised(X)
        self.train_unsupervised_ = np.sort(unsupervised)
        self.threshold_ = float(np.quantile(unsupervised, 1 - self.contamination))
        self.classifier_ = None
        if self.kind == "semi":
            if y is None:
                raise ValueError("y: a semi-supervised model needs labels (1 confirmed, 0 dismissed, nan unknown)")
            known = ~np.isnan(y)
            if known.sum() < 4 or len(set(y[known])) < 2:
                raise ValueError(f"y: need confirmed and dismissed rulings to learn from, got {int(known.sum())} "
                                 f"labels of {len(set(y[known]))} kind(s)")
            from sklearn.ensemble import HistGradientBoostingClassifier

            features = np.column_stack([X[known], unsupervised[known]])
            weights = sample_weight[known] if sample_weight is not None else None
            self.classifier_ = HistGradientBoostingClassifier(max_iter=100, random_state=self.seed)
            self.classifier_.fit(features, y[known].astype(int), sample_weight=weights)
            self.labels_used_ = int(known.sum())
        return self

    @staticmethod
    def semi_labels(rulings: np.ndarray, pattern_flagged: np.ndarray, presumed_weight: float = 0.2
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels and weights for the semi-supervised fit: rulings count fully; sessions no
        pattern flagged and nobody ruled on count as honest with a small weight (most
        sessions are), so rulings drawn from a review queue do not skew the base rate;
        flagged sessions without a ruling are left out."""
        y = np.where(np.isnan(rulings), np.where(pattern_flagged, np.nan, 0.0), rulings)
        weights = np.where(np.isnan(rulings), presumed_weight, 1.0)
        return y, weights

    def _unsupervised(self, X: np.ndarray) -> np.ndarray:
        """Each detector's score as its training percentile, averaged (0–1)."""
        shares = [np.searchsorted(train, d.decision_function(X), side="right") / len(train)
                  for d, train in zip(self.detectors_, self.train_scores_, strict=True)]
        return np.mean(shares, axis=0)

    # -- scoring ----------------------------------------------------------------------
    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Higher is more anomalous (the semi model: the classifier's probability)."""
        unsupervised = self._unsupervised(X)
        if self.classifier_ is not None:
            return self.classifier_.predict_proba(np.column_stack([X, unsupervised]))[:, 1]
        return unsupervised

    def percentile(self, X: np.ndarray) -> np.ndarray:
        """Share of training sessions less unusual than each row (0–1)."""
        unsupervised = self._unsupervised(X)
        return np.searchsorted(self.train_unsupervised_, unsupervised, side="right") / len(self.train_unsupervised_)

    def evidence(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(predict_proba(X), percentile(X))`` with the detectors run once (the read side
        and the worker ask for both; each detector pass is most of a call's cost)."""
        unsupervised = self._unsupervised(X)
        pct = np.searchsorted(self.train_unsupervised_, unsupervised, side="right") / len(self.train_unsupervised_)
        if self.classifier_ is not None:
            return self.classifier_.predict_proba(np.column_stack([X, unsupervised]))[:, 1], pct
        return np.clip((pct - 0.99) / 0.01, 0.0, 1.0), pct

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability (0–1) that a row is an outlier: the semi model's classifier, or for an
        unsupervised model how far past the training 99th percentile the row lies. Fusion
        (``detector.compose``) decides what an unsupervised probability may weigh."""
        if self.classifier_ is not None:
            return self.decision_function(X)
        pct = self.percentile(X)
        return np.clip((pct - 0.99) / 0.01, 0.0, 1.0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.classifier_ is not None:
            return (self.decision_function(X) >= 0.5).astype(int)
        return (self._unsupervised(X) > self.threshold_).astype(int)
