"""Replaying a simulated cohort through the real HTTP API (demo and evaluation share it)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from learnguard.simulator.cohort import Cohort

BATCH = 1000


def replay(client: httpx.Client, cohort: Cohort, on_batch: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Describe the course and send the events in arrival order; returns (accepted, duplicates)."""
    client.put(f"/v1/courses/{cohort.course_id}", json=cohort.course).raise_for_status()
    accepted = duplicates = 0
    for start in range(0, len(cohort.events), BATCH):
        batch = cohort.events[start:start + BATCH]
        answer = client.post("/v1/events", json=batch).raise_for_status().json()
        accepted += answer["accepted"]
        duplicates += answer["duplicates"]
        if on_batch:
            on_batch(len(batch))
    return accepted, duplicates


def score_all(client: httpx.Client, session_ids: list[str],
              on_score: Callable[[], None] | None = None) -> list[dict]:
    scores = []
    for session_id in session_ids:
        scores.append(client.post(f"/v1/sessions/{session_id}/score").raise_for_status().json())
        if on_score:
            on_score()
    return scores
