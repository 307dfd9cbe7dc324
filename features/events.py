"""Contract v1 events: the typed model, and validation with messages people can act on.

One ``msgspec`` struct per event ``type`` (a tagged union), so that a missing field or a
value out of range is caught where it is declared and reported as ``field: reason``.
Suspicious values that the contract allows (``rate`` 16, huge position jumps) are valid.
"""

from __future__ import annotations

import re
from datetime import datetime
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import msgspec

Ref = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]  # event, video, item and check ids
# An id that names a resource (session, learner, course) must come back intact in a URL
# path (``/v1/sessions/{id}/score``): no "/", no control characters, not "." or "..".
ID_PATTERN = r"^(?!\.{1,2}$)[^/\x00-\x1f\x7f]+$"
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=ID_PATTERN)]
# Times from 2000 to 2100 (the schema's lower bound; nothing real happens after 2100, and a
# time out there would overflow what the state keeps): epoch ms, or RFC 3339 checked below.
MIN_TIME_MS, MAX_TIME_MS = 946_684_800_000, 4_102_444_800_000
Time = Annotated[datetime, msgspec.Meta(tz=True)] | Annotated[int, msgspec.Meta(ge=MIN_TIME_MS, lt=MAX_TIME_MS)]
Seconds = Annotated[float, msgspec.Meta(ge=0, le=86400)]
Rate = Annotated[float, msgspec.Meta(gt=0, le=100)]
OrgPath = Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=r"^[^/]+(/[^/]+)*$")]


class EventBase(msgspec.Struct, tag_field="type", omit_defaults=True, kw_only=True):
    """Fields every event carries (contract §1)."""

    event_id: Ref
    ts: Time
    learner_id: Id
    org_id: OrgPath
    course_id: Id
    session_id: Id
    device_id: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    ip: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    user_agent: Annotated[str, msgspec.Meta(max_length=512)] | None = None
    received_at: Time | None = None
    source: Literal["client", "server"] | None = None  # v1.1 §8: who observed it (default: the client's claim)


class SessionStart(EventBase, tag="session_start"):
    pass


class SessionEnd(EventBase, tag="session_end"):
    pass


class VideoPlay(EventBase, tag="video_play"):
    video_id: Ref
    position: Seconds
    duration: Seconds | None = None
    rate: Rate | None = None
    muted: bool | None = None
    autoplay: bool | None = None  # contract v1.1 §8: set by the platform when its player started the video


class VideoPause(EventBase, tag="video_pause"):
    video_id: Ref
    position: Seconds


class VideoSeek(EventBase, tag="video_seek"):
    video_id: Ref
    from_position: Seconds
    to_position: Seconds


class VideoRateChange(EventBase, tag="video_ratechange"):
    video_id: Ref
    position: Seconds
    rate: Rate


class VideoHeartbeat(EventBase, tag="video_heartbeat"):
    video_id: Ref
    position: Seconds
    rate: Rate | None = None
    muted: bool | None = None
    visible: bool | None = None


class VideoEnded(EventBase, tag="video_ended"):
    video_id: Ref
    position: Seconds


class PageView(EventBase, tag="page_view"):
    page: Annotated[str, msgspec.Meta(max_length=512)] | None = None


class Visibility(EventBase, tag="visibility"):
    visible: bool


class Click(EventBase, tag="click"):
    target: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    trusted: bool | None = None


class Comment(EventBase, tag="comment"):
    text: Annotated[str, msgspec.Meta(max_length=4000)]


class QuizAnswer(EventBase, tag="quiz_answer"):
    item_id: Ref
    correct: bool
    score: float | None = None
    max_score: Annotated[float, msgspec.Meta(gt=0)] | None = None


class CheckPrompt(EventBase, tag="check_prompt"):
    check_id: Ref


class CheckAnswer(EventBase, tag="check_answer"):
    check_id: Ref
    correct: bool | None = None  # ignored for a challenge the service issued: it grades ``choice`` itself
    choice: Annotated[int, msgspec.Meta(ge=0, le=99)] | None = None  # v1.1 §10: index of the choice shown

    def __post_init__(self) -> None:
        if self.correct is None and self.choice is None:
            raise ValueError("correct or choice: a check answer needs one of them")


class MediaFetch(EventBase, tag="media_fetch"):
    """v1.1 §9: a piece of a video the platform's media server delivered to the session."""

    video_id: Ref
    range_start: Seconds
    range_end: Seconds
    bytes: Annotated[int, msgspec.Meta(ge=0)] | None = None

    def __post_init__(self) -> None:
        if self.range_end < self.range_start:
            raise ValueError("range_end: must not be before range_start")


class ChallengeIssued(EventBase, tag="challenge_issued"):
    """A challenge the service issued (written by the service onto the session's stream so the
    worker grades its answer; a client sending one is refused)."""

    check_id: Ref
    kind: Literal["checkpoint", "presence"]
    answer: int | None = None
    options: int = 0
    prompt_chars: int = 0
    expires_in_s: float = 90.0


Event = (SessionStart | SessionEnd | VideoPlay | VideoPause | VideoSeek | VideoRateChange | VideoHeartbeat
         | VideoEnded | PageView | Visibility | Click | Comment | QuizAnswer | CheckPrompt | CheckAnswer
         | MediaFetch | ChallengeIssued)  # new types go last: their position is their stored kind code
EVENT_TYPES: tuple[str, ...] = tuple(cls.__struct_config__.tag for cls in Event.__args__)  # type: ignore[attr-defined]



def _every_field() -> type[msgspec.Struct]:
    """Every field any event type has, with its constraints, none of them nullable.

    The contract's schema holds each field to its type and range whatever the event's type
    (``"rate": 0`` is invalid on a ``session_start`` too) and refuses ``null`` for an
    optional field; the tagged union ignores fields foreign to a type and takes ``null``
    as absent. Decoding a body once more as these fields (a few µs per event) keeps the
    service to the schema both ways (tests/test_contract_schema.py)."""
    fields: dict[str, Any] = {}
    for cls in Event.__args__:  # type: ignore[attr-defined]
        hints = get_type_hints(cls, include_extras=True)
        for name in cls.__struct_fields__:
            if name in fields:
                continue
            hint = hints[name]
            if get_origin(hint) in (Union, UnionType):
                kept = [arg for arg in get_args(hint) if arg is not type(None)]
                hint = kept[0] if len(kept) == 1 else Union[tuple(kept)]  # noqa: UP007 - built at run time
            fields[name] = (hint | msgspec.UnsetType, msgspec.UNSET)
    return msgspec.defstruct("EveryField", [(name, *spec) for name, spec in fields.items()], kw_only=True)


EveryField = _every_field()
_decode_one = msgspec.json.Decoder(Event).decode
_decode_all = msgspec.json.Decoder(list[Event]).decode
_check_one = msgspec.json.Decoder(EveryField).decode
_check_all = msgspec.json.Decoder(list[EveryField]).decode  # type: ignore[valid-type]
_decode_raw_list = msgspec.json.Decoder(list[msgspec.Raw]).decode
_decode_any = msgspec.json.Decoder().decode
encode_event = msgspec.json.Encoder().encode


def epoch_seconds(value: datetime | int) -> float:
    """A contract time (RFC 3339 with offset, or epoch milliseconds) as epoch seconds."""
    if isinstance(value, int):
        return value / 1000.0
    return value.timestamp()


class Rejection(msgspec.Struct):
    """One event the service refused, as the ingest answer reports it."""

    index: int
    event_id: str | None
    error: str


_PATH_RE = re.compile(r" - at `\$(?:\[\d+\])?\.?(?P<path>[^`]*)`$")
_MISSING_RE = re.compile(r"Object missing required field `(?P<field>[^`]+)`")
_TYPE_WORDS = {"`float`": "a number", "`int`": "an integer", "`str`": "a string",
               "`bool`": "a boolean", "`object`": "an object", "`array`": "an array",
               "`int | datetime`": "an RFC 3339 time with offset or epoch milliseconds",
               "`datetime`": "an RFC 3339 time"}


def explain_validation_error(message: str, raw: Any) -> str:
    """Turn a msgspec message into ``field: reason`` that names the event's type."""
    event_type = raw.get("type") if isinstance(raw, dict) else None
    missing = _MISSING_RE.search(message)
    if missing:
        field = missing.group("field")
        if field == "type":
            return f"type: required, one of {', '.join(EVENT_TYPES)}"
        suffix = f" for type {event_type}" if field not in EventBase.__struct_fields__ else ""
        return f"{field}: required{suffix}"
    path_match = _PATH_RE.search(message)
    path = path_match.group("path") if path_match else ""
    reason = _PATH_RE.sub("", message)
    if path == "type" and reason.startswith("Invalid value"):
        return f"type: unknown type {raw.get('type')!r}; expected one of {', '.join(EVENT_TYPES)}"
    for word, plain in _TYPE_WORDS.items():
        reason = reason.replace(word, plain)
    reason = reason.replace("Expected ", "must be ").replace(" > 0.0", " > 0").replace(" >= 0.0", " >= 0")
    if path == "org_id" and "regex" in reason:
        return "org_id: must be a unit path such as 'zhejiang/hdu' (levels separated by '/', none empty)"
    if "regex" in reason and "x1f" in reason:
        return (f"{path}: must be usable in a URL path: no '/', no control characters, not '.' or '..' "
                f"(got {_field_value(raw, path)!r})")
    if str(MIN_TIME_MS) in reason or str(MAX_TIME_MS - 1) in reason:
        return f"{path}: {TIME_RANGE_TEXT}"
    if not path:
        field, _, rest = reason.partition(": ")
        if rest and field.split(" or ")[0] in _ALL_FIELDS:  # a cross-field check names its field itself
            return reason
        return f"event: {reason}"
    return f"{path}: {reason}"


_ALL_FIELDS = frozenset(name for cls in Event.__args__ for name in cls.__struct_fields__)  # type: ignore[attr-defined]

TIME_RANGE_TEXT = ("must be between 2000-01-01 and 2100-01-01 (epoch milliseconds "
                   f"{MIN_TIME_MS} to {MAX_TIME_MS}, or RFC 3339 with an offset)")


def _field_value(raw: Any, path: str) -> Any:
    return raw.get(path) if isinstance(raw, dict) else None


def time_out_of_range(event: EventBase) -> str | None:
    """``field: reason`` when an RFC 3339 time lies outside 2000–2100 (msgspec bounds only
    the epoch-millisecond form)."""
    for name in ("ts", "received_at"):
        value = getattr(event, name)
        if isinstance(value, datetime) and not MIN_TIME_MS <= value.timestamp() * 1000 < MAX_TIME_MS:
            return f"{name}: {TIME_RANGE_TEXT}"
    return None


def _event_id_of(raw: Any) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("event_id"), str):
        return raw["event_id"]
    return None


def validate_raw_events(raws: list[msgspec.Raw], first_index: int = 0
                        ) -> tuple[list[Event], list[int], list[Rejection]]:
    """Validate each raw JSON value on its own, so one bad event rejects only itself.

    Returns the valid events, their indexes in the batch, and the rejections.
    """
    events: list[Event] = []
    indexes: list[int] = []
    rejected: list[Rejection] = []
    for offset, raw in enumerate(raws):
        index = first_index + offset
        try:
            event = _decode_one(raw)
            _check_one(raw)
            problem = time_out_of_range(event)
            if problem:
                rejected.append(Rejection(index, event.event_id, problem))
                continue
            events.append(event)
            indexes.append(index)
        except msgspec.ValidationError as exc:
            try:
                value = _decode_any(raw)
            except (msgspec.ValidationError, msgspec.DecodeError):
                value = None
            rejected.append(Rejection(index, _event_id_of(value), explain_validation_error(str(exc), value)))
    return events, indexes, rejected


def decode_json_array(body: bytes) -> tuple[list[Event], list[int], list[Rejection]]:
    """Decode a JSON array body; the fast path validates the whole array in one call."""
    try:
        events = _decode_all(body)
        _check_all(body)
        if not any(time_out_of_range(event) for event in events):
            return events, list(range(len(events))), []
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        raise_malformed(body, exc, line_hint=None)
    try:
        raws = _decode_raw_list(body)
    except msgspec.DecodeError as exc:
        raise_malformed(body, exc, line_hint=None)
        raise
    except msgspec.ValidationError as exc:
        raise BodyError("body: must be a JSON array of events (or NDJSON with Content-Type: "
                        "application/x-ndjson); " + str(exc).replace("Expected", "expected")) from exc
    return validate_raw_events(raws)


def split_ndjson(body: bytes) -> list[tuple[int, bytes]]:
    """Non-blank NDJSON lines with their 1-based line numbers."""
    return [(number, line) for number, line in enumerate(body.split(b"\n"), start=1) if line.strip()]


def decode_ndjson(body: bytes) -> tuple[list[Event], list[int], list[Rejection]]:
    """Decode NDJSON; a line that is not JSON fails the body, naming the line."""
    raws: list[msgspec.Raw] = []
    for number, line in split_ndjson(body):
        try:
            _decode_any(line)
        except msgspec.DecodeError as exc:
            raise_malformed(line, exc, line_hint=number)
        raws.append(msgspec.Raw(line))
    return validate_raw_events(raws)


class BodyError(ValueError):
    """The body as a whole cannot be read as events (answered with 400)."""


def raise_malformed(text: bytes, exc: msgspec.DecodeError, line_hint: int | None) -> None:
    """Raise ``BodyError`` saying where the JSON broke: line, column and byte."""
    message = str(exc)
    match = re.search(r"\(byte (\d+)\)", message)
    where = ""
    if match:
        byte = int(match.group(1))
        line = text.count(b"\n", 0, byte) + 1
        column = byte - (text.rfind(b"\n", 0, byte) + 1) + 1
        if line_hint is not None:
            where = f" at NDJSON line {line_hint}, column {column}"
        else:
            where = f" at line {line}, column {column} (byte {byte})"
    elif line_hint is not None:
        where = f" at NDJSON line {line_hint}"
    reason = re.sub(r"\s*\(byte \d+\)", "", message)
    raise BodyError(f"body is not valid JSON{where}: {reason}")
