"""Replaying a simulated cohort through the real HTTP API (demo and evaluation share it)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from learnguard.simulator.cohort import Cohort

BATCH = 1000
MAX_WAITS = 50


def send(client: httpx.Client, method: str, url: str, **kwargs: object) -> httpx.Response:
    """One call as a well-behaved platform makes it: on 429 or 503, wait ``Retry-After`` and
    send the same request again (event ids make a resend harmless)."""
    for _ in range(MAX_WAITS):
        answer = client.request(method, url, **kwargs)  # type: ignore[arg-type]
        if answer.status_code not in (429, 503):
            return answer.raise_for_status()
        time.sleep(min(5.0, float(answer.headers.get("retry-after") or 1)))
    return answer.raise_for_status()


def replay(client: httpx.Client, cohort: Cohort, on_batch: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Describe the course and send the events in arrival order; returns (accepted, duplicates)."""
    send(client, "PUT", f"/v1/courses/{cohort.course_id}", json=cohort.course)
    accepted = duplicates = 0
    for start in range(0, len(cohort.events), BATCH):
        batch = cohort.events[start:start + BATCH]
        answer = send(client, "POST", "/v1/events", json=batch).json()
        accepted += answer["accepted"]
        duplicates += answer["duplicates"]
        if on_batch:
            on_batch(len(batch))
    return accepted, duplicates


def score_all(client: httpx.Client, session_ids: list[str],
              on_score: Callable[[], None] | None = None) -> list[dict]:
    scores = []
    for session_id in session_ids:
        scores.append(send(client, "POST", f"/v1/sessions/{session_id}/score").json())
        if on_score:
            on_score()
    return scores
