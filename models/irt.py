"""Item response theory: a Rasch model fitted jointly to learners and items.

P(correct) = sigmoid(ability − difficulty). Abilities and difficulties are estimated
together by alternating Newton steps (joint maximum a posteriori with a weak N(0, 2²)
prior, which keeps all-correct and all-wrong learners finite). Each response carries a
weight, so answers from flagged sessions can count less and cheaters do not distort the
cohort's item difficulties. Standard errors come from the Fisher information.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

PRIOR_SD = 2.0


class RaschFit(msgspec.Struct):
    """Fitted abilities and difficulties (logits) with standard errors."""

    abilities: dict[str, float]
    ability_se: dict[str, float]
    difficulties: dict[str, float]
    difficulty_se: dict[str, float]
    responses: int


def fit_rasch(responses: list[tuple[str, str, float, float]], iterations: int = 60) -> RaschFit:
    """Fit from ``(learner, item, correct 0/1, weight)`` tuples.

    >>> import random
    >>> rng = random.Random(0)
    >>> truth = {f"l{i}": rng.gauss(0, 1) for i in range(300)}
    >>> items = {f"q{j}": rng.gauss(0, 1) for j in range(20)}
    >>> data = [(l, q, float(rng.random() < 1 / (1 + math.exp(-(a - b)))), 1.0)
    ...         for l, a in truth.items() for q, b in items.items()]
    >>> fit = fit_rasch(data)
    >>> float(np.corrcoef([fit.difficulties[q] for q in items], list(items.values()))[0, 1]) > 0.95
    True
    """
    if not responses:
        return RaschFit({}, {}, {}, {}, 0)
    learners = sorted({r[0] for r in responses})
    items = sorted({r[1] for r in responses})
    l_index = {name: i for i, name in enumerate(learners)}
    i_index = {name: i for i, name in enumerate(items)}
    li = np.array([l_index[r[0]] for r in responses])
    ii = np.array([i_index[r[1]] for r in responses])
    y = np.array([r[2] for r in responses], dtype=float)
    w = np.array([r[3] for r in responses], dtype=float)
    theta = np.zeros(len(learners))
    b = np.zeros(len(items))
    prior = 1.0 / PRIOR_SD**2
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(theta[li] - b[ii])))
        grad = np.bincount(li, w * (y - p), len(learners)) - prior * theta
        info = np.bincount(li, w * p * (1 - p), len(learners)) + prior
        theta += np.clip(grad / info, -1.0, 1.0)
        p = 1.0 / (1.0 + np.exp(-(theta[li] - b[ii])))
        grad_b = -np.bincount(ii, w * (y - p), len(items)) - prior * b
        info_b = np.bincount(ii, w * p * (1 - p), len(items)) + prior
        step = np.clip(grad_b / info_b, -1.0, 1.0)
        b += step
        b -= b.mean()
        if np.abs(step).max() < 1e-4:
            break
    p = 1.0 / (1.0 + np.exp(-(theta[li] - b[ii])))
    info = np.bincount(li, w * p * (1 - p), len(learners)) + prior
    info_b = np.bincount(ii, w * p * (1 - p), len(items)) + prior
    return RaschFit(
        abilities={name: float(theta[i]) for name, i in l_index.items()},
        ability_se={name: float(1 / math.sqrt(info[i])) for name, i in l_index.items()},
        difficulties={name: float(b[i]) for name, i in i_index.items()},
        difficulty_se={name: float(1 / math.sqrt(info_b[i])) for name, i in i_index.items()},
        responses=len(responses))


def percent(ability: float) -> float:
    """Ability as the expected share correct on an item of average difficulty, 0–100."""
    return 100.0 / (1.0 + math.exp(-ability))
