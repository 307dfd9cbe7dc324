"""The analysts' notebooks run top to bottom on a small export, so they cannot rot."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from learnguard.detector.policy import rules_from
from learnguard.replay import replay, score_all
from learnguard.service.export import export_features, session_rows
from learnguard.simulator.cohort import simulate_cohort

pytestmark = [pytest.mark.integration, pytest.mark.slow]
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize("backend", ["embedded"])
def test_explore_and_retrain_notebooks_run(service, tmp_path, monkeypatch) -> None:
    cohort = simulate_cohort(learners=30, seed=6)
    with service.client("admin") as http:
        replay(http, cohort)
        score_all(http, list(cohort.truth.sessions))
    export_features(session_rows(service.store, rules_from(service.settings)), tmp_path / "export")
    monkeypatch.setenv("LEARNGUARD_EXPORT", str(tmp_path / "export"))
    monkeypatch.setenv("LEARNGUARD_DATA_DIR", str(service.settings.data_dir))
    monkeypatch.setenv("LEARNGUARD_KEY_PREFIX", service.settings.key_prefix)
    monkeypatch.setenv("LEARNGUARD_SHARDS", str(service.settings.shards))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("REDIS_URL", raising=False)
    for name in ("explore", "retrain"):
        notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{name}: {errors}"
    registry = service.store.registry
    assert registry.active_version() == "v1"
    assert registry.history()[-1]["by"] == "notebook"
