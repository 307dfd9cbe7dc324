"""Training and comparing session models: the functions the ``retrain`` notebook calls.

Rows come from ``models.dataset`` (an export or the live store). The held-out split is by
time (the last ``holdout`` share of sessions), so a model is judged on sessions it never
saw, later than those it learned from. Without supervisor labels, the pattern detectors'
misconduct flags serve as the yardstick; with labels, the labels do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from learnguard.models.batch import SessionModel, matrix


def split_by_time(sessions: pd.DataFrame, holdout: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    ordered = sessions.sort_values("first_ts")
    cut = int(len(ordered) * (1 - holdout))
    return ordered.iloc[:cut], ordered.iloc[cut:]


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return frame["label"].astype(float).to_numpy() if "label" in frame else np.full(len(frame), np.nan)


def yardstick(frame: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Labels where supervisors ruled, else the pattern detectors' misconduct flags."""
    labels = _labels(frame)
    if (~np.isnan(labels)).sum() >= 10 and len(set(labels[~np.isnan(labels)])) == 2:
        return labels, "supervisor labels"
    return frame["misconduct_flagged"].astype(float).to_numpy(), "pattern flags"


def evaluate_model(model: SessionModel, frame: pd.DataFrame) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, basis = yardstick(frame)
    known = ~np.isnan(y)
    scores = model.decision_function(matrix(frame.to_dict("records")))
    out: dict[str, Any] = {"sessions": int(len(frame)), "judged_against": basis}
    if known.sum() and len(set(y[known])) == 2:
        out["roc_auc"] = round(float(roc_auc_score(y[known], scores[known])), 4)
        out["pr_auc"] = round(float(average_precision_score(y[known], scores[known])), 4)
    return out


def train(sessions: pd.DataFrame, kind: str = "ensemble", holdout: float = 0.2, seed: int = 0
          ) -> tuple[SessionModel, dict[str, Any], dict[str, Any]]:
    """Fit on the earlier sessions, evaluate on the later ones; returns (model, training, metrics).

    Unsupervised kinds learn only from sessions no pattern flagged (don't learn from what
    you flag); the semi-supervised kind learns from every session and its rulings.
    """
    if sessions.empty:
        raise ValueError("sessions: the table is empty; export features first")
    fit_part, held_out = split_by_time(sessions, holdout)
    clean = fit_part if kind == "semi" else fit_part[~fit_part["misconduct_flagged"].astype(bool)]
    model = SessionModel(kind, seed=seed)
    if kind == "semi":
        y, weights = SessionModel.semi_labels(_labels(clean), clean["misconduct_flagged"].astype(bool).to_numpy())
        model.fit(matrix(clean.to_dict("records")), y, weights)
    else:
        model.fit(matrix(clean.to_dict("records")))
    training = {"sessions": int(len(clean)), "from": float(fit_part["first_ts"].min()),
                "until": float(fit_part["last_ts"].max()),
                "labels": int((~np.isnan(_labels(fit_part))).sum()), "holdout": holdout}
    return model, training, evaluate_model(model, held_out)


def compare_and_promote(registry, sessions: pd.DataFrame, kind: str = "ensemble", by: str = "notebook",
                        holdout: float = 0.2) -> dict[str, Any]:
    """Train a candidate, compare it with the active model on the same held-out sessions,
    register it, and promote it when it is at least as good (or nothing is active)."""
    model, training, metrics = train(sessions, kind, holdout)
    _, held_out = split_by_time(sessions, holdout)
    active, envelope = registry.active()
    active_metrics = evaluate_model(active, held_out) if active is not None else None
    registered = registry.register(model, training, metrics, by)
    better = active_metrics is None or metrics.get("roc_auc", 0) >= active_metrics.get("roc_auc", 0)
    if better:
        registry.promote(registered.version, by)
        registry.refresh()
    return {"candidate": registered.version, "candidate_metrics": metrics,
            "active": envelope.version if envelope else None, "active_metrics": active_metrics,
            "promoted": better}
