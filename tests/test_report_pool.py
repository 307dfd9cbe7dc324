"""Reports answered by a report process: the same answers as in the API process, and a
report process killed mid-day is replaced at the next report (the API never goes down)."""

from __future__ import annotations

import os
import pickle
import signal

import httpx
import psutil

from learnguard.api.app import create_app
from learnguard.errors import TooManyRequests
from learnguard.server_thread import ServerThread

PATHS = ["/v1/reports/flagged?limit=50", "/v1/reports/flagged?format=csv", "/v1/reports/orgs?depth=2",
         "/v1/reports/trend", "/v1/reports/at-risk?as_of=2026-06-30T00:00:00Z"]


def _report_processes() -> list[psutil.Process]:
    return [child for child in psutil.Process().children(recursive=True)
            if any("spawn_main" in part for part in child.cmdline())]


def test_reports_from_a_report_process_match_and_survive_its_death(cohort_service) -> None:
    service, _ = cohort_service
    settings = service.settings.model_copy(update={"report_processes": 1})
    before = {p.pid for p in _report_processes()}
    # an app that opens its own store answers reports from a process of its own
    separate = ServerThread(create_app(settings)).start()
    headers = {"Authorization": f"Bearer {service.keys['supervisor']}", "Accept-Language": "zh-CN"}
    try:
        with httpx.Client(base_url=service.url, headers=headers, timeout=60) as here, \
                httpx.Client(base_url=separate.url, headers=headers, timeout=60) as there:
            for path in PATHS:
                mine, theirs = here.get(path), there.get(path)
                assert theirs.status_code == mine.status_code == 200, (path, theirs.text)
                assert theirs.headers["content-type"] == mine.headers["content-type"]
                assert theirs.content == mine.content, path
            assert there.get("/v1/reports/flagged").json()["items"], "the cohort has flagged learners"

            spawned = [p for p in _report_processes() if p.pid not in before]
            assert len(spawned) == 1, "one report process, as configured"
            os.kill(spawned[0].pid, signal.SIGKILL)
            spawned[0].wait(10)
            again = there.get("/v1/reports/orgs?depth=2")
            assert again.status_code == 200, again.text
            assert again.content == here.get("/v1/reports/orgs?depth=2").content
            assert there.get("/v1/reports/flagged?limit=1").status_code == 200
    finally:
        separate.stop()
    assert not [p for p in _report_processes() if p.pid not in before and p.is_running()
                and p.status() != psutil.STATUS_ZOMBIE], "report processes stop with the app"


def test_a_domain_error_crosses_processes_whole() -> None:
    error = pickle.loads(pickle.dumps(TooManyRequests("over the limit", retry_after=3, field="key")))
    assert (type(error), error.message, error.retry_after, error.details) == (
        TooManyRequests, "over the limit", 3, {"field": "key"})


def test_a_report_process_does_not_outlive_a_killed_api_process(tmp_path) -> None:
    import time

    from learnguard.server_thread import free_port
    from tests.processes import start_serve

    port = free_port()
    serve = start_serve(tmp_path / "data", port, workers=0)
    try:
        def children() -> list[psutil.Process]:
            return [c for c in psutil.Process(serve.pid).children(recursive=True)
                    if any("spawn_main" in part for part in c.cmdline())]

        deadline = time.monotonic() + 30
        while not children() and time.monotonic() < deadline:
            time.sleep(0.2)
        reporters = children()
        assert reporters, "serve starts its report process"
    finally:
        serve.send_signal(signal.SIGKILL)
        serve.wait(10)
    _, alive = psutil.wait_procs(reporters, timeout=10)
    assert not alive, "the report process stopped with its API process"
