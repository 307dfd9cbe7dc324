"""The contract ships with the project (docs/contract/) and the service keeps it both ways:
every event we accept is valid under the JSON Schema, and every event the schema refuses
we refuse too, naming the field. (We are stricter where the README says so: ids usable in
a URL path, times before 2100.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator

from learnguard.features.events import validate_raw_events
from learnguard.simulator.cohort import simulate_cohort

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "docs" / "contract"
SHARED = ROOT.parent / "shared" / "spec"
SCHEMA = json.loads((CONTRACT / "event.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _ours(event: Any) -> tuple[bool, str]:
    accepted, _, rejected = validate_raw_events([msgspec.Raw(json.dumps(event).encode())])
    return bool(accepted), rejected[0].error if rejected else ""


@pytest.mark.skipif(not SHARED.exists(), reason="the binding contract is in ../shared/spec")
def test_the_contract_in_the_repo_is_the_binding_one() -> None:
    for name in ("CONTRACT.md", "event.schema.json"):
        assert (CONTRACT / name).read_bytes() == (SHARED / name).read_bytes(), f"docs/contract/{name} drifted"


@pytest.fixture(scope="module")
def cohort_events() -> list[dict[str, Any]]:
    events = simulate_cohort(learners=24, seed=11, observed=True).events
    return [json.loads(msgspec.json.encode(e)) for e in events]


def test_every_event_we_accept_is_valid_under_the_schema(cohort_events) -> None:
    kinds = {e["type"] for e in cohort_events}
    assert len(kinds) >= 12, kinds
    for event in cohort_events:
        assert _ours(event)[0], event
        errors = [e.message for e in VALIDATOR.iter_errors(event)]
        assert not errors, (event, errors)


def _mutations(event: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for field, value in event.items():
        out.append({k: v for k, v in event.items() if k != field})
        for bad in (None, "x" if not isinstance(value, str) else 5, -1, 10**13, "", "y" * 600, True, [], {}):
            out.append({**event, field: bad})
    out += [{**event, "ts": 0}, {**event, "ts": "yesterday"}, {**event, "type": "video_teleport"},
            {**event, "rate": 0}, {**event, "position": 90000}]
    return out


def test_every_event_the_schema_refuses_we_refuse_naming_the_field(cohort_events) -> None:
    samples = {e["type"]: e for e in cohort_events}
    checked = 0
    for event in samples.values():
        for mutated in _mutations(event):
            if VALIDATOR.is_valid(mutated):
                continue
            accepted, error = _ours(mutated)
            why = [e.message for e in VALIDATOR.iter_errors(mutated)]
            assert not accepted, ("the schema refuses it, we accepted it", mutated, why)
            assert ":" in error and error.split(":")[0].strip(), error
            checked += 1
    assert checked > 500, checked


def test_the_api_docs_load_without_a_cdn(service) -> None:
    import httpx

    with httpx.Client(base_url=service.url, timeout=30) as http:
        for page in ("/docs", "/redoc"):
            html = http.get(page)
            assert html.status_code == 200 and "cdn" not in html.text.lower(), page
        assert http.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
        assert http.get("/static-offline-docs/redoc.standalone.js").status_code == 200
        spec = http.get("/openapi.json").json()
    assert spec["paths"]["/xapi/statements"]["post"]["responses"]["400"]


def test_the_xapi_routes_document_basic_auth_and_the_version_header() -> None:
    from learnguard.api.app import create_app
    from learnguard.settings import Settings

    spec = create_app(Settings()).openapi()
    assert spec["components"]["securitySchemes"]["HTTPBasic"]["scheme"] == "basic"
    post = spec["paths"]["/xapi/statements"]["post"]
    assert {"HTTPBasic": []} in post["security"]
    assert any(p["name"] == "X-Experience-API-Version" and p["required"] for p in post["parameters"])
