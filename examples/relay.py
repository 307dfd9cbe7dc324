"""A platform's relay for the browser tracker (``tracker/learnguard-tracker.js``).

The browser never holds a LearnGuard key and is never trusted to say who it is: the relay
sets ``learner_id`` and ``org_id`` from the platform's own sign-in, stamps ``received_at``
with the server's clock (contract §1: client clocks that run ahead or behind show), and
forwards batches with the platform's key. It also asks the service for challenges
(contract §10) on the tracker's behalf.

    LEARNGUARD_URL=http://127.0.0.1:8000 LEARNGUARD_KEY=lg_… uvicorn examples.relay:app

``who`` below reads a cookie to stay short: use your platform's real session.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI, Request, Response

Who = Callable[[Request], tuple[str, str]]


def who_from_cookie(request: Request) -> tuple[str, str]:
    """(learner_id, org_id) of the signed-in user — here a cookie the platform set."""
    return request.cookies.get("platform_user", "anonymous"), request.cookies.get("platform_org", "unknown")


def make_relay(url: str, key: str, who: Who = who_from_cookie) -> FastAPI:
    relay = FastAPI(title="platform relay for LearnGuard")
    service = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    @relay.post("/lg/events")
    async def events(request: Request) -> Response:
        learner, org = who(request)
        now = datetime.now(UTC).isoformat()
        batch = await request.json()
        if not isinstance(batch, list):
            return Response('{"error": "body: a JSON array of events"}', 400, media_type="application/json")
        for event in batch:
            if isinstance(event, dict):
                event.update(learner_id=learner, org_id=org, received_at=now)
        answer = service.post("/v1/events", json=batch)
        return Response(answer.content, answer.status_code, media_type="application/json")

    @relay.post("/lg/challenge")
    async def challenge(request: Request) -> Response:
        asked = await request.json()
        answer = service.post(f"/v1/sessions/{asked['session_id']}/challenge",
                              json={"video_id": asked.get("video_id"), "position": asked.get("position")})
        return Response(answer.content, answer.status_code, media_type="application/json")

    return relay


if __name__ != "__main__" and os.environ.get("LEARNGUARD_KEY"):
    app = make_relay(os.environ.get("LEARNGUARD_URL", "http://127.0.0.1:8000"), os.environ["LEARNGUARD_KEY"])
