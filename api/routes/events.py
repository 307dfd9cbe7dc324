"""``POST /v1/events`` (contract §1)."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Request, Response

from learnguard.api.bodies import read_body
from learnguard.api.deps import CallerDep, SettingsDep, StoreDep
from learnguard.api.ingest import ingest, is_ndjson, parse_events
from learnguard.api.schemas import IngestResult, documented

router = APIRouter(prefix="/v1", tags=["events"])


@router.post("/events", status_code=202, summary="Send events (JSON array or NDJSON)",
             **documented(IngestResult, 202, body="EventBatch", ndjson=True, errors=(400, 401, 403, 413, 503)))
async def post_events(request: Request, caller: CallerDep, store: StoreDep, settings: SettingsDep) -> Response:
    """Validate and enqueue events; valid ones are on a Redis Stream before 202 is answered."""
    caller.require("events")
    body = await read_body(request, settings)
    events, indexes, rejected = parse_events(body, is_ndjson(request), settings)
    result = ingest(store, caller, events, indexes, rejected)
    return Response(msgspec.json.encode(result), status_code=202, media_type="application/json")
