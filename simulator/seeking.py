"""Where honest learners seek, shaped on real audiences.

The priors (``coursera_priors.json``, made by ``scripts/coursera_priors.py`` from the real
Coursera ML ml-004 per-second aggregates, MIT) say how many seek chains a play start
brings, where in a video they start and where they land (20 bins of the video's length).
A simulated learner draws its seeks from them: a fifth start in the first seconds (skipping
an intro, or jumping to where they left off), the rest spread over the video; landing
points are drawn on their own, so forward jumps skip and backward ones re-watch.
``histogram_of`` and ``distance`` measure how close a simulated cohort comes.
"""

from __future__ import annotations

import json
import math
import random
from functools import lru_cache
from pathlib import Path

BINS = 20


@lru_cache(maxsize=1)
def priors() -> dict:
    return json.loads((Path(__file__).with_name("coursera_priors.json")).read_text())


def histogram_of(per_video: dict[str, list[int]] | dict[str, list[float]]) -> list[float]:
    """Per-second counts of many videos pooled into ``BINS`` bins of relative position."""
    totals = [0.0] * BINS
    for counts in per_video.values():
        length = len(counts)
        for second, count in enumerate(counts):
            totals[min(BINS - 1, second * BINS // length)] += count
    whole = sum(totals) or 1.0
    return [value / whole for value in totals]


def _draw(rng: random.Random, weights: list[float], low: float, duration: float) -> float | None:
    """A position in [low, duration) drawn from the binned ``weights``."""
    first = min(BINS - 1, int(low / duration * BINS))
    usable = [w if i >= first else 0.0 for i, w in enumerate(weights)]
    if not sum(usable):
        return None
    index = rng.choices(range(BINS), weights=usable)[0]
    start = max(low, index * duration / BINS)
    return rng.uniform(start, (index + 1) * duration / BINS)


def planned_seeks(rng: random.Random, start_pos: float, duration: float, rate: float = 1.0
                  ) -> list[tuple[float, float]]:
    """(from, to) of the seek chains one viewing from ``start_pos`` brings, by position."""
    p = priors()
    remaining = max(0.0, 1.0 - start_pos / duration)
    count = _poisson(rng, p["seek_chains_per_play_start"] * rate * remaining)
    seeks = []
    for _ in range(count):
        source = _draw(rng, p["seek_sources"], start_pos, duration)
        target = _draw(rng, p["seek_destinations"], 0.0, duration)
        if source is not None and target is not None and abs(target - source) > 3:
            seeks.append((round(source, 2), round(min(target, duration - 1), 2)))
    return sorted(seeks)


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def distance(simulated: list[float], real: list[float]) -> float:
    """Jensen–Shannon distance (base 2: 0 same, 1 disjoint) between two binned distributions."""
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(simulated, real, base=2))


def simulated_seeking(events: list[dict], durations: dict[str, float]) -> dict[str, list[float] | float]:
    """Where the seeks among ``events`` start and land (``BINS`` bins of each video's
    length) and how many seconds they skip forward per second they go back."""
    sources, targets = [0.0] * BINS, [0.0] * BINS
    forward = back = 0.0
    for event in events:
        duration = durations.get(event.get("video_id", ""), 0.0)
        if event["type"] != "video_seek" or duration <= 0:
            continue
        origin, target = event["from_position"], event["to_position"]
        sources[min(BINS - 1, int(origin / duration * BINS))] += 1
        targets[min(BINS - 1, int(target / duration * BINS))] += 1
        forward += max(0.0, target - origin)
        back += max(0.0, origin - target)
    count = sum(sources) or 1.0
    return {"sources": [x / count for x in sources], "destinations": [x / count for x in targets],
            "forward_per_back_second": forward / back if back else float("inf"), "seeks": sum(sources)}
