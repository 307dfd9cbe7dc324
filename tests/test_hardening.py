"""Bad input and bad days: each case was reproduced as a 500, a leak or a lie before the fix."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import time
from pathlib import Path

import httpx
import msgspec
import pytest
import redis

from learnguard.api.app import create_app
from learnguard.features.events import Event
from learnguard.server_thread import ServerThread, free_port
from learnguard.service.keys import Keys
from learnguard.service.store import Store
from learnguard.service.worker import Worker
from learnguard.settings import Settings
from tests.conftest import make_keys
from tests.factories import T0, event, watched_session
from tests.processes import make_key, start_serve

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def test_unreadable_bodies_are_400s_never_500s(service) -> None:
    bad_utf8 = (b'[{"event_id":"e\xff1","ts":%d,"type":"click","learner_id":"l","org_id":"zhejiang/hdu",'
                b'"course_id":"c","session_id":"s"}]' % T0)
    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    with service.client("admin") as http:
        for content_type in ("application/json", "application/x-ndjson"):
            body = bad_utf8 if content_type == "application/json" else bad_utf8[1:-1]
            answer = http.post("/v1/events", content=body, headers={"content-type": content_type})
            assert answer.status_code == 400 and "UTF-8" in answer.json()["error"], answer.text
        for method, path in (("POST", "/v1/sessions/s/score"), ("POST", "/v1/flags/f-1/review")):
            answer = http.request(method, path, content=deep)
            assert answer.status_code == 400 and "nested too deeply" in answer.json()["error"]
        course = http.put("/v1/courses/c-deep", content=deep)
        assert course.status_code == 400 and "nested too deeply" in course.json()["error"]
        for since in ("9" * 400, "0001-01-01T00:00:00+14:00x", "not a time"):
            answer = http.get("/v1/reports/flagged", params={"since": since})
            assert answer.status_code == 400 and answer.json()["error"].startswith("since:")
        far = http.put("/v1/courses/c-far", json={"org_id": "zhejiang/hdu", "deadline": "9999-12-31T23:59:59-14:00"})
        assert far.status_code == 400 and far.json()["error"].startswith("deadline:")


def test_a_405_says_which_methods_are_allowed(service) -> None:
    with service.client("admin") as http:
        answer = http.delete("/v1/events")
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"


def test_csv_cells_cannot_become_formulas(service) -> None:
    evil = '=HYPERLINK("evil.example","open me")'
    flood = [event(n, "comment", session="csv-s1", learner=evil, at_s=n * 2, text="好好学习，天天向上")
             for n in range(1, 16)]
    with service.client("platform_hdu") as http:
        assert http.post("/v1/events", json=flood).json()["accepted"] == 15
        assert http.post("/v1/sessions/csv-s1/score").json()["level"] != "normal"
    with service.client("supervisor") as http:
        answer = http.get("/v1/reports/flagged", headers={"accept": "text/csv"})
    rows = list(csv.reader(io.StringIO(answer.text)))
    learner_cells = [row[0] for row in rows[1:]]
    assert f"'{evil}" in learner_cells
    assert not any(cell[:1] in "=+-@" for row in rows[1:] for cell in row)


def test_a_key_over_its_rate_gets_429_with_retry_after_and_others_do_not(store: Store, settings: Settings) -> None:
    limited = settings.model_copy(update={"rate_limits": {"platform": 5.0}, "rate_burst_s": 1.0})
    server = ServerThread(create_app(limited, store=store, workers=0)).start()
    keys = make_keys(store)
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {keys['platform']}"}) as http:
            statuses = [http.get("/v1/courses/none").status_code for _ in range(20)]
            refused = http.get("/v1/courses/none")
        assert statuses.count(429) >= 10 and 404 in statuses
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert "5 requests/s" in refused.json()["error"]
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {keys['admin']}"}) as http:
            assert http.get("/v1/courses/none").status_code == 404  # admin keys are not limited here
        time.sleep(1.2)
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {keys['platform']}"}) as http:
            assert http.get("/v1/courses/none").status_code == 404  # the bucket refilled
    finally:
        server.stop()


def test_a_busy_key_takes_its_tokens_a_few_at_a_time_and_is_never_let_past_its_rate(store: Store) -> None:
    """A platform key at 2,000 requests/s costs one script call per ~40 requests, not one per
    request; a key hammered far beyond its rate gets no more than its burst plus its rate."""
    limiter = store.limits
    calls = [0]
    take = limiter._take

    def counted(*args, **kwargs):
        calls[0] += 1
        return take(*args, **kwargs)
    limiter._take = counted
    started = time.monotonic()
    assert all(limiter.take("busy-platform", 2000.0, 4000.0) == 0 for _ in range(1000))
    assert calls[0] <= 1000 / 40 + 5 or time.monotonic() - started > 0.5  # (a stalled machine lets leases lapse)

    started = time.monotonic()
    waits = [limiter.take("hammered", 100.0, 50.0) for _ in range(20_000)]
    elapsed = time.monotonic() - started
    let_through = waits.count(0)
    assert 50 <= let_through <= 50 + 100 * elapsed + 2
    # every refusal says how long to wait (asked after the loop instead, a machine that stalls
    # 10 ms in between has refilled a token: CI saw it)
    assert all(wait >= 1 for wait in waits if wait != 0) and let_through < len(waits)


def test_health_answers_503_when_the_store_is_down_and_errors_hide_store_internals() -> None:
    port = free_port()  # nothing listens there
    dead = Store(redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5, socket_connect_timeout=0.5),
                 Keys("lgdead"), 2)
    server = ServerThread(create_app(Settings(redis_url=f"redis://127.0.0.1:{port}/0"), store=dead)).start()
    try:
        health = httpx.get(f"{server.url}/health")
        assert health.status_code == 503 and health.json()["status"] == "down"
        answer = httpx.post(f"{server.url}/v1/events", json=[], headers={"Authorization": "Bearer lg_x"})
        assert answer.status_code == 503 and answer.headers["retry-after"]
        assert "lgdead" not in answer.text and "GET" not in answer.text and "apikey" not in answer.text
    finally:
        server.stop()


def _embedded_redis_pid(data_dir: Path) -> int | None:
    """The pid of the embedded server for ``data_dir`` (None once it removed its pid file)."""
    settings = data_dir / "learnguard.rdb.settings"
    if not settings.exists():  # removed when the embedded server shut down
        return None
    registry = json.loads(settings.read_text())
    pidfile = Path(registry["pidfile"])
    return int(pidfile.read_text()) if pidfile.exists() else None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_serve_stops_the_embedded_redis_it_started(tmp_path: Path, stop_with: int) -> None:
    port = free_port()
    serve = start_serve(tmp_path / "data", port, workers=1)
    try:
        pid = _embedded_redis_pid(tmp_path / "data")
        assert pid is not None and _alive(pid)
        serve.send_signal(stop_with)
        # uvicorn shuts down gracefully, then re-raises the signal it caught (exit status -signal)
        assert serve.wait(timeout=30) in (0, -stop_with, 128 + stop_with)
        for _ in range(50):
            if not _alive(pid):
                break
            time.sleep(0.1)
        assert not _alive(pid), "the embedded redis-server outlived serve"
        # a CLI command in embedded mode starts the server from the files and stops it again
        assert make_key(tmp_path / "data").startswith("lg_")
        assert not _alive(_embedded_redis_pid(tmp_path / "data"))
    finally:
        if serve.poll() is None:
            serve.kill()


def test_the_worker_cache_is_bounded_in_bytes(store: Store, settings: Settings) -> None:
    small = settings.model_copy(update={"worker_cache_bytes": 20_000})
    for n in range(30):
        events = watched_session(f"cache-{n}", learner=f"cache-l{n}", minutes=3)
        store.streams.ingest(msgspec.convert(events, list[Event]))
    worker = Worker(store, small)
    for _ in range(40):
        worker.step()
        if sum(s.lag for s in store.streams.shard_stats()) == 0:
            break
    assert sum(s.lag for s in store.streams.shard_stats()) == 0
    assert worker.cached_bytes() <= 20_000
    assert sum(len(records) for records in worker.cache.values()) < 30


@pytest.mark.slow
def test_serve_starts_a_dead_embedded_redis_again_and_keeps_its_data(tmp_path: Path) -> None:
    port = free_port()
    key = make_key(tmp_path / "data")
    serve = start_serve(tmp_path / "data", port, workers=1)
    url = f"http://127.0.0.1:{port}"
    try:
        headers = {"Authorization": f"Bearer {key}"}
        assert httpx.post(f"{url}/v1/events", json=watched_session("before-crash", minutes=1, org="zhejiang"),
                          headers=headers).status_code == 202
        assert httpx.post(f"{url}/v1/sessions/before-crash/score", headers=headers, timeout=15).status_code == 200
        time.sleep(1.5)  # the append-only file is synced every second
        pid = _embedded_redis_pid(tmp_path / "data")
        os.kill(pid, signal.SIGKILL)
        down_at = time.monotonic()
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() - down_at < 30, "serve did not start its embedded redis again"
            time.sleep(0.2)
        for _ in range(20):  # the worker may still be waiting out its back-off
            again = httpx.post(f"{url}/v1/sessions/before-crash/score", headers=headers, timeout=15)
            if again.status_code == 200:
                break
            time.sleep(1)
        assert again.status_code == 200 and again.json()["events"] > 0, again.text
        revived = _embedded_redis_pid(tmp_path / "data")
        assert revived != pid
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
        assert not _alive(revived) and not _alive(_embedded_redis_pid(tmp_path / "data"))
    finally:
        if serve.poll() is None:
            serve.kill()


def test_health_counts_only_workers_that_beat_recently(service) -> None:
    service.store.client.zadd(service.store.keys.workers(), {"a-worker-that-died-yesterday": 1})
    health = httpx.get(f"{service.url}/health").json()
    assert health["workers"] == 1  # the service's own worker thread; the dead one does not count
