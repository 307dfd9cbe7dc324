"""A Learning Record Store subset (xAPI 1.0.3) for platforms that speak xAPI: statements
in (POST one or many, PUT one by id), mapped onto contract events (``features/xapi.py``)."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Query, Request, Response

from learnguard.api.bodies import read_body
from learnguard.api.deps import Caller, SettingsDep, StoreDep
from learnguard.api.schemas import documented
from learnguard.api.xapi_ingest import VERSION, StatementsTaken, check_version, take_statements, xapi_caller
from learnguard.errors import BadRequest
from learnguard.features.xapi import StatementError, decode_statement, decode_statements
from learnguard.settings import Settings

router = APIRouter(prefix="/xapi", tags=["xapi"])

# Basic (the API key as password, what LRS clients send) or Bearer; the schemes are in the spec's components
STATEMENTS_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "description": "an xAPI 1.0.3 statement, or an array of them (at most 5,000)",
    "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}}}},
    "security": [{"HTTPBasic": []}, {"HTTPBearer": []}],
    "parameters": [{"name": "X-Experience-API-Version", "in": "header", "required": True,
                    "schema": {"type": "string", "example": "1.0.3"}}]}


def _ids_answer() -> dict[int | str, dict[str, object]]:
    responses = documented(None, errors=(400, 401, 403, 413, 503))["responses"]
    responses[200] = {"description": "the statements' ids, in order", "content": {"application/json": {
        "schema": {"type": "array", "items": {"type": "string", "format": "uuid"}}}}}
    return responses


def _headers(taken: StatementsTaken) -> dict[str, str]:
    return {"X-Experience-API-Version": VERSION, "X-LearnGuard-Events-Accepted": str(taken.accepted),
            "X-LearnGuard-Events-Duplicate": str(taken.duplicates),
            "X-LearnGuard-Statements-Ignored": str(taken.ignored),
            "X-LearnGuard-Statements-Voided": str(taken.voided),
            "X-LearnGuard-Events-Refused": str(taken.refused)}


async def _opened(request: Request, settings: Settings) -> tuple[Caller, bytes]:
    """The caller (a key that may send events), the version header checked, the body read."""
    caller = xapi_caller(request)
    caller.require("events")
    check_version(request)
    return caller, await read_body(request, settings)


@router.post("/statements", summary="xAPI statements (one or an array): answers their ids",
             responses=_ids_answer(),
             openapi_extra=STATEMENTS_BODY)
async def post_statements(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    """Basic auth (the API key as password) or Bearer; header ``X-Experience-API-Version: 1.0.3``.
    The ``X-LearnGuard-*`` headers say how many events were accepted, were duplicates, and
    how many statements were ignored (a verb LearnGuard does not read) or voided."""
    caller, body = await _opened(request, settings)
    try:
        statements = decode_statements(body)
    except StatementError as exc:
        raise BadRequest(f"{exc}; nothing in this batch was stored") from exc
    taken = take_statements(store, caller, statements, settings)
    return Response(msgspec.json.encode(taken.ids), media_type="application/json", headers=_headers(taken))


@router.put("/statements", status_code=204, summary="One xAPI statement with its id",
            responses=documented(None, 204, errors=(400, 401, 403, 413, 503))["responses"],
            openapi_extra=STATEMENTS_BODY)
async def put_statement(request: Request, store: StoreDep, settings: SettingsDep,
                        statementId: str = Query(..., description="the statement's UUID")  # noqa: N803, B008
                        ) -> Response:
    caller, body = await _opened(request, settings)
    try:
        statement = decode_statement(body)
    except StatementError as exc:
        raise BadRequest(str(exc)) from exc
    if statement.id is not None and statement.id.lower() != statementId.lower():
        raise BadRequest(f"statementId: {statementId!r} differs from the statement's id {statement.id!r}")
    statement.id = statementId
    taken = take_statements(store, caller, [statement], settings)
    return Response(status_code=204, headers=_headers(taken))


@router.get("/about", summary="The xAPI versions this LRS speaks")
def about() -> Response:
    return Response(msgspec.json.encode({"version": [VERSION]}), media_type="application/json",
                    headers={"X-Experience-API-Version": VERSION})
