"""Doctests (``--doctest-modules``) import each module by its installed name.

The folders ``features/``, ``detector/``, … are the subpackages ``learnguard.features``,
``learnguard.detector``, … (pyproject's ``package-dir``). Left to itself pytest would
import ``features/course.py`` a second time as ``features.course``; this swaps its
doctest collector for one that imports ``learnguard.features.course``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest
from _pytest.doctest import DoctestModule

ROOT = Path(__file__).resolve().parent
SUBPACKAGES = {"features", "models", "detector", "service", "api", "simulator"}


def installed_name(path: Path) -> str | None:
    """``learnguard.features.course`` for ``features/course.py`` (None outside the package)."""
    try:
        parts = list(path.resolve().relative_to(ROOT).with_suffix("").parts)
    except ValueError:
        return None
    if not parts or parts[0] not in SUBPACKAGES | {"learnguard"}:
        return None
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts if parts[0] == "learnguard" else ["learnguard", *parts])


class InstalledDoctestModule(DoctestModule):
    def _getobj(self) -> ModuleType:
        name = installed_name(self.path)
        assert name is not None
        return importlib.import_module(name)


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    collected = yield
    return [InstalledDoctestModule.from_parent(parent, path=file_path)
            if isinstance(item, DoctestModule) and installed_name(file_path) else item
            for item in collected]
