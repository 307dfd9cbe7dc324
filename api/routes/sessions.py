"""``POST /v1/sessions/{session_id}/score`` (contract §3), read-your-writes."""

from __future__ import annotations

import asyncio
import time

import msgspec
from fastapi import APIRouter, Request, Response

from learnguard.api.bodies import read_body, unreadable
from learnguard.api.deps import CallerDep, RulesDep, SettingsDep, StoreDep
from learnguard.api.ingest import ingest, is_ndjson, parse_events
from learnguard.api.present import flag_public
from learnguard.api.schemas import ScorePublic, ScoreRequest, documented
from learnguard.api.timefmt import rfc3339
from learnguard.detector.records import SessionRecord
from learnguard.errors import BadRequest, Conflict, NotFound, Unavailable
from learnguard.service import metrics
from learnguard.service.readside import reviewed_score
from learnguard.service.store import Store

router = APIRouter(prefix="/v1", tags=["scoring"])

_decode_score_body = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode


async def wait_until_applied(store: Store, session_id: str, timeout_s: float) -> SessionRecord:
    """Poll until every event accepted for the session is applied, or give up clearly."""
    counts, raws = store.streams.accepted_and_records(session_id)
    if not counts:
        raise NotFound(f"session {session_id!r} has no events")
    if len(counts) > 1:
        raise Conflict(f"session {session_id!r} has events of several learners; session ids must "
                       f"belong to one learner")
    shard, accepted = next(iter(counts.items()))
    deadline = time.monotonic() + timeout_s
    pause = 0.002
    raw = raws.get(shard)
    record = store.sessions.decode_records({session_id: raw}).get(session_id) if raw else None
    while True:
        applied = record.state.applied_events if record else 0
        if record is not None and applied >= accepted:
            return record
        if time.monotonic() >= deadline:
            raise Unavailable(f"session {session_id!r}: {accepted - applied} of {accepted} accepted events "
                              f"are not processed yet after {timeout_s:g} s; are workers running? "
                              f"(see /health)", accepted=accepted, applied=applied)
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.05)
        record = store.sessions.load_record(shard, session_id)


@router.post("/sessions/{session_id}/score", summary="Score a session",
             **documented(ScorePublic, body=ScoreRequest, errors=(400, 401, 403, 404, 409, 413, 503)))
async def score(session_id: str, request: Request, caller: CallerDep, store: StoreDep,
                settings: SettingsDep, rules: RulesDep) -> Response:
    """Risk, flags and the study time that stands, reflecting every event accepted before."""
    started = time.perf_counter()
    caller.require("score")
    body = await read_body(request, settings)
    if body.strip():
        try:
            fields = _decode_score_body(body)
        except msgspec.ValidationError as exc:
            raise BadRequest(f"body must be a JSON object such as {{\"events\": [...]}}: {exc}") from exc
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise unreadable(exc) or BadRequest("body cannot be read") from exc
        if "events" in fields:
            caller.require("events")
            events, indexes, rejected = parse_events(bytes(fields["events"]), is_ndjson(request), settings)
            if rejected:
                ingested = ingest(store, caller, events, indexes, rejected)
                raise BadRequest("some events of the body were rejected; the valid ones were accepted",
                                 ingest=msgspec.to_builtins(ingested))
            ingest(store, caller, events, indexes, rejected)
    record = await wait_until_applied(store, session_id, settings.score_wait_s)
    state, result = record.state, record.score
    caller.require_org(state.org_id, f"session {session_id}")
    if result is None:
        raise Unavailable(f"session {session_id!r} is not scored yet")
    result, _ = reviewed_score(store, record, rules)
    answer = ScorePublic(
        session_id=session_id, learner_id=state.learner_id, org_id=state.org_id, course_id=state.course_id,
        risk=result.risk, level=result.level,  # type: ignore[arg-type]
        flags=[flag_public(flag, caller, state.org_id) for flag in result.flags],
        claimed_seconds=result.claimed_seconds, effective_seconds=result.effective_seconds,
        events=result.events, model_version=result.model_version, scored_at=rfc3339(time.time()),
        notes=result.notes, model=result.model, online=result.online, verification=result.verification)
    metrics.SCORE_LATENCY.observe(time.perf_counter() - started)
    return Response(msgspec.json.encode(answer), media_type="application/json")
