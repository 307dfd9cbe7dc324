"""Signed webhooks (issue 12): a ruling that changes a learner's credit reaches the platform
as a signed ``credit.changed``; a failing target is retried, then parked, and never holds
up ingest; a hook hears only of its own org's learners."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi import FastAPI, Request, Response

from learnguard.server_thread import ServerThread, free_port
from learnguard.service.webhooks import sign

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Receiver:
    """A platform's endpoint that fails the first ``failures`` attempts of each delivery."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.got: list[tuple[dict[str, str], bytes]] = []  # the requests it took (answered 204)
        self.tries: dict[str, int] = {}
        self.lock = threading.Lock()
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            delivery = request.headers["x-learnguard-delivery"]
            with self.lock:
                self.tries[delivery] = self.tries.get(delivery, 0) + 1
                if self.tries[delivery] <= self.failures:
                    return Response(status_code=500)
                self.got.append((dict(request.headers), body))
            return Response(status_code=204)


def _until(check, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("not in time")


def test_a_ruling_reaches_the_platform_signed_and_failures_are_retried_then_parked(cohort_service) -> None:
    service, _ = cohort_service
    receiver, other = Receiver(failures=2), Receiver(failures=0)
    target, elsewhere = ServerThread(receiver.app).start(), ServerThread(other.app).start()
    try:
        with service.client("platform") as http:
            before = {c["learner_id"]: c for c in http.get("/v1/credits").json()["items"]}
            made = http.post("/v1/webhooks", json={"url": f"{target.url}/hook"})
            dead = http.post("/v1/webhooks", json={"url": f"http://127.0.0.1:{free_port()}/gone"}).json()
            assert http.post("/v1/webhooks", json={"url": "ftp://x"}).status_code == 400
        assert made.status_code == 201, made.text
        hook = made.json()
        with service.client("platform_other") as http:  # another province's platform
            http.post("/v1/webhooks", json={"url": f"{elsewhere.url}/hook"}).raise_for_status()
            assert http.get("/v1/webhooks").json() == [] or all(
                h["hook_id"] != hook["hook_id"] for h in http.get("/v1/webhooks").json())
        with service.client("admin") as http:
            item = next(i for i in http.get("/v1/reports/flagged").json()["items"]
                        if before[i["learner_id"]]["status"] == "under_review")
            http.post("/v1/flags/review", json={"flag_ids": [f["flag_id"] for f in item["flags"]],
                                                "decision": "dismissed"}).raise_for_status()
        with service.client("platform") as http:
            http.get("/v1/credits").raise_for_status()  # the rows refresh (the background refresher would too)
            accepted = http.post("/v1/events", json=[{  # ingest goes on while a dead target is retried
                "event_id": "wh-1", "ts": "2026-03-02T09:00:00+08:00", "type": "session_start",
                "learner_id": "wh-l", "org_id": "zhejiang/hdu", "course_id": "wh-c", "session_id": "wh-s"}])
            assert accepted.status_code == 202

        def delivered() -> list[dict]:
            with receiver.lock:
                return [json.loads(b) for h, b in receiver.got
                        if json.loads(b)["learner_id"] == item["learner_id"]]
        change = _until(delivered)[0]
        headers, body = next((h, b) for h, b in receiver.got
                             if json.loads(b)["learner_id"] == item["learner_id"])
        stamp = int(headers["x-learnguard-signature"].split(",")[0].removeprefix("t="))
        assert headers["x-learnguard-signature"] == sign(hook["secret"], stamp, body)
        assert change["type"] == "credit.changed" and change["previous_status"] == "under_review"
        assert change["status"] in ("complete", "in_progress")
        assert change["effective_hours"] >= change["previous_effective_hours"]

        with service.client("platform") as http:
            log = _until(lambda: [e for e in http.get(f"/v1/webhooks/{hook['hook_id']}/deliveries").json()
                                  if e["delivery_id"] == change["delivery_id"] and e["outcome"] == "delivered"]
                         and http.get(f"/v1/webhooks/{hook['hook_id']}/deliveries").json())
            mine = [e for e in log if e["delivery_id"] == change["delivery_id"]]
            assert [(e["attempt"], e["status"], e["outcome"]) for e in reversed(mine)] == [
                (1, 500, "retrying"), (2, 500, "retrying"), (3, 204, "delivered")]
            parked = _until(lambda: [e for e in http.get(f"/v1/webhooks/{dead['hook_id']}/deliveries").json()
                                     if e["outcome"] == "parked"])
            assert parked[0]["attempt"] == 3 and parked[0]["status"] is None and parked[0]["error"]
            assert http.delete(f"/v1/webhooks/{dead['hook_id']}").status_code == 204
            assert all(h["hook_id"] != dead["hook_id"] for h in http.get("/v1/webhooks").json())
        with other.lock:
            assert not [b for _, b in other.got if json.loads(b)["org_id"].startswith("zhejiang")]
    finally:
        target.stop()
        elsewhere.stop()
