"""Never a 500 for bad input: Hypothesis on the body readers, schemathesis on the real
OpenAPI against the running service (every route, generated and mutated requests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learnguard.api.app import create_app
from learnguard.api.ingest import parse_events
from learnguard.errors import LearnGuardError
from learnguard.features.course import CourseError, parse_course
from learnguard.server_thread import ServerThread
from learnguard.service.store import Store
from learnguard.settings import Settings
from tests.conftest import cleanup, make_settings
from tests.factories import event

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = Settings()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30)
FIELDS = ("event_id", "ts", "type", "learner_id", "org_id", "course_id", "session_id", "video_id", "position",
          "rate", "received_at", "trusted", "text")
event_like = st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, json_values))


def _reads_or_refuses(body: bytes, ndjson: bool) -> None:
    try:
        events, indexes, rejected = parse_events(body, ndjson, SETTINGS)
    except LearnGuardError as exc:
        assert 400 <= exc.status < 500, exc
        return
    assert len(events) == len(indexes)
    assert all(r.error and ":" in r.error for r in rejected)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.booleans())
def test_any_bytes_are_read_or_refused_with_a_4xx(body: bytes, ndjson: bool) -> None:
    _reads_or_refuses(body, ndjson)


@settings(max_examples=300, deadline=None)
@given(st.lists(event_like | json_values, max_size=8))
def test_any_json_is_read_or_refused_per_event(values: list) -> None:
    _reads_or_refuses(json.dumps(values).encode(), ndjson=False)
    _reads_or_refuses("\n".join(json.dumps(v) for v in values).encode(), ndjson=True)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["ts", "received_at", "session_id", "learner_id", "rate", "position"]),
                       json_values, max_size=3))
def test_mutated_valid_events_are_accepted_or_rejected_with_the_field_named(changes: dict) -> None:
    raw = {**event(1, "video_heartbeat", video_id="v1", position=30.0, rate=1.0), **changes}
    events, _, rejected = parse_events(json.dumps([raw]).encode(), False, SETTINGS)
    assert len(events) + len(rejected) == 1
    if rejected:
        field = rejected[0].error.split(":")[0]
        assert field in changes or field in ("event", "type"), rejected[0].error


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_course_body_is_read_or_refused(value: object) -> None:
    try:
        parse_course(json.dumps(value).encode())
    except CourseError as exc:
        assert ":" in str(exc)


@pytest.fixture
def server_store(embedded_dir: Path):
    settings = make_settings("server", embedded_dir, score_wait_s=0.5)
    store = Store.open(settings)
    yield store, settings
    cleanup(store)


@pytest.mark.slow
@pytest.mark.integration
def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(server_store) -> None:
    store, settings = server_store
    key, _ = store.apikeys.create("admin", None, "schemathesis")
    server = ServerThread(create_app(settings, store=store, workers=1)).start()
    try:
        result = subprocess.run(
            [str(Path(sys.executable).with_name("st")), "run", f"{server.url}/openapi.json",
             "-H", f"Authorization: Bearer {key}",
             "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                         "response_schema_conformance",
             "--phases", "coverage,fuzzing", "-n", "15", "--seed", "7", "--max-time", "60"],
            capture_output=True, text=True, timeout=300)
    finally:
        server.stop()
    report = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "passed" in report and "failed" not in report.split("SUMMARY")[-1].lower(), report
