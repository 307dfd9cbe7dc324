"""The evaluation command runs the real pipeline end to end and reports every measure."""

from __future__ import annotations

import json

import pytest

from learnguard.evaluate import evaluate, write_json
from learnguard.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_evaluation_reports_patterns_false_positives_and_baselines(tmp_path) -> None:
    result = evaluate([301], learners=40, settings=Settings(data_dir=tmp_path / "data"))
    seen = result["observed"]
    assert seen["friction"]["honest_challenges"] > 0 and seen["friction"]["per_session_hour"] <= 3
    assert seen["honest_misconduct_rate"] <= 0.01 and "regular" in seen["by_class"]
    assert set(result["patterns"]) == {"scripted_playback", "screen_flooding", "last_minute_cramming",
                                       "account_sharing"}
    assert result["honest_false_positive_rate"]["per_session"] <= 0.005
    assert result["risk"]["roc_auc"] > 0.9
    assert {"pyod IForest", "pyod ECOD", "river HalfSpaceTrees"} <= set(result["baselines"])
    assert result["effective_seconds_error_honest"]["median_abs_s"] < 5
    write_json(result, tmp_path / "eval.json")
    assert json.loads((tmp_path / "eval.json").read_text())["seeds"] == [301]
