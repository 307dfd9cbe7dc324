"""``serve --processes N``: N API processes behind one port on the embedded Redis the
parent started; connections are spread over them and every one ingests and scores."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from learnguard.server_thread import free_port
from tests.processes import make_key, start_serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_two_api_processes_share_the_port_and_the_store(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    serve = start_serve(data, port, 1, "--processes", "2")
    url = f"http://127.0.0.1:{port}"
    try:
        key = make_key(data)

        def pid(_: int) -> int:
            return httpx.get(f"{url}/health", timeout=10).json()["api_process"]

        with ThreadPoolExecutor(16) as pool:
            seen = {p for _ in range(5) for p in pool.map(pid, range(64))}
        assert len(seen) == 2, seen
        events = [{"event_id": f"mp-{n}", "ts": f"2026-03-02T09:00:{n:02d}+08:00", "type": "video_heartbeat",
                   "learner_id": "mp-l", "org_id": "zhejiang/hdu", "course_id": "mp-c", "session_id": "mp-s",
                   "video_id": "v1", "position": float(n)} for n in range(60)]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
            for start in range(0, 60, 10):  # batches land on either process
                assert http.post("/v1/events", json=events[start:start + 10]).json()["accepted"] == 10
            assert http.post("/v1/events", json=events).json()["duplicates"] == 60
            score = http.post("/v1/sessions/mp-s/score").json()
        assert score["events"] == 60
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
