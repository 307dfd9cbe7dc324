"""Building contract-v1 events for one simulated session, with the truth beside them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from learnguard.features.intervals import add_interval, total_length


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

    def watch(self, video_id: str, start: float, end: float) -> None:
        """Record media really played (the simulator's truth)."""
        add_interval(self.watched.setdefault(video_id, []), start, end)

    def true_watched_seconds(self) -> float:
        return sum(total_length(spans) for spans in self.watched.values())
