"""What the API answers and accepts, as typed structs named by role (``ScorePublic``).

Routes build these and encode them with msgspec; the same structs are the OpenAPI's
schemas (``documented`` puts them on a route, ``install_openapi`` adds their components
and the error shape), so what the docs show is what the service sends.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from learnguard.detector.base import Reason
from learnguard.detector.verification import Verification
from learnguard.features.course import Course
from learnguard.features.events import Event, Ref, Rejection, Seconds, Time
from learnguard.service.registry import Envelope
from learnguard.service.report_queries import AtRisk

REF = "#/components/schemas/{name}"


# -- ingest and scoring ---------------------------------------------------------------------
class IngestResult(msgspec.Struct):
    """Events accepted onto the streams, dropped as duplicates, and refused (with reasons)."""

    accepted: int
    duplicates: int
    rejected: list[Rejection]


class FlagPublic(msgspec.Struct):
    """A flag as readers see it: evidence with values and thresholds, and its ruling."""

    flag_id: str
    pattern: str
    confidence: float
    reasons: list[Reason]
    start: str
    end: str
    status: str
    label: str = ""         # the pattern's name in the reader's language
    status_label: str = ""  # the status's name in the reader's language


class ScorePublic(msgspec.Struct):
    """``POST /v1/sessions/{id}/score``: risk, flags and the study time that stands."""

    session_id: str
    learner_id: str
    org_id: str
    course_id: str
    risk: float
    level: Literal["normal", "review", "high"]
    flags: list[FlagPublic]
    claimed_seconds: float
    effective_seconds: float
    events: int
    model_version: str
    scored_at: str
    notes: list[str]
    model: dict[str, Any] | None
    online: dict[str, Any] | None
    verification: Verification | None = None


class ChallengeRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/sessions/{id}/challenge``: the platform server's time of the call, and what
    is playing (all optional; ``at`` defaults to the service's clock)."""

    at: Time | None = None
    video_id: Ref | None = None
    position: Seconds | None = None


class ChallengePublic(msgspec.Struct):
    """A challenge to show the learner; report the answer as ``check_answer`` with
    ``check_id`` = ``challenge_id``, ``choice`` and ``received_at``."""

    challenge_id: str
    kind: Literal["checkpoint", "presence"]
    item_id: str
    prompt: str
    choices: list[str]
    expires_in_s: float


class ScoreRequest(msgspec.Struct):
    """Optional body of a score call: events to ingest first (platform keys)."""

    events: list[dict[str, Any]] | None = None


class CoursePublic(Course, kw_only=True):
    """A course description with its id."""

    course_id: str


class OfflineRecordPublic(msgspec.Struct):
    activity: str
    hours: float
    date: str
    kind: str


class OfflinePublic(msgspec.Struct):
    """Offline training as the unit recorded it (``learnguard import offline``): never mixed
    into the measured ``effective_hours``."""

    hours: float
    by_kind: dict[str, float]
    records: list[OfflineRecordPublic]


class LearnerPublic(msgspec.Struct):
    """A learner's portrait: one assessment per course (see the README), and offline
    training apart (each course entry also says its ``offline_hours``)."""

    learner_id: str
    org_id: str
    courses: list[dict[str, Any]]
    offline: OfflinePublic | None = None


# -- supervision -------------------------------------------------------------------------------
class ReviewPublic(msgspec.Struct):
    decision: str
    note: str
    by: str
    by_key: str
    at: str


class ReviewRequest(msgspec.Struct):
    decision: Literal["confirmed", "dismissed"]
    note: str = ""


class BulkReviewRequest(msgspec.Struct):
    """One ruling for a selection of flags (at most 500)."""

    flag_ids: Annotated[list[str], msgspec.Meta(min_length=1, max_length=500)]
    decision: Literal["confirmed", "dismissed"]
    note: str = ""


class BulkReviewError(msgspec.Struct):
    flag_id: str
    status: int
    detail: str


class BulkReviewResult(msgspec.Struct):
    """``POST /v1/flags/review``: each ruled flag, and each flag that could not be ruled and why."""

    items: list[FlagDetailPublic]
    errors: list[BulkReviewError]


class AppealRequest(msgspec.Struct):
    """The learner's statement, passed on by their platform or supervisor."""

    statement: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    on_behalf_of: str = ""


class AtRiskPublic(msgspec.Struct):
    """``GET /v1/reports/at-risk``: the early warning, most hours short first."""

    as_of: str
    items: list[AtRisk]
    next_cursor: str | None = None


class CreditPublic(msgspec.Struct):
    """A learner × course's study hours that stand (学时认定), as a platform credits them."""

    learner_id: str
    org_id: str
    course_id: str
    effective_hours: float  # online study time after physics and rulings
    creditable_hours: float | None  # what the course asks, capped at what its videos hold
    complete: bool
    # complete | in_progress | under_review (a misconduct flag stands, not yet ruled) |
    # misconduct_confirmed (a supervisor confirmed one): hold the credit until it is ruled
    status: Literal["complete", "in_progress", "under_review", "misconduct_confirmed"]
    sessions: int
    first_study: str
    last_study: str
    offline_hours: float = 0.0  # offline training recorded for this course (kept apart, never in effective_hours)


class CreditsPage(msgspec.Struct):
    """``GET /v1/credits``: one page of learner × course credits."""

    items: list[CreditPublic]
    next_cursor: str | None = None


class HookRequest(msgspec.Struct):
    url: str
    secret: str | None = None


class HookPublic(msgspec.Struct):
    hook_id: str
    url: str
    org_id: str | None
    created_at: str
    created_by: str


class HookCreated(HookPublic):
    secret: str  # shown once: verify X-LearnGuard-Signature with it


class DeliveryPublic(msgspec.Struct):
    delivery_id: str
    attempt: int
    status: int | None  # the target's HTTP status (None: no answer)
    error: str
    outcome: Literal["delivered", "retrying", "parked"]
    at: str


class RebuildPublic(msgspec.Struct):
    total: int
    done: int


class RowsStatusPublic(msgspec.Struct):
    """``GET /v1/reports/status``: report rows stored, waiting to be recomputed, the model
    they were built with, and the rebuild the last model change started."""

    rows: int
    pending: int
    model: str | None
    rebuild: RebuildPublic | None


class ReportFlagPublic(FlagPublic, kw_only=True):
    """A flag in a report, with its session and review history. A learner-level flag
    (cramming, account sharing) is one entry for the learner x course: ``sessions`` lists
    every session it touches, ``session_id`` the first."""

    session_id: str
    reviews: list[ReviewPublic]
    sessions: list[str] = msgspec.field(default_factory=list)


class FlagDetailPublic(msgspec.Struct, kw_only=True):
    """``GET /v1/flags/{id}``: a flag with what it is about and every ruling."""

    flag_id: str
    pattern: str
    session_id: str
    learner_id: str
    course_id: str
    org_id: str
    status: str
    reviews: list[ReviewPublic]
    confidence: float | None = None
    reasons: list[Reason] | None = None
    start: str | None = None
    end: str | None = None
    note: str | None = None


class FlaggedLearner(msgspec.Struct):
    learner_id: str
    org_id: str
    course_id: str
    risk: float
    patterns: list[str]
    flags: list[ReportFlagPublic]
    first_seen: str
    last_seen: str


class FlaggedPage(msgspec.Struct):
    """``GET /v1/reports/flagged``: one page, highest risk first."""

    items: list[FlaggedLearner]
    next_cursor: str | None


class UnitRank(msgspec.Struct):
    org_id: str
    learners: int
    active_learners: int
    effective_hours_per_learner: float
    completion_rate: float
    flagged_rate: float
    confirmed_rate: float
    rank: int
    list: Literal["honour", "warning"] | None


class UnitRanking(msgspec.Struct):
    """``GET /v1/reports/orgs``: units ranked, and the rule they were ranked by."""

    items: list[UnitRank]
    ranked_by: str
    notes: list[str] = msgspec.field(default_factory=list)


class TrendDay(msgspec.Struct):
    day: str
    sessions: int
    flagged: dict[str, int]
    share: dict[str, float]


class TrendPublic(msgspec.Struct):
    """``GET /v1/reports/trend``: days are the org's local days (``time_zone``)."""

    items: list[TrendDay]
    time_zone: str = "UTC"


class TimelinePoint(msgspec.Struct):
    at: str
    type: str
    video_id: str | None
    position: float | None
    extra: Any


class ChallengeOutcome(msgspec.Struct):
    """A challenge the service issued, as the timeline shows it (platform-server clocks)."""

    challenge_id: str
    at: str
    outcome: Literal["passed", "failed", "missed", "pending"]
    latency_s: float | None


class TimelinePublic(msgspec.Struct):
    """``GET /v1/sessions/{id}/timeline``: the playback evidence the dashboard draws."""

    session_id: str
    learner_id: str
    course_id: str
    org_id: str
    risk: float
    level: str
    flags: list[ReportFlagPublic]
    claimed_seconds: float
    effective_seconds: float
    points: list[TimelinePoint]
    delivered: list[TimelinePoint] = msgspec.field(default_factory=list)  # media the servers sent (v1.1)
    challenges: list[ChallengeOutcome] = msgspec.field(default_factory=list)


# -- models and operations ----------------------------------------------------------------------
class ModelsPublic(msgspec.Struct):
    active: str | None
    versions: list[Envelope]
    history: list[dict[str, Any]]


class PromotedPublic(msgspec.Struct):
    active: str
    envelope: Envelope


class ActivePublic(msgspec.Struct):
    active: str | None


class ShardHealth(msgspec.Struct):
    shard: int
    lag: int
    accepted: int
    applied: int
    dead_letters: int
    stream_length: int
    owner: str | None


class HealthPublic(msgspec.Struct, omit_defaults=True):
    """``GET /health``: the store, the workers and each shard's lag."""

    status: Literal["ok", "degraded", "down"]
    store: dict[str, Any]
    workers: int | None = None
    lag: int | None = None
    dead_letters: int | None = None
    shards: list[ShardHealth] | None = None
    api_process: int | None = None  # the pid of the API process that answered (serve --processes N)


PUBLIC = (IngestResult, ScorePublic, ScoreRequest, ChallengeRequest, ChallengePublic,
          CoursePublic, LearnerPublic, ReviewRequest, BulkReviewRequest, BulkReviewResult, AppealRequest,
          FlagDetailPublic,
          FlaggedPage, UnitRanking, TrendPublic, TimelinePublic, ModelsPublic, PromotedPublic, ActivePublic,
          HealthPublic, RowsStatusPublic, AtRiskPublic, CreditsPage, HookRequest, HookCreated,
          HookPublic, DeliveryPublic)

ERROR_SCHEMA: dict[str, Any] = {
    "title": "ErrorPublic", "type": "object", "required": ["error"],
    "properties": {"error": {"type": "string", "description": "what is wrong, naming the field or the limit"}},
    "additionalProperties": True,
    "description": "Every error answer: `error` says what is wrong; some add details "
                   "(`rejected` events, `indexes`, `accepted`/`applied`, `ingest`).",
}
ERRORS = {400: "bad body or query", 401: "no key or an unknown or revoked key",
          403: "the key's role or org subtree does not allow this", 404: "not found",
          409: "the request contradicts stored state", 413: "body or event count over the limit",
          422: "a well-formed body that breaks the contract", 429: "the key is over its rate limit (Retry-After)",
          503: "store down or workers behind (Retry-After)"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def ref(struct: type | str) -> dict[str, str]:
    return {"$ref": REF.format(name=struct if isinstance(struct, str) else struct.__name__)}


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def documented(response: type | None, status: int = 200, body: type | str | None = None, *, ndjson: bool = False,
               csv: bool = False, errors: tuple[int, ...] = (400, 401, 403, 404, 422, 503)) -> dict[str, Any]:
    """Route decorator arguments that document the answer (and body) with our structs; a
    ``csv`` route also answers CSV (``Accept: text/csv``) and Excel (``format=xlsx``)."""
    content = _json(ref(response)) if response is not None else {}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
        content[XLSX] = {"schema": {"type": "string", "format": "binary"}}
    responses: dict[int | str, dict[str, Any]] = {
        status: {"description": "OK" if status == 200 else "Accepted", "content": content}}
    for code in sorted({*errors, *((401, 429) if 401 in errors else ())}):
        responses[code] = {"description": ERRORS[code], "content": _json({"$ref": REF.format(name="ErrorPublic")})}
    extra: dict[str, Any] = {}
    if body is not None:
        request = _json(ref(body))
        if ndjson:
            request["application/x-ndjson"] = {"schema": {"type": "string", "description": "one event per line"}}
        extra["requestBody"] = {"required": body not in (ScoreRequest, ChallengeRequest), "content": request}
    return {"responses": responses, "openapi_extra": extra} if extra else {"responses": responses}


def documented_list(item: type, errors: tuple[int, ...] = (401, 403, 503)) -> dict[str, Any]:
    """Route arguments for an answer that is a JSON array of ``item``."""
    spec = documented(None, errors=errors)
    spec["responses"][200] = {"description": "OK", "content": _json({"type": "array", "items": ref(item)})}
    return spec


def install_openapi(app: FastAPI) -> None:
    """Add our structs' schemas (and the contract's events) to the app's OpenAPI components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        (*_, batch), components = msgspec.json.schema_components((*PUBLIC, list[Event]), ref_template=REF)
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(components)
        schemas["ErrorPublic"] = ERROR_SCHEMA
        spec["components"].setdefault("securitySchemes", {})["HTTPBasic"] = {
            "type": "http", "scheme": "basic", "description": "xAPI clients: any user name, the API key as password"}
        schemas["EventBatch"] = {**batch, "description": "contract events (JSON array, or NDJSON): at most "
                                 "5,000 events and 5 MiB in one body"}
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
