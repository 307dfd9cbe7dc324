"""Real learners in, contract events out: the EdNet-KT4 sample (``shared/data/real``).

EdNet-KT4 is the action log of real people using a TOEIC tutoring app (CC BY-NC 4.0, for
tests only). The mapping follows the sample's README: ``play_video``/``pause_video`` with
their cursor are ``video_play``/``video_pause``; ``enter`` on an item is a ``page_view``;
``respond`` is a graded ``quiz_answer``; ``erase_choice`` is a tap (``click``). Audio
actions, ``submit``, ``quit`` and payments have no contract event and are counted as
skipped. Sessions are the sample's ``derived_session`` (a 30-minute gap), framed by a
``session_start`` at their first action and a ``session_end`` at their last. KT4 logs no
seeks, heartbeats, rates or visibility: what those would show is simply not there.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ORG = "ednet/santa"
COURSE = "ednet-toeic"
SKIPPED = {"submit", "quit", "play_audio", "pause_audio", "pay"}


@dataclass
class EdnetImport:
    """Events in contract form, the videos' lengths, and what was mapped or skipped."""

    events: list[dict[str, Any]] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)
    mapped: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)


def _mapped(row: dict[str, str]) -> dict[str, Any] | None:
    action, item = row["action_type"], row["item_id"]
    if action in ("play_video", "pause_video") and row["cursor_time_ms"]:
        event: dict[str, Any] = {"type": "video_play" if action == "play_video" else "video_pause",
                                 "video_id": item, "position": int(row["cursor_time_ms"]) / 1000}
        if action == "play_video" and row["lecture_video_length_ms"]:
            event["duration"] = int(row["lecture_video_length_ms"]) / 1000
        return event
    if action == "enter":
        return {"type": "page_view", "page": item}
    if action == "respond" and row["answer_correct"] in ("0", "1"):
        return {"type": "quiz_answer", "item_id": item, "correct": row["answer_correct"] == "1"}
    if action == "erase_choice":
        return {"type": "click", "target": f"erase:{item}"}
    return None


def import_ednet(path: Path) -> EdnetImport:
    """Read ``events.csv`` of the sample into contract-v1 events (dicts)."""
    result = EdnetImport()
    sessions: dict[str, list[dict[str, str]]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            sessions.setdefault(row["derived_session"], []).append(row)
    for session_id, rows in sessions.items():
        learner = rows[0]["learner_id"]
        base = {"learner_id": learner, "org_id": ORG, "course_id": COURSE, "session_id": session_id}
        first, last = int(rows[0]["timestamp_ms"]), int(rows[-1]["timestamp_ms"])
        result.events.append({**base, "event_id": f"{session_id}:start", "ts": first, "type": "session_start",
                              "device_id": f"{learner}:{rows[0]['platform']}"})
        for number, row in enumerate(rows):
            event = _mapped(row)
            if event is None:
                result.skipped[row["action_type"]] += 1
                continue
            result.mapped[row["action_type"]] += 1
            result.events.append({**base, "event_id": f"{session_id}:{number}", "ts": int(row["timestamp_ms"]),
                                  "device_id": f"{learner}:{row['platform']}", **event})
            if row["lecture_video_length_ms"] and event["type"].startswith("video_"):
                result.durations[row["item_id"]] = int(row["lecture_video_length_ms"]) / 1000
        result.events.append({**base, "event_id": f"{session_id}:end", "ts": last, "type": "session_end"})
    return result
