"""Building contract-v1 events for one simulated session, with the truth beside them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from learnguard.features.intervals import add_interval, total_length
from learnguard.simulator.observed import fetches


@dataclass
class Identity:
    """Who sends the events: the account, and the machine it is used from."""

    learner_id: str
    org_id: str
    course_id: str
    device_id: str
    ip: str
    user_agent: str | None = None


@dataclass
class SessionWriter:
    """Appends events of one session; ``clock_offset`` shifts device time from server time."""

    who: Identity
    session_id: str
    rng: random.Random
    clock_offset_s: float = 0.0
    delay_s: tuple[float, float] = (0.05, 0.4)
    events: list[dict[str, Any]] = field(default_factory=list)
    watched: dict[str, list[list[float]]] = field(default_factory=dict)
    repeat_share: float = 0.0
    observed: bool = False       # v1.1: the platform forwards its media server's log (``media_fetch``)
    fetch_pace: float | None = None  # the player's real pace when it differs from what it reports

    def delivery(self, video_id: str, start: float, end: float, at: float, pace: float) -> None:
        """The media server's log lines for a player fetching ``start``→``end`` from ``at``
        (their own random stream, so a v1.1 cohort behaves exactly as its v1 twin)."""
        rng = random.Random(f"{self.session_id}|{video_id}|{start}")
        for fetched, logged, seg_start, seg_end in fetches(rng, video_id, start, end, at, self.fetch_pace or pace):
            event = {"event_id": f"{self.session_id}-f{len(self.events)}", "ts": int(round(fetched * 1000)),
                     "type": "media_fetch", "learner_id": self.who.learner_id, "org_id": self.who.org_id,
                     "course_id": self.who.course_id, "session_id": self.session_id,
                     "device_id": self.who.device_id, "ip": self.who.ip, "received_at": int(round(logged * 1000)),
                     "video_id": video_id, "range_start": seg_start, "range_end": seg_end,
                     "bytes": int((seg_end - seg_start) * 62500), "source": "server"}
            if self.who.user_agent:
                event["user_agent"] = self.who.user_agent
            self.events.append(event)

    def emit(self, kind: str, at: float, **fields: Any) -> None:
        """One event at server time ``at`` (epoch seconds); device ``ts`` may run ahead."""
        device_ts = at + self.clock_offset_s
        received = at + self.rng.uniform(*self.delay_s)
        event = {
            "event_id": f"{self.session_id}-{len(self.events)}",
            "ts": int(round(device_ts * 1000)), "type": kind,
            "learner_id": self.who.learner_id, "org_id": self.who.org_id,
            "course_id": self.who.course_id, "session_id": self.session_id,
            "device_id": self.who.device_id, "ip": self.who.ip,
            "received_at": int(round(received * 1000)), **fields,
        }
        if self.who.user_agent:
            event["user_agent"] = self.who.user_agent
        self.events.append(event)
        if self.repeat_share and self.rng.random() < self.repeat_share:
            self.events.append(dict(event))  # a retry: same event id, counted once

    def watch(self, video_id: str, start: float, end: float, at: float | None = None, pace: float = 1.0) -> None:
        """Record media really played (the simulator's truth) and, on a v1.1 platform, what
        the media server delivered for it."""
        add_interval(self.watched.setdefault(video_id, []), start, end)
        if self.observed and at is not None:
            self.delivery(video_id, start, end, at, pace)

    def true_watched_seconds(self) -> float:
        return sum(total_length(spans) for spans in self.watched.values())
