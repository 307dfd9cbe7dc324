"""``learnguard evaluate``: simulated cohorts through the real pipeline, measured honestly.

Each seed's cohort goes through HTTP ingest, the stream workers and the score endpoint,
exactly as a platform's would; then the flags are held against the simulator's truth.
Thresholds were tuned on seeds 1–30; report on others. The harder class of
human-mimicking bots is reported on its own, as are the generic anomaly detectors
(pyod IForest and ECOD, river HalfSpaceTrees) on the same session features.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from learnguard.api.app import create_app
from learnguard.challenge_walk import walk
from learnguard.detector.compose import model_confidence
from learnguard.detector.policy import MISCONDUCT_PATTERNS, PATTERNS, fuse_evidence, rules_from
from learnguard.features.session import finalized
from learnguard.features.vector import FEATURE_NAMES, session_features
from learnguard.replay import replay, score_all
from learnguard.server_thread import ServerThread
from learnguard.service.keys import shard_of
from learnguard.service.store import Store
from learnguard.settings import Settings, get_settings
from learnguard.simulator.careful import CAREFUL_CHEATERS, CAREFUL_HONEST
from learnguard.simulator.cohort import CHEATERS, HARD_CLASS, HONEST_KINDS, simulate_cohort
from learnguard.simulator.linked import LINKED_CHEATERS, LINKED_HONEST

MISCONDUCT = MISCONDUCT_PATTERNS
REVIEW_QUEUE_PATTERN = "coordinated_accounts"


def run_seed(seed: int, learners: int, base: Settings, observed: bool = False) -> list[dict[str, Any]]:
    """One cohort through ingest → workers → score; one row per session with its truth.

    ``observed``: the platform is v1.1 — it forwards its media server's log and calls the
    challenge endpoint during playback, and its learners (and bots) meet the challenges."""
    settings = base.model_copy(update={"key_prefix": f"lgeval-{uuid.uuid4().hex[:8]}",
                                       "data_dir": Path(tempfile.mkdtemp(prefix="lg-eval-")),
                                       "rate_limits": {}})  # a private service: measure, don't throttle
    store = Store.open(settings)
    cohort = simulate_cohort(learners=learners, seed=seed, course_id=f"eval-{seed}", observed=observed)
    key, _ = store.apikeys.create("admin", None, "evaluation")
    server = ServerThread(create_app(settings, store=store, workers=1)).start()
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
            replay(client, cohort)
            scores = score_all(client, list(cohort.truth.sessions))
            challenged: dict[str, int] = {}
            if observed:
                challenged = walk(client, cohort)
                scores = score_all(client, list(cohort.truth.sessions))
        rules = rules_from(settings)
        playback = rules.playback(rules.course(store.courses.get(cohort.course_id)))
        rows = []
        for score in scores:
            truth = cohort.truth.sessions[score["session_id"]]
            archetype = truth["archetype"]
            record = store.sessions.load_record(shard_of(score["learner_id"], settings.shards), score["session_id"])
            assert record is not None, f"session {score['session_id']} was scored but has no record"
            state = finalized(record.state, playback)
            rows.append({
                "seed": seed, "session_id": score["session_id"], "learner_id": score["learner_id"],
                "archetype": archetype, "honest": archetype in HONEST_KINDS,
                "hard": archetype in HARD_CLASS or archetype in LINKED_CHEATERS or archetype in LINKED_HONEST
                or archetype in CAREFUL_CHEATERS or archetype in CAREFUL_HONEST,
                "linked": archetype in LINKED_CHEATERS or archetype in LINKED_HONEST,
                "farm": bool(cohort.truth.learners[score["learner_id"]].get("farm")),
                "review_queue": any(f["pattern"] == REVIEW_QUEUE_PATTERN or f["pattern"] in MISCONDUCT
                                    for f in score["flags"]),
                "truth": truth["patterns"], "learner_truth": cohort.truth.learners[score["learner_id"]]["patterns"],
                "flagged": sorted({f["pattern"] for f in score["flags"]}),
                "misconduct_flagged": any(f["pattern"] in MISCONDUCT for f in score["flags"]),
                "risk": score["risk"], "level": score["level"],
                "evidence": [(f["confidence"], f["pattern"] in MISCONDUCT) for f in score["flags"]],
                "effective_s": score["effective_seconds"], "claimed_s": score["claimed_seconds"],
                "true_watched_s": truth["true_watched_seconds"], "first_ts": state.first_ts,
                "features": session_features(state),
                "challenges": challenged.get(score["session_id"], 0),
                "verification": score.get("verification"),
            })
        return rows
    finally:
        server.stop()
        store.delete_all()
        store.close()


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "tp": tp, "fp": fp, "fn": fn}


def pattern_metrics(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per pattern, at session level and at learner level (hard class left out)."""
    regular = [r for r in rows if not r["hard"]]
    out: dict[str, dict[str, Any]] = {}
    learners: dict[tuple[int, str], dict[str, Any]] = {}
    for r in regular:
        entry = learners.setdefault((r["seed"], r["learner_id"]), {"truth": set(r["learner_truth"]), "flagged": set()})
        entry["flagged"] |= set(r["flagged"])
    for pattern in (p for p in PATTERNS if p != REVIEW_QUEUE_PATTERN):  # a queue, not an accusation
        s_tp = sum(pattern in r["truth"] and pattern in r["flagged"] for r in regular)
        s_fp = sum(pattern not in r["truth"] and pattern in r["flagged"] for r in regular)
        s_fn = sum(pattern in r["truth"] and pattern not in r["flagged"] for r in regular)
        l_tp = sum(pattern in v["truth"] and pattern in v["flagged"] for v in learners.values())
        l_fp = sum(pattern not in v["truth"] and pattern in v["flagged"] for v in learners.values())
        l_fn = sum(pattern in v["truth"] and pattern not in v["flagged"] for v in learners.values())
        out[pattern] = {"sessions": _prf(s_tp, s_fp, s_fn), "learners": _prf(l_tp, l_fp, l_fn)}
    return out


def auc_pair(y: list[int], score: list[float]) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    if len(set(y)) < 2:
        return {"roc_auc": float("nan"), "pr_auc": float("nan")}
    return {"roc_auc": round(float(roc_auc_score(y, score)), 4),
            "pr_auc": round(float(average_precision_score(y, score)), 4)}


def generic_baselines(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """pyod IForest and ECOD, river HalfSpaceTrees, on the same feature vectors, unsupervised."""
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    from river import anomaly, compose, preprocessing

    usable = [r for r in rows if not r["hard"] and (r["honest"] or set(r["truth"]) & MISCONDUCT)]
    X = np.array([[r["features"][n] for n in FEATURE_NAMES] for r in usable], dtype=float)
    y = [int(bool(set(r["truth"]) & MISCONDUCT)) for r in usable]
    out = {"learnguard risk": auc_pair(y, [r["risk"] for r in usable])}
    out["pyod IForest"] = auc_pair(y, list(IForest(random_state=0).fit(X).decision_function(X)))
    out["pyod ECOD"] = auc_pair(y, list(ECOD().fit(X).decision_function(X)))
    model = compose.Pipeline(preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(seed=0, n_trees=10, height=8))
    hst_scores = [0.0] * len(usable)
    for index in sorted(range(len(usable)), key=lambda i: (usable[i]["seed"], usable[i]["first_ts"])):
        x = usable[index]["features"]
        hst_scores[index] = model.score_one(x)
        model.learn_one(x)
    out["river HalfSpaceTrees"] = auc_pair(y, hst_scores)
    return out


def reliability(y: list[int], risk: list[float]) -> dict[str, Any]:
    """How often sessions in each risk band were really misconduct (is risk a probability?)."""
    bands = [(0.0, 0.2), (0.2, 0.5), (0.5, 0.8), (0.8, 1.01)]
    table = []
    for low, high in bands:
        members = [(label, value) for label, value in zip(y, risk, strict=True) if low <= value < high]
        if members:
            table.append({"band": f"{low:.1f}–{min(high, 1.0):.1f}", "sessions": len(members),
                          "mean_risk": round(sum(v for _, v in members) / len(members), 4),
                          "observed_rate": round(sum(lbl for lbl, _ in members) / len(members), 4)})
    brier = sum((value - label) ** 2 for label, value in zip(y, risk, strict=True)) / max(len(y), 1)
    return {"bands": table, "brier": round(brier, 5)}


def _fuse_with_model(rows: list[dict[str, Any]], probability: np.ndarray, learned: bool) -> np.ndarray:
    """Each session's risk with a model's flag added, by the service's own fusion."""
    return np.array([fuse_evidence([*row["evidence"], (model_confidence(float(p), learned), learned)])
                     for row, p in zip(rows, probability, strict=True)])


def _precision(flagged: np.ndarray, truth: np.ndarray) -> float | None:
    return round(float(truth[flagged].mean()), 4) if flagged.any() else None


def models_and_labels(rows: list[dict[str, Any]], reviews: tuple[int, ...] = (20, 50, 100)) -> dict[str, Any]:
    """Patterns only vs models only vs fused, and the label loop: precision after N rulings.

    Train on the first half of the sessions in time (per seed order), judge on the rest.
    Unsupervised: the IForest+HBOS ensemble trained on sessions no pattern flagged.
    Label loop: supervisors rule on the first N sessions of the training half's review
    queue (model-only flags first, then pattern flags by risk; the truth decides:
    confirmed if it was misconduct), a semi-supervised model learns from those rulings,
    and its flags (probability ≥ 0.5) are judged on the later half.
    """
    from learnguard.models.batch import SessionModel, matrix

    usable = [r for r in rows if not r["hard"] and (r["honest"] or set(r["truth"]) & MISCONDUCT)]
    usable.sort(key=lambda r: (r["seed"], r["first_ts"]))
    half = len(usable) // 2
    train_rows, test_rows = usable[:half], usable[half:]
    truth = np.array([bool(set(r["truth"]) & MISCONDUCT) for r in test_rows])
    X_train = matrix([r["features"] for r in train_rows])
    X_test = matrix([r["features"] for r in test_rows])
    clean = np.array([not r["misconduct_flagged"] for r in train_rows])
    unsupervised = SessionModel("ensemble").fit(X_train[clean])
    model_conf = unsupervised.predict_proba(X_test)
    risk = np.array([r["risk"] for r in test_rows])
    fused = _fuse_with_model(test_rows, model_conf, learned=False)
    y = truth.astype(int).tolist()
    out: dict[str, Any] = {
        "train_sessions": len(train_rows), "test_sessions": len(test_rows),
        "patterns_only": {**auc_pair(y, risk.tolist()), "precision_at_review": _precision(risk >= 0.5, truth)},
        "models_only": {**auc_pair(y, unsupervised.decision_function(X_test).tolist()),
                        "precision_of_model_flags": _precision(model_conf > 0, truth),
                        "model_flags": int((model_conf > 0).sum())},
        "fused": {**auc_pair(y, fused.tolist()), "precision_at_review": _precision(fused >= 0.5, truth)},
        "label_loop": [],
    }
    train_truth = np.array([bool(set(r["truth"]) & MISCONDUCT) for r in train_rows])
    # the review queue: what only a model raised comes first (that is where rulings teach),
    # then the pattern flags, riskiest first
    train_risk = np.array([r["risk"] for r in train_rows])
    train_model = model_confidence(unsupervised.predict_proba(X_train), learned=False)
    queue = np.argsort(-(np.where(train_risk < 0.5, train_model, 0.0) * 10 + train_risk))
    for n in reviews:
        rulings = np.full(len(train_rows), np.nan)
        rulings[queue[:n]] = train_truth[queue[:n]]
        entry: dict[str, Any] = {"reviews": n, "confirmed": int(np.nansum(rulings))}
        y_semi, weights = SessionModel.semi_labels(rulings, train_risk >= 0.5)
        try:
            semi = SessionModel("semi").fit(X_train, y_semi, weights)
        except ValueError as exc:
            entry["note"] = str(exc)
            out["label_loop"].append(entry)
            continue
        proba = semi.predict_proba(X_test)
        fused_after = _fuse_with_model(test_rows, proba, learned=True)
        entry.update({"model_flags": int((proba >= 0.5).sum()),
                      "precision_of_model_flags": _precision(proba >= 0.5, truth),
                      "recall_of_model_flags": round(float((proba >= 0.5)[truth].mean()), 4) if truth.any() else None,
                      "fused_precision_at_review": _precision(fused_after >= 0.5, truth),
                      **{f"model_{k}": v for k, v in auc_pair(y, proba.tolist()).items()}})
        out["label_loop"].append(entry)
    return out


def linked_metrics(rows: list[dict[str, Any]], plain_honest_rate: float) -> dict[str, Any]:
    """Cheating that spans accounts (session recall of its own pattern, per class), the
    hard honest classes (misconduct-flag rate, per class) and farms (share of farm
    accounts with a session in the review queue), as issue 11 asks."""
    out: dict[str, Any] = {"adversaries": {}, "hard_honest": {}, "plain_honest_misconduct_rate": round(
        plain_honest_rate, 5)}
    for name in LINKED_CHEATERS:
        members = [r for r in rows if r["archetype"] == name and r["truth"]]
        if members:
            caught = sum(bool(set(r["truth"]) & set(r["flagged"])) for r in members)
            out["adversaries"][name] = {"sessions": len(members), "caught": caught,
                                        "recall": round(caught / len(members), 4)}
    for name in LINKED_HONEST:
        members = [r for r in rows if r["archetype"] == name]
        if members:
            flagged = sum(r["misconduct_flagged"] for r in members)
            out["hard_honest"][name] = {"sessions": len(members), "misconduct_flagged": flagged,
                                        "rate": round(flagged / len(members), 4),
                                        "in_review_queue": sum(r["review_queue"] for r in members)}
    farms: dict[tuple[int, str], bool] = {}
    for r in rows:
        if r["farm"]:
            key = (r["seed"], r["learner_id"])
            farms[key] = farms.get(key, False) or r["review_queue"]
    if farms:
        out["farm_accounts"] = {"accounts": len(farms), "in_review_queue": sum(farms.values()),
                                "share": round(sum(farms.values()) / len(farms), 4)}
    return out


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    regular = [r for r in rows if not r["hard"]]
    honest = [r for r in regular if r["honest"]]
    honest_learners: dict[tuple[int, str], bool] = {}
    for r in honest:
        key = (r["seed"], r["learner_id"])
        honest_learners[key] = honest_learners.get(key, False) or r["misconduct_flagged"]
    y = [int(bool(set(r["truth"]) & MISCONDUCT)) for r in regular if r["honest"] or set(r["truth"]) & MISCONDUCT]
    risk = [r["risk"] for r in regular if r["honest"] or set(r["truth"]) & MISCONDUCT]
    errors = [abs(r["effective_s"] - r["true_watched_s"]) for r in honest]
    by_archetype: dict[str, dict[str, int]] = defaultdict(lambda: {"sessions": 0, "with_pattern": 0,
                                                                    "caught": 0, "misconduct_flagged": 0})
    for r in rows:
        entry = by_archetype[r["archetype"]]
        entry["sessions"] += 1
        entry["misconduct_flagged"] += int(r["misconduct_flagged"])
        if r["truth"]:
            entry["with_pattern"] += 1
            entry["caught"] += int(bool(set(r["truth"]) & set(r["flagged"])))
    hard = [r for r in rows if r["archetype"] in HARD_CLASS and r["truth"]]
    hard_y = [1] * len(hard) + [0] * len(honest)
    hard_scores = [r["risk"] for r in hard] + [r["risk"] for r in honest]
    cramming_fp = sum("last_minute_cramming" in r["flagged"] for r in regular
                      if "last_minute_cramming" not in r["learner_truth"])
    return {
        "sessions": len(rows), "honest_sessions": len(honest),
        "patterns": pattern_metrics(rows),
        "honest_false_positive_rate": {
            "per_session": round(sum(r["misconduct_flagged"] for r in honest) / max(len(honest), 1), 5),
            "per_learner": round(sum(honest_learners.values()) / max(len(honest_learners), 1), 5),
            "sessions_flagged": sum(r["misconduct_flagged"] for r in honest),
            "cramming_flags_on_non_crammers": cramming_fp},
        "risk": {**auc_pair(y, risk), "reliability": reliability(y, risk)},
        "effective_seconds_error_honest": {
            "median_abs_s": round(statistics.median(errors), 2) if errors else None,
            "mean_abs_s": round(statistics.fmean(errors), 2) if errors else None,
            "total_effective_h": round(sum(r["effective_s"] for r in honest) / 3600, 2),
            "total_true_h": round(sum(r["true_watched_s"] for r in honest) / 3600, 2)},
        "cheater_time": {
            "claimed_h": round(sum(r["claimed_s"] for r in regular if set(r["truth"]) & MISCONDUCT) / 3600, 2),
            "effective_h": round(sum(r["effective_s"] for r in regular if set(r["truth"]) & MISCONDUCT) / 3600, 2)},
        "by_archetype": dict(sorted(by_archetype.items())),
        "mimic_bots": {"sessions": len(hard),
                       "recall": round(sum(r["misconduct_flagged"] for r in hard) / max(len(hard), 1), 4),
                       **auc_pair(hard_y, hard_scores)},
        "linked": linked_metrics(rows, len(honest) and sum(r["misconduct_flagged"] for r in honest) / len(honest)),
        "baselines": generic_baselines(rows),
        "models": models_and_labels(rows),
    }


def friction(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What honest learners pay for verification: challenges per hour of claimed playback."""
    honest = [r for r in rows if r["honest"]]
    hours = sum(r["claimed_s"] for r in honest) / 3600
    issued = sum(r["challenges"] for r in honest)
    return {"honest_challenges": issued, "honest_playback_h": round(hours, 1),
            "per_session_hour": round(issued / hours, 3) if hours else None}


def by_class(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per archetype: sessions, how many carry a pattern, how many of those were caught, and
    how many were flagged for misconduct (for honest ones, every such flag is false)."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = out.setdefault(r["archetype"], {"honest": r["honest"], "sessions": 0, "with_pattern": 0,
                                                "caught": 0, "misconduct_flagged": 0})
        entry["sessions"] += 1
        entry["misconduct_flagged"] += int(r["misconduct_flagged"])
        if r["truth"]:
            entry["with_pattern"] += 1
            entry["caught"] += int(bool(set(r["truth"]) & set(r["flagged"])))
    return dict(sorted(out.items()))


def careful_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Issue 10's targets: scripted recall over the careful bots, honest false positives."""
    bots = [r for r in rows if r["archetype"] in CAREFUL_CHEATERS and r["truth"]]
    honest = [r for r in rows if r["honest"]]
    y = [int(bool(set(r["truth"]) & MISCONDUCT)) for r in rows if r["honest"] or set(r["truth"]) & MISCONDUCT]
    risk = [r["risk"] for r in rows if r["honest"] or set(r["truth"]) & MISCONDUCT]
    return {"careful_bot_sessions": len(bots),
            "careful_bot_recall": round(sum("scripted_playback" in r["flagged"] for r in bots) / max(len(bots), 1), 4),
            "honest_sessions": len(honest),
            "honest_misconduct_rate": round(sum(r["misconduct_flagged"] for r in honest) / max(len(honest), 1), 5),
            "risk_roc_auc_all": auc_pair(y, risk)["roc_auc"]}


def evaluate(seeds: list[int], learners: int, settings: Settings | None = None, observed: bool = True
             ) -> dict[str, Any]:
    """The claims-only evaluation (a v1 platform) and, with ``observed``, the same cohorts on a
    v1.1 platform that forwards media delivery and shows the service's challenges."""
    base = settings or get_settings()
    rows = [row for seed in seeds for row in run_seed(seed, learners, base)]
    result = {"seeds": seeds, "learners_per_seed": learners, **summarise(rows),
              "claims_only": {**careful_summary(rows), "by_class": by_class(rows)}}
    if observed:
        seen = [row for seed in seeds for row in run_seed(seed, learners, base, observed=True)]
        result["observed"] = {**careful_summary(seen), "friction": friction(seen), "by_class": by_class(seen),
                              "patterns": pattern_metrics(seen), "linked": linked_metrics(seen, 0.0)}
    return result


def print_report(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table("pattern", "session P", "session R", "session F1", "learner P", "learner R", "learner F1",
                  title=f"LearnGuard evaluation — seeds {result['seeds']}, {result['learners_per_seed']} learners each")
    for pattern, levels in result["patterns"].items():
        s, lv = levels["sessions"], levels["learners"]
        table.add_row(pattern, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}",
                      f"{lv['precision']:.3f}", f"{lv['recall']:.3f}", f"{lv['f1']:.3f}")
    console.print(table)
    fp = result["honest_false_positive_rate"]
    console.print(f"honest false positives: {fp['per_session']:.3%} of {result['honest_sessions']} sessions, "
                  f"{fp['per_learner']:.3%} of learners; cramming flags on non-crammers: "
                  f"{fp['cramming_flags_on_non_crammers']} sessions")
    console.print(f"risk: ROC-AUC {result['risk']['roc_auc']}, PR-AUC {result['risk']['pr_auc']}, "
                  f"Brier {result['risk']['reliability']['brier']}")
    for band in result["risk"]["reliability"]["bands"]:
        console.print(f"  risk {band['band']}: {band['sessions']} sessions, mean risk {band['mean_risk']:.3f}, "
                      f"really misconduct {band['observed_rate']:.3f}")
    err = result["effective_seconds_error_honest"]
    console.print(f"effective_seconds vs true watched (honest sessions): median |error| {err['median_abs_s']} s, "
                  f"mean {err['mean_abs_s']} s; {err['total_effective_h']} h credited of {err['total_true_h']} h")
    cheat = result["cheater_time"]
    console.print(f"cheating sessions: {cheat['claimed_h']} h claimed → {cheat['effective_h']} h effective")
    mimic = result["mimic_bots"]
    console.print(f"mimic bots (hard class, separate): recall {mimic['recall']:.3f} of {mimic['sessions']} sessions, "
                  f"ROC-AUC vs honest {mimic['roc_auc']}")
    arch = Table("archetype", "sessions", "with pattern", "caught", "missed", "misconduct flags",
                 title="by archetype (honest ones should have 0 misconduct flags)")
    for name, e in result["by_archetype"].items():
        kind = "honest" if name in HONEST_KINDS else ("hard" if name in HARD_CLASS else "cheater")
        arch.add_row(f"{name} ({kind})", str(e["sessions"]), str(e["with_pattern"]), str(e["caught"]),
                     str(e["with_pattern"] - e["caught"]), str(e["misconduct_flagged"]))
    console.print(arch)
    m = result["models"]
    console.print(f"patterns only: ROC-AUC {m['patterns_only']['roc_auc']}, precision at review "
                  f"{m['patterns_only']['precision_at_review']}; models only (unsupervised ensemble): ROC-AUC "
                  f"{m['models_only']['roc_auc']}, {m['models_only']['model_flags']} model flags with precision "
                  f"{m['models_only']['precision_of_model_flags']}; fused: ROC-AUC {m['fused']['roc_auc']}, "
                  f"precision at review {m['fused']['precision_at_review']} "
                  f"(on the later {m['test_sessions']} sessions)")
    for entry in m["label_loop"]:
        console.print(f"  after {entry['reviews']} rulings ({entry['confirmed']} confirmed): "
                      + (entry.get("note") or f"semi-supervised model flags {entry['model_flags']} sessions, precision "
                         f"{entry['precision_of_model_flags']}, recall {entry['recall_of_model_flags']}, ROC-AUC "
                         f"{entry['model_roc_auc']}; fused precision at review {entry['fused_precision_at_review']}"))
    _print_linked(result, console)
    _print_observed(result, console)
    base = Table("detector (same session features)", "ROC-AUC", "PR-AUC", title="ours vs generic anomaly detectors")
    for name, value in result["baselines"].items():
        base.add_row(name, str(value["roc_auc"]), str(value["pr_auc"]))
    console.print(base)


def _print_linked(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    linked = result["linked"]
    table = Table("class (spans accounts)", "sessions", "caught / flagged", "rate",
                  title="linked adversaries (recall of their pattern) and hard honest classes (misconduct flags)")
    for name, e in linked["adversaries"].items():
        table.add_row(f"{name} (cheater)", str(e["sessions"]), str(e["caught"]), f"{e['recall']:.3f}")
    for name, e in linked["hard_honest"].items():
        table.add_row(f"{name} (honest)", str(e["sessions"]), str(e["misconduct_flagged"]), f"{e['rate']:.3%}")
    console.print(table)
    if "farm_accounts" in linked:
        farm = linked["farm_accounts"]
        console.print(f"farm accounts in the review queue: {farm['in_review_queue']} of {farm['accounts']} "
                      f"({farm['share']:.1%})")


def _print_observed(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    if "observed" in result:
        seen, claims = result["observed"], result["claims_only"]
        both = Table("archetype", "sessions", "v1 claims: caught / flagged", "v1.1 observed: caught / flagged",
                     title="each class on a claims-only platform (v1) and one that sends observed evidence (v1.1)")
        for name, entry in seen["by_class"].items():
            before = claims["by_class"].get(name, {})

            def cell(e: dict) -> str:
                if not e:
                    return "-"
                if e["honest"]:
                    return f"{e['misconduct_flagged']} of {e['sessions']} accused"
                return f"{e['caught']} of {e['with_pattern']} caught"
            both.add_row(name, str(entry["sessions"]), cell(before), cell(entry))
        console.print(both)
        for label, block in (("v1 claims only", claims), ("v1.1 observed", seen)):
            console.print(f"{label}: careful bots' scripted recall {block['careful_bot_recall']:.3f} of "
                          f"{block['careful_bot_sessions']} sessions; honest misconduct-flag rate "
                          f"{block['honest_misconduct_rate']:.3%} of {block['honest_sessions']}; risk ROC-AUC "
                          f"{block['risk_roc_auc_all']}")
        console.print(f"friction: {seen['friction']['per_session_hour']} challenges per hour of honest playback "
                      f"({seen['friction']['honest_challenges']} over {seen['friction']['honest_playback_h']} h)")


def write_json(result: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=float), encoding="utf-8")


__all__ = ["evaluate", "print_report", "write_json", "CHEATERS"]
