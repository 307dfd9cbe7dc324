"""What an operator relies on: request ids in JSON logs, request metrics, a worker that
serves its own metrics, and deployment files that hold together (Docker cannot run here,
so the files are linted and checked, not started)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from learnguard.logs import JsonFormatter, request_id
from learnguard.server_thread import free_port
from tests.conftest import SERVER_URL

ROOT = Path(__file__).resolve().parent.parent


def test_every_answer_has_a_request_id_and_is_counted_by_route(service) -> None:
    with service.client("platform") as http:
        given = http.get("/v1/courses/none", headers={"X-Request-ID": "req-42"})
        fresh = http.get("/v1/courses/none")
        odd = http.get("/v1/courses/none", headers={"X-Request-ID": "bad id with spaces"})
    assert given.headers["x-request-id"] == "req-42"
    assert len(fresh.headers["x-request-id"]) == 32 and odd.headers["x-request-id"] != "bad id with spaces"
    metrics = httpx.get(f"{service.url}/metrics").text
    assert 'learnguard_http_requests_total{method="GET",route="/v1/courses/{course_id}",status="404"}' in metrics
    assert 'learnguard_http_request_seconds_bucket{le="0.01",method="GET",route="/v1/courses/{course_id}"}' in metrics


def test_log_lines_are_json_with_the_request_id() -> None:
    record = logging.LogRecord("learnguard.api", logging.WARNING, __file__, 1, "store slow: %d ms", (250,), None)
    token = request_id.set("req-7")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["message"] == "store slow: 250 ms" and line["request_id"] == "req-7" and line["level"] == "warning"


@pytest.mark.integration
def test_a_standalone_worker_serves_metrics(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "REDIS_URL": SERVER_URL, "LEARNGUARD_KEY_PREFIX": f"lgops-{port}",
           "LEARNGUARD_DATA_DIR": str(tmp_path)}
    worker = subprocess.Popen([sys.executable, "-m", "learnguard.cli", "worker", "--metrics-port", str(port)],
                              env=env, stderr=subprocess.PIPE, text=True)
    try:
        body = ""
        for _ in range(100):
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert "learnguard_events_processed_total" in body and "learnguard_worker_round_errors_total" in body
        worker.send_signal(signal.SIGTERM)
        _, logs = worker.communicate(timeout=30)
        assert worker.returncode == 0
        lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
        assert any("started" in line["message"] for line in lines), logs[-2000:]
    finally:
        if worker.poll() is None:
            worker.kill()
        import redis

        client = redis.Redis.from_url(SERVER_URL)
        for key in client.scan_iter(match=f"lgops-{port}:*"):
            client.delete(key)


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "Dockerfile").read_text()
    assert "USER 10001" in text and "-slim" in text and "HEALTHCHECK" in text


def test_compose_runs_redis_with_aof_the_api_two_workers_and_prometheus() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"redis", "api", "worker-1", "worker-2", "prometheus"} <= set(services)
    assert "--appendonly" in services["redis"]["command"] and "yes" in services["redis"]["command"]
    for name in ("api", "worker-1", "worker-2"):
        assert services[name]["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert services["worker-2"]["command"] == ["worker", "--metrics-port", "9101"]
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    targets = {t for job in prometheus["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
    assert targets == {"api:8000", "worker-1:9101", "worker-2:9101"}
    mounted = services["prometheus"]["volumes"][0].split(":")[0]
    assert (ROOT / mounted).resolve() == (ROOT / "deploy" / "prometheus.yml").resolve()
    copied = [line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines()
              if line.startswith("COPY") and "--from" not in line]
    assert all((ROOT / path).exists() for path in copied), copied
