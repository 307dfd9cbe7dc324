"""Open edX tracking-log lines → contract events (``learnguard import edx``).

Open edX writes one JSON object a line (``tracking.log``, often rotated and gzipped). The
video player's browser events, navigation, page closes, link clicks and the server's
``problem_check`` carry what LearnGuard reads:

=====================  =========================================================
play_video             ``video_play`` at ``currentTime`` (``duration`` kept)
pause_video            ``video_pause`` at ``currentTime``
seek_video             ``video_seek`` ``old_time`` → ``new_time``
speed_change_video     ``video_ratechange`` to ``new_speed`` at ``current_time``
stop_video             ``video_ended`` at ``currentTime`` (edX: the player reached the end)
load_video             ``page_view`` of the video
seq_goto/next/prev     ``page_view`` of the unit navigated to
page_close             ``session_end``
link_clicked           ``click`` on the link's URL (edX does not log ``isTrusted``)
problem_check (server) ``quiz_answer`` (``success`` correct, ``grade``/``max_grade``)
=====================  =========================================================

Other event types are skipped and counted by type; a line that is not JSON, or lacks what
its type needs, is skipped and counted by reason — an import never aborts on a bad line.
Ids: the learner is ``context.user_id`` (or ``username``), pseudonymised with a salted
HMAC when asked; the session is edX's ``session`` (else learner × course × UTC day); the
event id is a hash of the line, so importing a file again adds nothing. ``time`` is the
event time. No I/O here.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import msgspec

NAVIGATION = {"seq_goto", "seq_next", "seq_prev"}


class EdxContext(msgspec.Struct):
    course_id: str | None = None
    user_id: int | str | None = None
    org_id: str | None = None


class EdxLine(msgspec.Struct):
    event_type: str | None = None
    time: str | None = None
    username: str | None = None
    session: str | None = None
    ip: str | None = None
    agent: str | None = None
    event_source: str | None = None
    page: str | None = None
    context: EdxContext | None = None
    event: Any = None  # an object, or the same as a JSON string (browser events)


_decode_line = msgspec.json.Decoder(EdxLine).decode
_decode_any = msgspec.json.Decoder().decode


class EdxSummary(msgspec.Struct):
    """What an import read: lines, events made by type, lines skipped by reason."""

    lines: int = 0
    events: Counter[str] = msgspec.field(default_factory=Counter)
    skipped: Counter[str] = msgspec.field(default_factory=Counter)


class EdxMapper:
    """Maps lines for one import: the unit (org path) the learners belong to, and the salt
    that pseudonymises their ids (None keeps edX's ids)."""

    def __init__(self, org_id: str, salt: str | None = None) -> None:
        self.org_id = org_id
        self.salt = salt.encode() if salt else None
        self.summary = EdxSummary()
        self._learners: dict[str, str] = {}

    def learner(self, raw: str) -> str:
        known = self._learners.get(raw)
        if known is None:
            known = raw if self.salt is None else \
                "px-" + hmac.new(self.salt, raw.encode(), hashlib.sha256).hexdigest()[:20]
            self._learners[raw] = known
        return known

    def map_line(self, line: bytes) -> list[dict[str, Any]]:
        """The contract events of one line (none when it is skipped, counted in ``summary``)."""
        self.summary.lines += 1
        if not line.strip():
            self.summary.lines -= 1
            return []
        try:
            record = _decode_line(line)
        except (msgspec.DecodeError, msgspec.ValidationError):
            self.summary.skipped["not a JSON tracking-log object"] += 1
            return []
        kind = record.event_type or ""
        builder = _BUILDERS.get(kind) or (_navigation if kind in NAVIGATION else None)
        if builder is None:
            self.summary.skipped[f"event type {kind or '(none)'} not read"] += 1
            return []
        try:
            base = self._base(record, line)
            payload = record.event
            if isinstance(payload, str):
                payload = _decode_any(payload) if payload.strip().startswith("{") else {}
            if not isinstance(payload, dict):
                payload = {}
            events = builder(base, payload, record)
        except (KeyError, ValueError, TypeError, msgspec.DecodeError) as exc:
            self.summary.skipped[f"{kind}: {_reason(exc)}"] += 1
            return []
        for event in events:
            self.summary.events[event["type"]] += 1
        return events

    def _base(self, record: EdxLine, line: bytes) -> dict[str, Any]:
        context = record.context or EdxContext()
        user = context.user_id if context.user_id not in (None, "") else record.username
        if user in (None, ""):
            raise ValueError("no user (context.user_id or username)")
        if not context.course_id:
            raise ValueError("no context.course_id")
        if not record.time:
            raise ValueError("no time")
        moment = datetime.fromisoformat(record.time.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        learner = self.learner(str(user))
        course = context.course_id.replace("/", ":")  # old-style ids (edX/DemoX/2014) hold slashes
        session = record.session or f"{learner}:{course}:{moment.date().isoformat()}"
        base: dict[str, Any] = {"event_id": "edx-" + hashlib.blake2b(line.strip(), digest_size=12).hexdigest(),
                                "ts": moment.isoformat(), "learner_id": learner, "org_id": self.org_id,
                                "course_id": course[:128], "session_id": session[:128]}
        if record.ip and self.salt is None:  # an address identifies a person: dropped when pseudonymising
            base["ip"] = record.ip[:64]
        if record.agent:
            base["user_agent"] = record.agent[:512]
        return base


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no {exc.args[0]}"
    return str(exc).split("\n")[0][:80] or type(exc).__name__


def _float(payload: dict[str, Any], *names: str) -> float:
    for name in names:
        value = payload.get(name)
        if value is not None and value != "":
            return float(value)
    raise KeyError(names[0])


def _video(payload: dict[str, Any]) -> str:
    video = payload.get("id") or payload.get("code")
    if not video:
        raise KeyError("event.id")
    return str(video)[:128]


def _play(base: dict[str, Any], payload: dict[str, Any], record: EdxLine) -> list[dict[str, Any]]:
    event = {**base, "type": "video_play", "video_id": _video(payload), "position": _float(payload, "currentTime")}
    duration = payload.get("duration")
    if isinstance(duration, int | float) and 0 < duration <= 86400:
        event["duration"] = float(duration)
    return [event]


def _pause(base: dict[str, Any], payload: dict[str, Any], record: EdxLine) -> list[dict[str, Any]]:
    return [{**base, "type": "video_pause", "video_id": _video(payload), "position": _float(payload, "currentTime")}]


def _seek(base: dict[str, Any], payload: dict[str, Any], record: EdxLine) -> list[dict[str, Any]]:
    return [{**base, "type": "video_seek", "video_id": _video(payload),
             "from_position": _float(payload, "old_time"), "to_position": _float(payload, "new_time")}]


def _speed(base: dict[str, Any], payload: dict[str, Any], record: EdxLine) -> list[dict[str, Any]]:
    return [{**base, "type": "video_ratechange", "video_id": _video(payload),
             "position": _float(payload, "current_time", "currentTime"), "rate": _float(payload, "new_speed")}]


def _stop(base: dict[str, Any], payload: dict[str, Any], record: EdxLine) -> list[dict[str, Any]]:
    return [{**base, "type": "video_ended", "video_id": _video(payload), "position": _float(payload, "currentTime")}]


def _load(base: dict[str, Any], payload: dict[str, Any], record: EdxLine) -> list[dict[str, Any]]:
    return [{**base, "type": "page_view", "page": f"video:{_video(payload)}"}]


def _navigation(base: dict[str, Any], payload: dict[str, Any], record: EdxLine) -> list[dict[str, Any]]:
    target = payload.get("new") or payload.get("target_tab") or payload.get("id") or record.page or ""
    return [{**base, "type": "page_view", "page": str(target)[:512]}]


def _close(base: dict[str, Any], payload: dict[str, Any], record: EdxLine) -> list[dict[str, Any]]:
    return [{**base, "type": "session_end"}]


def _link(base: dict[str, Any], payload: dict[str, Any], record: EdxLine) -> list[dict[str, Any]]:
    return [{**base, "type": "click", "target": str(payload.get("target_url") or "")[:256]}]


def _problem(base: dict[str, Any], payload: dict[str, Any], record: EdxLine) -> list[dict[str, Any]]:
    if record.event_source != "server":  # the browser's line carries only the form
        raise ValueError("the browser's line (the server's carries the grade)")
    item = payload.get("problem_id")
    if not item:
        raise KeyError("event.problem_id")
    answer: dict[str, Any] = {**base, "type": "quiz_answer", "item_id": str(item)[:128],
                              "correct": payload.get("success") == "correct"}
    grade, top = payload.get("grade"), payload.get("max_grade")
    if isinstance(grade, int | float) and isinstance(top, int | float) and top > 0:
        answer["score"], answer["max_score"] = float(grade), float(top)
    return [answer]


_BUILDERS = {"play_video": _play, "pause_video": _pause, "seek_video": _seek, "speed_change_video": _speed,
             "stop_video": _stop, "load_video": _load, "page_close": _close, "link_clicked": _link,
             "problem_check": _problem, "edx.video.played": _play, "edx.video.paused": _pause,
             "edx.video.position.changed": _seek, "edx.video.stopped": _stop, "edx.video.loaded": _load}
