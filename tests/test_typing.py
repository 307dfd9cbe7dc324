"""mypy and ruff hold on the whole tree (STYLE 14); mypy reads the package under its installed names.

The folders are subpackages of ``learnguard`` only once installed (``package-dir``), so the
check runs on a tree of links that lays them out as the wheel does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBPACKAGES = ("features", "models", "detector", "service", "api", "simulator")


@pytest.mark.slow
def test_the_whole_package_type_checks(tmp_path: Path) -> None:
    package = tmp_path / "learnguard"
    package.mkdir()
    for path in (ROOT / "learnguard").glob("*.py"):
        (package / path.name).symlink_to(path)
    for name in SUBPACKAGES:
        (package / name).symlink_to(ROOT / name, target_is_directory=True)
    result = subprocess.run([sys.executable, "-m", "mypy", "-p", "learnguard", "--config-file",
                             str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path / ".mypy_cache")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_holds_on_the_tree() -> None:
    """The lint rules in pyproject (with the complexity limit) hold everywhere."""
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
