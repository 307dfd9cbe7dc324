"""A session's playback timeline for supervisors: media position against wall-clock time,
with plays, pauses, seeks, rate changes, visibility, input and heartbeats marked.

Bounded: past ``MAX_POINTS`` the oldest half of the heartbeats and clicks is thinned,
so markers (play, pause, seek, ...) always survive and the shape stays visible.
"""

from __future__ import annotations

import msgspec

from learnguard.features.compact import KIND_CODE, Ev, kind_name

MAX_POINTS = 160
THINNABLE = {KIND_CODE["video_heartbeat"], KIND_CODE["click"], KIND_CODE["page_view"]}


class Point(msgspec.Struct, array_like=True, omit_defaults=True):
    """Compact on purpose (a session keeps up to ``MAX_POINTS``): milliseconds after the
    session's timeline base, position in tenths of a second, video as an index."""

    ms: int
    kind: int
    video: int | None = None
    tenths: int | None = None
    extra: float | None = None  # rate, seek target, visible (1/0) or trusted (1/0)


def record(points: list[Point], ev: Ev, video_index: int | None, base: float) -> None:
    """Append one event's point (events arrive in event-time order from the fold)."""
    extra = ev.rate if ev.rate is not None else ev.pos2
    if ev.visible is not None and ev.kind == KIND_CODE["visibility"]:
        extra = 1.0 if ev.visible else 0.0
    if ev.trusted is not None:
        extra = 1.0 if ev.trusted else 0.0
    tenths = round(ev.pos * 10) if ev.pos is not None else None
    points.append(Point(ms=round((ev.ts - base) * 1000), kind=ev.kind, video=video_index, tenths=tenths,
                        extra=extra))
    if len(points) > MAX_POINTS:
        half = len(points) // 2
        thinnable = [i for i in range(half) if points[i].kind in THINNABLE]
        drop = set(thinnable[1::2]) if len(thinnable) > 1 else set(range(0, half, 2))
        points[:] = [p for i, p in enumerate(points) if i not in drop]


def public(points: list[Point], videos: list[str], base: float) -> list[dict]:
    """Points as the dashboard reads them (``videos``: the session's video ids, in order)."""
    return [{"ts": base + p.ms / 1000, "type": kind_name(p.kind),
             "video_id": videos[p.video] if p.video is not None else None,
             "position": p.tenths / 10 if p.tenths is not None else None, "extra": p.extra} for p in points]
