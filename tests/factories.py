"""Small builders for contract events used across tests."""

from __future__ import annotations

from typing import Any

T0 = 1_772_330_400_000  # 2026-03-01T10:00:00+08:00 in epoch ms


def event(n: int, kind: str, session: str = "s1", learner: str = "l1", org: str = "zhejiang/hdu",
          course: str = "c1", at_s: float | None = None, **fields: Any) -> dict[str, Any]:
    """Event number ``n`` of a session, ``at_s`` seconds after T0 (default: n seconds)."""
    offset = n if at_s is None else at_s
    return {"event_id": f"{session}-e{n}", "ts": T0 + int(offset * 1000), "type": kind,
            "learner_id": learner, "org_id": org, "course_id": course, "session_id": session, **fields}


def watched_session(session: str = "s1", learner: str = "l1", rate: float = 1.0, minutes: int = 10,
                    org: str = "zhejiang/hdu", video: str = "v1") -> list[dict[str, Any]]:
    """A person watching ``minutes`` of a video at ``rate`` with heartbeats every 30 s."""
    events = [event(0, "session_start", session, learner, org),
              event(1, "video_play", session, learner, org, at_s=1, video_id=video, position=0, rate=rate)]
    beats = minutes * 2
    for i in range(1, beats + 1):
        events.append(event(1 + i, "video_heartbeat", session, learner, org, at_s=1 + 30 * i,
                            video_id=video, position=30 * i * rate, rate=rate))
    events.append(event(beats + 2, "video_pause", session, learner, org, at_s=2 + 30 * beats,
                        video_id=video, position=30 * beats * rate + 1 * rate))
    return events
