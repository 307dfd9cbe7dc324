"""A v1.1 platform's side of challenges, for a replayed cohort (the evaluation uses it).

For each session, the platform calls ``POST /v1/sessions/{id}/challenge`` every 3 minutes of
playback it sees (its heartbeats), with the platform server's time of the heartbeat as
``at``; when a challenge comes back, the simulated learner (or bot) meets it as its policy
says, and the platform forwards the answer as a ``check_answer`` with ``received_at``.
Calls for one session go in time order; sessions run on a few threads.
"""

from __future__ import annotations

import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from learnguard.replay import send
from learnguard.simulator.cohort import Cohort
from learnguard.simulator.observed import POLICIES

CALL_EVERY_S = 180.0


def calls_of(events: list[dict[str, Any]]) -> list[tuple[float, str, float]]:
    """(at, video, position) of the platform's challenge calls during a session's playback."""
    calls: list[tuple[float, str, float]] = []
    last = float("-inf")
    beats = sorted((e for e in events if e["type"] == "video_heartbeat"),
                   key=lambda e: e.get("received_at", e["ts"]))
    for beat in beats:
        at = beat.get("received_at", beat["ts"]) / 1000
        if at - last >= CALL_EVERY_S:
            calls.append((at, beat["video_id"], float(beat["position"])))
            last = at
    return calls


def walk(client: httpx.Client, cohort: Cohort, workers: int = 4) -> dict[str, int]:
    """Run every session's challenge calls; returns challenges issued per session."""
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in cohort.events:
        by_session[event["session_id"]].append(event)
    answers = {c["item_id"]: c["answer"] for c in cohort.course.get("checkpoints", [])}

    def one(session_id: str) -> tuple[str, int]:
        events = by_session[session_id]
        policy = POLICIES[cohort.truth.sessions[session_id].get("policy", "person")]
        first = events[0]
        issued = 0
        for at, video_id, position in calls_of(events):
            reply = send(client, "POST", f"/v1/sessions/{session_id}/challenge",
                         json={"at": int(at * 1000), "video_id": video_id, "position": position})
            if reply.status_code != 200:
                continue
            issued += 1
            challenge = reply.json()
            chars = len(challenge["prompt"]) + sum(len(c) for c in challenge["choices"])
            away_after = cohort.truth.sessions[session_id].get("away_after")
            met = None if away_after is not None and at >= away_after else policy.answer(
                random.Random(challenge["challenge_id"]), challenge["kind"], len(challenge["choices"]), chars)
            if met is None:
                continue
            delay, choice = met
            if choice < 0:
                choice = answers.get(challenge["item_id"], 0)
            when = int((at + delay) * 1000)
            send(client, "POST", "/v1/events", json=[{
                "event_id": f"{challenge['challenge_id']}-answer", "type": "check_answer", "ts": when,
                "received_at": when, "learner_id": first["learner_id"], "org_id": first["org_id"],
                "course_id": first["course_id"], "session_id": session_id, "device_id": first.get("device_id"),
                "check_id": challenge["challenge_id"], "choice": choice}])
        return session_id, issued

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(one, sorted(by_session)))
