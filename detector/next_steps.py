"""一人一策: a learner's next steps in a course, and the early warning a supervisor reads.

Two things a learner can act on:

- **what to re-watch**: the segments before the checkpoints and quiz items they answered
  wrong, those the course's Rasch model expected them to get right first (an unexpected
  miss, P(right) ≥ 0.6, says more than a hard item missed), then videos they watched less
  than 90 % of;
- **a pace to the deadline**: the hours that still stand between them and what the course
  can credit, per day left — beside their pace so far.

The same pace, over every learner of a course, is the early warning (``pace_of``): a
learner is at risk when at their pace since the course opened (or since they started) they
will not reach the creditable hours by the deadline, and is *starting to cram* when they
would now need at least twice their pace so far. Pure: no I/O.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from learnguard.features.course import Checkpoint

UNEXPECTED_MISS = 0.6   # P(right) under the Rasch model above which a wrong answer is unexpected
SEGMENT_S = 180.0       # the stretch before a checkpoint worth re-watching
INCOMPLETE = 0.9        # a video watched less than this share is suggested again
CRAM_FACTOR = 2.0       # needing this many times one's pace so far is starting to cram
MAX_STEPS = 5


class Pace(msgspec.Struct, omit_defaults=True):
    """Where a learner stands against the deadline (hours, days, hours per day)."""

    effective_hours: float
    creditable_hours: float
    remaining_hours: float
    days_left: float
    pace_hours_per_day: float
    needed_hours_per_day: float | None
    projected_hours: float
    at_risk: bool
    cramming_ahead: bool
    complete: bool


def pace_of(effective_hours: float, creditable_hours: float, started_at: float, deadline: float, as_of: float
            ) -> Pace:
    """The learner's pace, projection and warning at ``as_of`` (epoch seconds).

    >>> day = 86400.0
    >>> p = pace_of(2.0, 10.0, started_at=0.0, deadline=30 * day, as_of=10 * day)
    >>> (p.pace_hours_per_day, p.projected_hours, p.needed_hours_per_day, p.at_risk, p.cramming_ahead)
    (0.2, 6.0, 0.4, True, True)
    >>> pace_of(6.0, 10.0, started_at=0.0, deadline=30 * day, as_of=10 * day).at_risk
    False
    """
    elapsed_days = max(1.0, (as_of - started_at) / 86400)
    days_left = max(0.0, (deadline - as_of) / 86400)
    pace = effective_hours / elapsed_days
    remaining = max(0.0, creditable_hours - effective_hours)
    complete = remaining <= 0
    projected = effective_hours + pace * days_left
    needed = remaining / days_left if days_left > 0 else None
    at_risk = not complete and projected < creditable_hours
    cramming = not complete and needed is not None and needed >= CRAM_FACTOR * max(pace, 1e-9)
    return Pace(round(effective_hours, 2), round(creditable_hours, 2), round(remaining, 2), round(days_left, 1),
                round(pace, 3), None if needed is None else round(needed, 3), round(projected, 2), at_risk,
                cramming, complete)


def creditable(required_hours: float | None, video_seconds: float) -> tuple[float | None, str | None]:
    """The hours a learner can complete a course with: ``required_hours``, or what its videos
    hold when that is less (a course asking 40 h of 12 h of video would leave everyone
    incomplete), and a note saying so; None when nothing is required.

    >>> creditable(40.0, 12.5 * 3600)
    (12.5, 'requires 40 h but its videos hold 12.5 h: completion counts against 12.5 h')
    >>> creditable(8.0, 0.0), creditable(None, 3600.0)
    ((8.0, None), (None, None))
    """
    if not required_hours:
        return None, None
    video_hours = video_seconds / 3600
    if video_seconds > 0 and video_hours < required_hours:
        return round(video_hours, 4), (f"requires {required_hours:g} h but its videos hold {video_hours:.1f} h: "
                                       f"completion counts against {video_hours:.1f} h")
    return float(required_hours), None


def plan(wrong_items: list[str], checkpoints: tuple[Checkpoint, ...], coverage: dict[str, float],
         ability: float | None, difficulties: dict[str, float], effective_hours: float,
         creditable_hours: float | None, started_at: float, deadline: float | None, as_of: float) -> dict[str, Any]:
    """The ``next_steps`` of a portrait entry: what to re-watch and the pace to the deadline."""
    steps: dict[str, Any] = {"rewatch": rewatch(wrong_items, checkpoints, coverage, ability, difficulties)}
    advice = []
    if creditable_hours is not None and deadline is not None:
        pace = pace_of(effective_hours, creditable_hours, started_at, deadline, as_of)
        steps["pace"] = msgspec.to_builtins(pace)
        if pace.complete:
            advice.append(f"{pace.effective_hours:g} h stand: the course's {pace.creditable_hours:g} h are reached")
        elif pace.days_left <= 0:
            advice.append(f"the deadline has passed with {pace.remaining_hours:g} h still missing")
        else:
            advice.append(f"{pace.remaining_hours:g} h to go in {pace.days_left:g} days: "
                          f"{pace.needed_hours_per_day:.2f} h a day (so far {pace.pace_hours_per_day:.2f} h a day)")
            if pace.at_risk:
                advice.append(f"at this pace {pace.projected_hours:g} of {pace.creditable_hours:g} h by the deadline")
    steps["advice"] = advice
    return steps


def unexpected(ability: float, difficulty: float) -> float:
    """P(right) under the Rasch model (logits)."""
    return 1.0 / (1.0 + math.exp(difficulty - ability))


def rewatch(wrong_items: list[str], checkpoints: tuple[Checkpoint, ...], coverage: dict[str, float],
            ability: float | None, difficulties: dict[str, float]) -> list[dict[str, Any]]:
    """What to re-watch, most telling first: segments before items answered wrong (unexpected
    misses first), then videos watched less than ``INCOMPLETE``.

    >>> cp = (Checkpoint("q1", "v1", 600.0, "?", ["a", "b"], 0), Checkpoint("q2", "v2", 300.0, "?", ["a", "b"], 1))
    >>> seen = {"v1": 1.0, "v2": 1.0, "v3": 0.4}
    >>> [s["video_id"] for s in rewatch(["q2", "q1"], cp, seen, 1.0, {"q1": -1.0, "q2": 2.0})]
    ['v1', 'v2', 'v3']
    """
    bound = {c.item_id: c for c in checkpoints}
    steps: list[dict[str, Any]] = []
    missed = []
    for item in wrong_items:
        checkpoint = bound.get(item)
        if checkpoint is None:
            continue
        chance = unexpected(ability, difficulties[item]) if ability is not None and item in difficulties else None
        missed.append((-(chance or 0.0), item, checkpoint, chance))
    for _, item, checkpoint, chance in sorted(missed, key=lambda m: (m[0], m[1])):
        why = (f"answered {item} wrong where the course model expected a right answer ({chance:.0%})"
               if chance is not None and chance >= UNEXPECTED_MISS else f"answered {item} wrong")
        steps.append({"video_id": checkpoint.video_id, "from_s": max(0.0, checkpoint.after_position - SEGMENT_S),
                      "to_s": checkpoint.after_position, "item_id": item, "why": why,
                      "p_right": None if chance is None else round(chance, 3)})
    for video, share in sorted(coverage.items(), key=lambda kv: (kv[1], kv[0])):
        if share < INCOMPLETE:
            steps.append({"video_id": video, "why": f"watched {share:.0%} of it", "coverage": round(share, 3)})
    return steps[:MAX_STEPS]
