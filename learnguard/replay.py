"""Replaying a simulated cohort through the real HTTP API (demo and evaluation share it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from learnguard.client import call
from learnguard.simulator.cohort import Cohort

BATCH = 1000
MAX_WAITS = 50


def send(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One call as a well-behaved platform makes it (``learnguard.client.call``: on 429 or
    503, wait ``Retry-After`` and send the same request again; event ids make a resend
    harmless)."""
    return call(client, method, url, attempts=MAX_WAITS, **kwargs)


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
