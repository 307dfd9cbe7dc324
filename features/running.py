"""Compact running statistics that live inside a session blob.

river's ``stats.Var`` is the reference for cohort state, but a pickled river object per
session costs kilobytes; these three floats are the same Welford update and serialise
to ~20 bytes with msgpack.
"""

from __future__ import annotations

import math

import msgspec


class RunningStat(msgspec.Struct, array_like=True):
    """Count, mean, variance, min and max of a stream of numbers (Welford).

    >>> s = RunningStat()
    >>> for gap in (30.0, 30.0, 33.0):
    ...     s.update(gap)
    >>> s.n, s.mean, round(s.sd, 3), s.low, s.high
    (3, 31.0, 1.732, 30.0, 33.0)
    """

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def update(self, value: float) -> None:
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (value - self.mean)
        self.low = min(self.low, value)
        self.high = max(self.high, value)

    @property
    def sd(self) -> float:
        """Sample standard deviation (0 with fewer than two values)."""
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0

    @property
    def cv(self) -> float:
        """Coefficient of variation: sd relative to the mean (0 when the mean is 0)."""
        return self.sd / self.mean if self.mean else 0.0
