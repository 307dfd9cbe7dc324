"""The compact form of an event that session state keeps and folds.

Ids that the session already knows (learner, org, course, session) are dropped; what is
left is what the playback physics and the detectors read. ``order`` is a digest of the
``event_id`` so that events with equal ``ts`` fold in the same order whatever batch they
came in.
"""

from __future__ import annotations

import hashlib
import re

import msgspec

from learnguard.features.events import EVENT_TYPES, Event, epoch_seconds

_NUMBERS = re.compile(r"\d+")


KIND_CODE: dict[str, int] = {name: code for code, name in enumerate(EVENT_TYPES)}
"""Event types as small integers: a buffered event costs one byte for its type."""


def kind_name(code: int) -> str:
    return EVENT_TYPES[code]


def order_key(event_id: str) -> int:
    """A 32-bit digest of the event id: the tie-breaker between events with equal ``ts``."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=4).digest(), "big")


def event_id_digest(event_id: str) -> int:
    """A signed 64-bit digest of an event id (dedup set member, fold tie-breaker)."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big", signed=True)


SAMPLE_CHARS = 60  # of a comment kept as what a flooding flag shows


def text_template(text: str) -> str:
    """Comment text with every run of digits replaced, so 'x<ms timestamp>' is one template."""
    return _NUMBERS.sub("#", text.strip())


def text_digest(text: str) -> int:
    """A 32-bit digest of a comment's template (near-duplicate detection)."""
    return int.from_bytes(hashlib.blake2b(text_template(text).encode(), digest_size=4).digest(), "big")


class Ev(msgspec.Struct, array_like=True, omit_defaults=True):
    """One event as session state needs it; see ``compact``."""

    ts: float
    order: int
    kind: int
    video: str | None = None
    pos: float | None = None
    pos2: float | None = None
    rate: float | None = None
    muted: bool | None = None
    visible: bool | None = None
    trusted: bool | None = None
    correct: bool | None = None
    duration: float | None = None
    ref: str | None = None
    text_hash: int | None = None
    skew: float | None = None
    device: str | None = None
    ip: str | None = None
    autoplay: bool | None = None
    ua: str | None = None
    server: bool | None = None   # observed by the platform's servers (v1.1 §8)
    choice: int | None = None    # a check answer's choice; a challenge's right answer
    text: str | None = None      # a comment's template, cut to ``SAMPLE_CHARS`` (evidence for supervisors)
    options: int | None = None   # a challenge's number of choices
    chars: int | None = None     # a challenge's prompt and choices, in characters

    def sort_key(self) -> tuple[float, int]:
        return (self.ts, self.order)


def compact(event: Event) -> Ev:
    """Reduce a validated contract event to its compact form."""
    kind = str(type(event).__struct_config__.tag)
    ts = epoch_seconds(event.ts)
    ev = Ev(ts=ts, order=order_key(event.event_id), kind=KIND_CODE[kind],
            device=event.device_id, ip=event.ip, ua=event.user_agent)
    if event.received_at is not None:
        ev.skew = ts - epoch_seconds(event.received_at)
    get = getattr
    ev.video = get(event, "video_id", None)
    if kind == "video_seek":
        ev.pos, ev.pos2 = event.from_position, event.to_position  # type: ignore[union-attr]
    else:
        ev.pos = get(event, "position", None)
    ev.rate = get(event, "rate", None)
    ev.muted = get(event, "muted", None)
    ev.autoplay = get(event, "autoplay", None)
    ev.server = True if event.source == "server" or kind == "challenge_issued" else None
    if kind == "media_fetch":
        ev.pos, ev.pos2 = event.range_start, event.range_end  # type: ignore[union-attr]
    elif kind == "challenge_issued":
        ev.choice, ev.options, ev.chars = event.answer, event.options, event.prompt_chars  # type: ignore[union-attr]
        ev.pos = event.expires_in_s  # type: ignore[union-attr]
    else:
        ev.choice = get(event, "choice", None)
    ev.visible = get(event, "visible", None)
    ev.trusted = get(event, "trusted", None)
    ev.correct = get(event, "correct", None)
    ev.duration = get(event, "duration", None)
    ev.ref = (get(event, "check_id", None) or get(event, "item_id", None) or get(event, "page", None)
              or get(event, "target", None))
    text = get(event, "text", None)
    if text is not None:
        ev.text_hash = text_digest(text)
        ev.text = text_template(text)[:SAMPLE_CHARS]
    return ev
