"""A session's playback timeline for supervisors: media position against wall-clock time,
with plays, pauses, seeks, rate changes, visibility, input and heartbeats marked.

Bounded: past ``MAX_POINTS`` the oldest half of the heartbeats and clicks is thinned,
so markers (play, pause, seek, ...) always survive and the shape stays visible.
"""

from __future__ import annotations

import msgspec

from features.compact import KIND_CODE, Ev, kind_name

MAX_POINTS = 160
THINNABLE = {KIND_CODE["video_heartbeat"], KIND_CODE["click"], KIND_CODE["page_view"]}


class Point(msgspec.Struct, array_like=True, omit_defaults=True):
    ts: float
    kind: int
    video: int | None = None  # index into the session's videos (a name per point costs ~15 bytes)
    pos: float | None = None
    extra: float | None = None  # rate, seek target, visible (1/0) or trusted (1/0)


def record(points: list[Point], ev: Ev, video_index: int | None) -> None:
    """Append one event's point (events arrive in event-time order from the fold)."""
    extra = ev.rate if ev.rate is not None else ev.pos2
    if ev.visible is not None and ev.kind == KIND_CODE["visibility"]:
        extra = 1.0 if ev.visible else 0.0
    if ev.trusted is not None:
        extra = 1.0 if ev.trusted else 0.0
    points.append(Point(ts=ev.ts, kind=ev.kind, video=video_index, pos=ev.pos, extra=extra))
    if len(points) > MAX_POINTS:
        half = len(points) // 2
        thinnable = [i for i in range(half) if points[i].kind in THINNABLE]
        drop = set(thinnable[1::2]) if len(thinnable) > 1 else set(range(0, half, 2))
        points[:] = [p for i, p in enumerate(points) if i not in drop]


def public(points: list[Point], videos: list[str]) -> list[dict]:
    """Points as the dashboard reads them (``videos``: the session's video ids, in order)."""
    return [{"ts": p.ts, "type": kind_name(p.kind), "video_id": videos[p.video] if p.video is not None else None,
             "position": p.pos, "extra": p.extra} for p in points]
