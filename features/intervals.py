"""Merged interval sets: each second counted once (watched media, credited wall time)."""

from __future__ import annotations

MAX_INTERVALS = 256


def add_interval(intervals: list[list[float]], start: float, end: float) -> None:
    """Insert ``[start, end]`` into a sorted, disjoint interval list, merging overlaps.

    Bounded: past ``MAX_INTERVALS`` the two closest neighbours merge, which can only
    over-count the gap between them (a few seconds), never lose covered time.

    >>> spans = [[0.0, 10.0]]
    >>> add_interval(spans, 5.0, 20.0); add_interval(spans, 30.0, 40.0)
    >>> spans
    [[0.0, 20.0], [30.0, 40.0]]
    """
    if end <= start:
        return
    merged: list[list[float]] = []
    placed = False
    for low, high in intervals:
        if high < start:
            merged.append([low, high])
        elif low > end:
            if not placed:
                merged.append([start, end])
                placed = True
            merged.append([low, high])
        else:
            start, end = min(start, low), max(end, high)
    if not placed:
        merged.append([start, end])
    merged.sort()
    while len(merged) > MAX_INTERVALS:
        gaps = [merged[i + 1][0] - merged[i][1] for i in range(len(merged) - 1)]
        i = gaps.index(min(gaps))
        merged[i] = [merged[i][0], merged[i + 1][1]]
        del merged[i + 1]
    intervals[:] = merged


def total_length(intervals: list[list[float]]) -> float:
    """Sum of the lengths of disjoint intervals."""
    return sum(high - low for low, high in intervals)


def overlap_length(intervals: list[list[float]], start: float, end: float) -> float:
    """How much of ``[start, end]`` the intervals cover."""
    return sum(max(0.0, min(high, end) - max(low, start)) for low, high in intervals)
