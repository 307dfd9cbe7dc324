"""xAPI 1.0.3 statements → contract events (the xAPI Video Profile, answers, page views).

Platforms that already run an LRS feed (Open edX through Ralph, Moodle, H5P players) send
statements, not our events. This module reads them — actor, verb, object, result and
context — and writes the contract events they mean, so they meet exactly the validation,
dedup and detectors that ``POST /v1/events`` events meet. No I/O here.

What maps (verb → event):

=====================  =========================================================
initialized            ``session_start`` (+ the video's ``length`` as duration)
played                 ``video_play`` at ``time`` (``speed`` → rate, ``volume`` 0 → muted)
paused                 ``video_pause`` at ``time``
seeked                 ``video_seek`` ``time-from`` → ``time-to``
progressed             ``video_heartbeat`` at ``time``
completed (a video)    ``video_ended`` at ``time`` (or ``length``)
terminated             ``video_pause`` at ``time`` (when given) and ``session_end``
interacted + speed     ``video_ratechange`` at ``time``
answered               ``quiz_answer`` (``result.success``, score raw/max)
experienced / viewed   ``page_view`` (a non-video object)
voided                 recorded: the voided statement is ignored when it arrives
=====================  =========================================================

Anything else is stored-and-ignored (the answer counts it). Ids: an IRI is turned into an
id the contract accepts by dropping its scheme and writing ``/`` as ``:``
(``https://lms.example/courses/c1`` → ``lms.example:courses:c1``; ids over 128 characters
keep 111 and a hash). The learner is ``actor.account.name`` (or ``mbox_sha1sum``, or the
SHA-1 of ``mbox`` — an address is never stored). The session is the Video Profile's
``session-id``, else ``context.registration``, else learner × course × UTC day. The org is
the context extension ``https://learnguard.dev/xapi/extensions/org`` or the key's own.
A statement without an id gets a UUID derived from its content, so a retried statement is
a duplicate, not a second event. ``received_at`` is the statement's ``stored`` time when
an LRS forwards it (never our arrival time: a replay of last year is last year).
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

VIDEO = "https://w3id.org/xapi/video/"
VIDEO_EXT = VIDEO + "extensions/"
VIDEO_TYPE = VIDEO + "activity-type/video"
ORG_EXT = "https://learnguard.dev/xapi/extensions/org"
COURSE_TYPES = ("http://adlnet.gov/expapi/activities/course", "http://adlnet.gov/expapi/activities/module")

VERBS = {
    "http://adlnet.gov/expapi/verbs/initialized": "initialized",
    VIDEO + "verbs/played": "played",
    VIDEO + "verbs/paused": "paused",
    VIDEO + "verbs/seeked": "seeked",
    "http://adlnet.gov/expapi/verbs/progressed": "progressed",
    "http://adlnet.gov/expapi/verbs/completed": "completed",
    "http://adlnet.gov/expapi/verbs/terminated": "terminated",
    "http://adlnet.gov/expapi/verbs/interacted": "interacted",
    "http://adlnet.gov/expapi/verbs/answered": "answered",
    "http://adlnet.gov/expapi/verbs/experienced": "viewed",
    "http://id.tincanapi.com/verb/viewed": "viewed",
    "http://adlnet.gov/expapi/verbs/voided": "voided",
}
NAMESPACE = uuid.UUID("5b0e4b5e-7d0e-4c1e-9d6b-6c6561726e67")  # ids derived from a statement's content
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_ID = 128
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)$")
# block-v1:ORG+COURSE+RUN+type@video+block@ID, also as Ralph writes it:
# block-v1:course-v1:ORG+COURSE+RUN-course-v1:+type@video+block@ID
EDX_BLOCK = re.compile(r"block-v1:(?:course-v1:)?([^+/:]+)\+([^+/:]+)\+([^+/:]+?)(?:-course-v1:)?\+type@")


class Account(msgspec.Struct):
    name: str
    homePage: str | None = None  # noqa: N815 - xAPI's name


class Actor(msgspec.Struct):
    # only what names the learner is read (msgspec skips the rest without building it)
    mbox: str | None = None
    mbox_sha1sum: str | None = None
    openid: str | None = None
    account: Account | None = None


class Verb(msgspec.Struct):
    id: str


class Definition(msgspec.Struct):
    type: str | None = None


class Thing(msgspec.Struct):
    """A statement's object or a context activity (activity, StatementRef, agent)."""

    id: str | None = None
    objectType: str | None = None  # noqa: N815
    definition: Definition | None = None


class Score(msgspec.Struct):
    raw: float | None = None
    max: float | None = None


class Result(msgspec.Struct):
    success: bool | None = None
    duration: str | None = None  # read back from /v1/credits?format=xapi
    score: Score | None = None
    extensions: dict[str, Any] | None = None


class ContextActivities(msgspec.Struct):
    # xAPI 1.0.3 lets one activity stand for a list of one
    parent: list[Thing] | Thing | None = None
    grouping: list[Thing] | Thing | None = None


class Context(msgspec.Struct):
    registration: str | None = None
    contextActivities: ContextActivities | None = None  # noqa: N815
    extensions: dict[str, Any] | None = None
    platform: str | None = None


class Statement(msgspec.Struct):
    actor: Actor
    verb: Verb
    object: Thing
    id: str | None = None
    result: Result | None = None
    context: Context | None = None
    timestamp: str | None = None
    stored: str | None = None


class StatementError(ValueError):
    """A statement that is not valid xAPI (answered 400, naming the statement and field)."""


class Mapped(msgspec.Struct):
    """What one statement became: its id, the events it means (dicts in contract form),
    the statement it voids, or the reason it was ignored."""

    statement_id: str
    events: list[dict[str, Any]]
    voids: str | None = None
    ignored: str | None = None


_DECODER = msgspec.json.Decoder(Statement | list[Statement])  # type: ignore[arg-type]
_ONE = msgspec.json.Decoder(Statement)


def decode_statements(body: bytes) -> list[Statement]:
    """One statement or an array of them; a malformed one fails the body, naming where."""
    try:
        decoded = _DECODER.decode(body)
    except msgspec.ValidationError as exc:
        raise StatementError(_plain(str(exc))) from exc
    except msgspec.DecodeError as exc:
        raise StatementError(f"body is not JSON: {exc}") from exc
    return decoded if isinstance(decoded, list) else [decoded]


def decode_statement(body: bytes) -> Statement:
    try:
        return _ONE.decode(body)
    except msgspec.ValidationError as exc:
        raise StatementError(_plain(str(exc))) from exc
    except msgspec.DecodeError as exc:
        raise StatementError(f"body is not JSON: {exc}") from exc


def _plain(message: str) -> str:
    """msgspec's ``Expected `str`, got `int` - at `$[3].verb.id``` as ``statement 3: verb.id: …``."""
    match = re.search(r" - at `\$(?:\[(\d+)\])?\.?([^`]*)`$", message)
    if not match:
        return message
    reason = message[:match.start()].replace("Object missing required field", "required field")
    index, path = match.group(1), match.group(2)
    where = f"statement {index}: " if index is not None else "statement: "
    return f"{where}{path + ': ' if path else ''}{reason}"


@functools.lru_cache(maxsize=65536)  # a batch names a few courses and videos many times
def iri_id(iri: str) -> str:
    """An IRI as a contract id: scheme dropped, ``/`` written ``:``, ≤ 128 characters."""
    text = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", iri.strip()).strip("/")
    text = re.sub(r"[\x00-\x1f\x7f]", "", text).replace("/", ":") or "_"
    if text in (".", ".."):
        text = "_" + text
    if len(text) > MAX_ID:
        text = text[:MAX_ID - 17] + "~" + hashlib.sha1(iri.encode()).hexdigest()[:16]
    return text


def statement_id(statement: Statement) -> str:
    """The statement's own id, or a UUID derived from its content (a retry maps to the same)."""
    if statement.id is not None:
        if not UUID_RE.match(statement.id):
            raise StatementError(f"id: {statement.id!r} is not a UUID")
        return statement.id.lower()
    return str(uuid.uuid5(NAMESPACE, msgspec.json.encode(statement).decode()))


def _learner(actor: Actor) -> str:
    if actor.account is not None and actor.account.name:
        return actor.account.name
    if actor.mbox_sha1sum:
        return "sha1:" + actor.mbox_sha1sum
    if actor.mbox:
        return "sha1:" + hashlib.sha1(actor.mbox.encode()).hexdigest()
    if actor.openid:
        return iri_id(actor.openid)
    raise StatementError("actor: needs account.name, mbox, mbox_sha1sum or openid (a group cannot study)")


def _activities(context: Context | None) -> list[Thing]:
    if context is None or context.contextActivities is None:
        return []
    found: list[Thing] = []
    for part in (context.contextActivities.parent, context.contextActivities.grouping):
        if part is None:
            continue
        found.extend(part if isinstance(part, list) else [part])
    return [thing for thing in found if thing.id]


def _course(statement: Statement) -> str:
    things = _activities(statement.context)
    typed = [t for t in things if t.definition is not None and t.definition.type in COURSE_TYPES]
    chosen = typed[-1] if typed else things[0] if things else None
    if chosen is not None and chosen.id:
        return iri_id(chosen.id)
    edx = EDX_BLOCK.search(statement.object.id or "")
    if edx:  # Open edX (and Ralph's conversions) name the course inside the block id
        return "course-v1:" + "+".join(edx.groups())
    raise StatementError("context.contextActivities: needs the course as a parent or grouping activity")


def _extensions(statement: Statement) -> dict[str, Any]:
    """The context's extensions overlaid with the result's (a Video Profile extension is
    read from the result, else from the context), merged once per statement."""
    context = statement.context.extensions if statement.context is not None else None
    result = statement.result.extensions if statement.result is not None else None
    if not result:
        return context or {}
    return {**context, **result} if context else result


def _ext(ext: dict[str, Any], name: str) -> Any:
    return ext.get(VIDEO_EXT + name)


def _number(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise StatementError(f"{field}: must be a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().rstrip("xX"))  # speeds are written "1.5x"
        except ValueError:
            pass
    raise StatementError(f"{field}: must be a number (got {value!r})")


def _time(text: str | None, field: str) -> str | None:
    """An ISO 8601 time with an offset (one without is read as UTC, as xAPI suggests)."""
    if text is None:
        return None
    if RFC3339.match(text):  # already what the contract reads: kept as written
        return text
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise StatementError(f"{field}: {text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def _is_video(statement: Statement, ext: dict[str, Any]) -> bool:
    definition = statement.object.definition
    if definition is not None and definition.type == VIDEO_TYPE:
        return True
    return any(key.startswith(VIDEO_EXT) for key in ext)


def map_statement(statement: Statement, key_org: str | None, now: datetime) -> Mapped:
    """The contract events one statement means (raises ``StatementError`` naming the field)."""
    sid = statement_id(statement)
    verb = VERBS.get(statement.verb.id)
    if verb is None:
        return Mapped(sid, [], ignored=f"verb {statement.verb.id} is not one LearnGuard reads")
    if verb == "voided":
        if statement.object.objectType != "StatementRef" or not statement.object.id:
            raise StatementError("object: a voiding statement's object is a StatementRef with an id")
        return Mapped(sid, [], voids=statement.object.id.lower())
    ext = _extensions(statement)
    video = _is_video(statement, ext)
    if verb in ("completed", "interacted") and not video:
        return Mapped(sid, [], ignored=f"{verb} of a non-video activity carries no study time")
    if verb == "viewed" and video:
        return Mapped(sid, [], ignored="viewed a video: its played statements carry the playback")
    if not statement.object.id:
        raise StatementError("object.id: required (the video, item or page)")
    events = _BUILDERS[verb](statement, _base(statement, sid, key_org, now, ext), ext, video)
    if not events:
        return Mapped(sid, [], ignored=f"{verb} without a speed change carries no playback")
    return Mapped(sid, events)


def _base(statement: Statement, sid: str, key_org: str | None, now: datetime, ext: dict[str, Any]) -> dict[str, Any]:
    """The fields every event of the statement carries."""
    org = (statement.context.extensions or {}).get(ORG_EXT) if statement.context else None
    org = org if isinstance(org, str) and org else key_org
    if not org:
        raise StatementError(f"context.extensions.{ORG_EXT}: required with a key that has no org")
    learner = _learner(statement.actor)
    course = _course(statement)
    ts = _time(statement.timestamp, "timestamp") or now.isoformat()
    session = _ext(ext, "session-id") or (statement.context.registration if statement.context else None)
    if not isinstance(session, str) or not session:
        session = f"{learner}:{course}:{ts[:10]}"
    base: dict[str, Any] = {"event_id": sid, "ts": ts, "learner_id": learner, "org_id": org,
                            "course_id": course, "session_id": iri_id(session) if "/" in session else session}
    stored = _time(statement.stored, "stored")
    if stored:
        base["received_at"] = stored
    platform = statement.context.platform if statement.context else None
    if platform:
        base["user_agent"] = platform[:512]
    return base


Built = list[dict[str, Any]]


def _video(statement: Statement) -> str:
    return iri_id(statement.object.id or "")


def _at(ext: dict[str, Any]) -> float | None:
    return _number(_ext(ext, "time"), "result.extensions.time")


def _initialized(statement: Statement, base: dict[str, Any], ext: dict[str, Any], video: bool) -> Built:
    return [{**base, "type": "session_start"}]


def _played(statement: Statement, base: dict[str, Any], ext: dict[str, Any], video: bool) -> Built:
    play: dict[str, Any] = {**base, "type": "video_play", "video_id": _video(statement),
                            "position": _at(ext) or 0.0}
    length = _number(_ext(ext, "length"), "context.extensions.length")
    speed = _number(_ext(ext, "speed"), "context.extensions.speed")
    volume = _number(_ext(ext, "volume"), "context.extensions.volume")
    if length:  # Ralph writes 0 where edX did not say
        play["duration"] = length
    if speed is not None:
        play["rate"] = speed
    if volume is not None:
        play["muted"] = volume == 0
    return [play]


def _paused(statement: Statement, base: dict[str, Any], ext: dict[str, Any], video: bool) -> Built:
    return [{**base, "type": "video_pause", "video_id": _video(statement),
             "position": _required(_at(ext), "time")}]


def _seeked(statement: Statement, base: dict[str, Any], ext: dict[str, Any], video: bool) -> Built:
    return [{**base, "type": "video_seek", "video_id": _video(statement),
             "from_position": _required(_number(_ext(ext, "time-from"), "time-from"), "time-from"),
             "to_position": _required(_number(_ext(ext, "time-to"), "time-to"), "time-to")}]


def _progressed(statement: Statement, base: dict[str, Any], ext: dict[str, Any], video: bool) -> Built:
    return [{**base, "type": "video_heartbeat", "video_id": _video(statement),
             "position": _required(_at(ext), "time")}]


def _completed(statement: Statement, base: dict[str, Any], ext: dict[str, Any], video: bool) -> Built:
    at = _at(ext)
    position = at if at is not None else _number(_ext(ext, "length"), "context.extensions.length") or None
    return [{**base, "type": "video_ended", "video_id": _video(statement), "position": _required(position, "time")}]


def _terminated(statement: Statement, base: dict[str, Any], ext: dict[str, Any], video: bool) -> Built:
    at = _at(ext)
    events: Built = []
    if at is not None and video:
        events.append({**base, "type": "video_pause", "video_id": _video(statement), "position": at})
    events.append({**base, "event_id": base["event_id"] + ":end", "type": "session_end"})
    return events


def _interacted(statement: Statement, base: dict[str, Any], ext: dict[str, Any], video: bool) -> Built:
    speed = _number(_ext(ext, "speed"), "context.extensions.speed")
    if speed is None:
        return []
    return [{**base, "type": "video_ratechange", "video_id": _video(statement), "position": _at(ext) or 0.0,
             "rate": speed}]


def _answered(statement: Statement, base: dict[str, Any], ext: dict[str, Any], video: bool) -> Built:
    result = statement.result
    if result is None or result.success is None:
        raise StatementError("result.success: required for answered (whether the answer was right)")
    answer: dict[str, Any] = {**base, "type": "quiz_answer", "item_id": _video(statement), "correct": result.success}
    if result.score is not None and result.score.raw is not None:
        answer["score"] = result.score.raw
        if result.score.max is not None:
            answer["max_score"] = result.score.max
    return [answer]


def _viewed(statement: Statement, base: dict[str, Any], ext: dict[str, Any], video: bool) -> Built:
    return [{**base, "type": "page_view", "page": (statement.object.id or "")[:512]}]


_BUILDERS = {"initialized": _initialized, "played": _played, "paused": _paused, "seeked": _seeked,
             "progressed": _progressed, "completed": _completed, "terminated": _terminated,
             "interacted": _interacted, "answered": _answered, "viewed": _viewed}


def _required(value: float | None, name: str) -> float:
    if value is None:
        raise StatementError(f"result.extensions.{VIDEO_EXT}{name}: required for this verb")
    return value
