"""Validation on real learners: the Open University Learning Analytics Dataset (CC BY 4.0).

OULAD has no video logs, but it has what our two learning-effect claims need: assessment
deadlines with the day each submission came in (does leaving work to the last moment go
with worse results?), and scores of early assessments with the final result (does a
mastery estimate from early work predict who passes?). Kuzilek, Hlosta & Zdrahal (2017),
Scientific Data 4:170171.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from learnguard.models.irt import fit_rasch

PASSED = {"Pass", "Distinction"}
LAST_MOMENT_DAYS = 1      # submitted on the deadline's last day, or later
EARLY_ASSESSMENTS = 3     # the first assessments of each presentation, by deadline
SCORE_STEPS = (40, 60, 80)  # each early assessment is three Rasch items: score ≥ 40, 60, 80


WARNING_DAYS = (30, 60, 90, 120)  # days into a presentation at which the early warning is judged
BEHIND_SHARE = 0.75                # flagged when less than this share of the coursework due so far is in


def load(data_dir: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(data_dir / f"{name}.csv")
            for name in ("assessments", "studentAssessment", "studentInfo", "studentRegistration")}


def submissions(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Coursework submissions (TMA, CMA) with their deadline, slack in days and the student's result."""
    assessments = tables["assessments"]
    coursework = assessments[assessments["assessment_type"].isin(["TMA", "CMA"]) & assessments["date"].notna()]
    merged = tables["studentAssessment"].merge(coursework, on="id_assessment")
    merged = merged[merged["is_banked"] == 0].copy()
    merged["slack_days"] = merged["date"] - merged["date_submitted"]
    info = tables["studentInfo"][["code_module", "code_presentation", "id_student", "final_result"]]
    return merged.merge(info, on=["code_module", "code_presentation", "id_student"])


def last_moment_vs_outcome(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Learners who mostly submit at the last moment, against those who submit earlier."""
    subs = submissions(tables)
    subs["last_moment"] = subs["slack_days"] < LAST_MOMENT_DAYS
    per_student = subs.groupby(["code_module", "code_presentation", "id_student"]).agg(
        last_moment_share=("last_moment", "mean"), mean_score=("score", "mean"),
        final_result=("final_result", "first"), submissions=("score", "size")).reset_index()
    per_student = per_student[per_student["submissions"] >= 3]
    per_student["passed"] = per_student["final_result"].isin(PASSED)
    crammers = per_student[per_student["last_moment_share"] >= 0.5]
    early = per_student[per_student["last_moment_share"] < 0.5]
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    rho = spearmanr(per_student["last_moment_share"], per_student["mean_score"], nan_policy="omit")
    return {
        "students": int(len(per_student)),
        "last_moment_students": int(len(crammers)),
        "pass_rate_last_moment": round(float(crammers["passed"].mean()), 4),
        "pass_rate_earlier": round(float(early["passed"].mean()), 4),
        "mean_score_last_moment": round(float(crammers["mean_score"].mean()), 2),
        "mean_score_earlier": round(float(early["mean_score"].mean()), 2),
        "spearman_last_moment_share_vs_score": round(float(rho.statistic), 4),
        "auc_last_moment_share_predicts_failure": round(float(roc_auc_score(
            ~per_student["passed"], per_student["last_moment_share"])), 4),
    }


def early_mastery_predicts_result(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Rasch mastery from each presentation's first assessments vs the final result (ROC-AUC)."""
    from sklearn.metrics import roc_auc_score

    subs = submissions(tables)
    subs = subs[subs["score"].notna()]
    rank = subs.groupby(["code_module", "code_presentation"])["date"].rank(method="dense")
    early = subs[rank <= EARLY_ASSESSMENTS]
    abilities, raw_means, outcomes = [], [], []
    for _, group in early.groupby(["code_module", "code_presentation"]):
        responses = [(str(row.id_student), f"{row.id_assessment}>={step}", float(row.score >= step), 1.0)
                     for row in group.itertuples() for step in SCORE_STEPS]
        fit = fit_rasch(responses)
        per_student = group.groupby("id_student").agg(final_result=("final_result", "first"),
                                                       mean_score=("score", "mean"))
        for student, row in per_student.iterrows():
            abilities.append(fit.abilities[str(student)])
            raw_means.append(row["mean_score"])
            outcomes.append(row["final_result"] in PASSED)
    y = np.array(outcomes)
    return {"students": len(y), "presentations": int(early.groupby(["code_module", "code_presentation"]).ngroups),
            "pass_share": round(float(y.mean()), 4),
            "auc_rasch_mastery": round(float(roc_auc_score(y, abilities)), 4),
            "auc_mean_early_score": round(float(roc_auc_score(y, raw_means)), 4)}


def early_warning(tables: dict[str, pd.DataFrame], days: tuple[int, ...] = WARNING_DAYS,
                  behind_share: float = BEHIND_SHARE) -> dict[str, Any]:
    """How early, and how precisely, falling behind predicts not finishing.

    The service warns of a learner whose pace so far will not reach the course's hours by
    the deadline (``/v1/reports/at-risk``). OULAD has no study hours; its pace is the
    coursework: at day ``d`` of a presentation, the share of the coursework due by then
    that the student has handed in. Flagged when under ``behind_share``; judged against
    not finishing (Withdrawn or Fail), over the students still registered at ``d`` who
    had coursework due. Precision is how many flagged did not finish; recall, how many of
    those who did not finish were flagged by then.
    """
    assessments = tables["assessments"]
    coursework = assessments[assessments["assessment_type"].isin(["TMA", "CMA"]) & assessments["date"].notna()]
    info = tables["studentInfo"][["code_module", "code_presentation", "id_student", "final_result"]]
    registration = tables["studentRegistration"]
    keys = ["code_module", "code_presentation"]
    handed = tables["studentAssessment"].merge(coursework[["id_assessment", *keys]], on="id_assessment")
    out: dict[str, Any] = {"behind_share": behind_share, "by_day": []}
    for day in days:
        due = coursework[coursework["date"] <= day].groupby(keys).size().rename("due").reset_index()
        still = registration[registration["date_unregistration"].isna() | (registration["date_unregistration"] > day)]
        students = still.merge(info, on=[*keys, "id_student"]).merge(due, on=keys)
        submitted = handed[(handed["date_submitted"] <= day) & handed["id_assessment"].isin(
            coursework.loc[coursework["date"] <= day, "id_assessment"])]
        counts = submitted.groupby([*keys, "id_student"]).size().rename("handed").reset_index()
        students = students.merge(counts, on=[*keys, "id_student"], how="left").fillna({"handed": 0})
        flagged = students["handed"] / students["due"] < behind_share
        failed = ~students["final_result"].isin(PASSED)
        hits = int((flagged & failed).sum())
        out["by_day"].append({
            "day": day, "students": int(len(students)), "not_finishing_rate": round(float(failed.mean()), 4),
            "flagged": int(flagged.sum()),
            "precision": round(hits / max(1, int(flagged.sum())), 4),
            "recall": round(hits / max(1, int(failed.sum())), 4)})
    return out


def validate(data_dir: Path) -> dict[str, Any]:
    tables = load(data_dir)
    return {"last_moment": last_moment_vs_outcome(tables), "early_mastery": early_mastery_predicts_result(tables),
            "early_warning": early_warning(tables)}
