"""mypy holds on the pure core (STYLE 14): features, the detectors, fusion, IRT."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = ["features", "detector/base.py", "detector/physics.py", "detector/person.py", "detector/flooding.py",
        "detector/scripted.py", "detector/context.py", "detector/scoring.py", "models/cohort.py", "models/irt.py"]


@pytest.mark.slow
def test_the_pure_core_type_checks() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "--follow-imports=silent", *PURE], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
