"""xAPI statements in: map each to contract events (``features/xapi.py``) and put them on
the streams through the same checks ``POST /v1/events`` uses.

xAPI batches are all-or-nothing (xAPI 1.0.3 §2.2: an LRS rejects the whole batch when one
statement is invalid), so any statement that cannot be read — or that maps to an event
the contract refuses (a rate of 0, a time in 1970) — answers 400 naming the statement and
the field, and nothing of the batch is stored. Unknown verbs are acknowledged and
ignored (counted in the answer); voided statements are ignored when they arrive.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

import msgspec
from fastapi import Request

from learnguard.api.deps import Caller, caller_of
from learnguard.api.ingest import ingest
from learnguard.errors import BadRequest, PayloadTooLarge, Unauthorized
from learnguard.features.events import Event, explain_validation_error, time_out_of_range
from learnguard.features.xapi import Mapped, Statement, StatementError, map_statement
from learnguard.service.store import Store
from learnguard.settings import Settings

VERSION = "1.0.3"


class StatementsTaken(msgspec.Struct):
    """What a statements body did: ids in order, and the counts the answer's headers carry."""

    ids: list[str]
    accepted: int  # new contract events
    duplicates: int  # events seen before (a retried statement)
    ignored: int  # statements LearnGuard does not read (verb), acknowledged
    voided: int  # statements voided before they arrived, ignored
    refused: int  # events refused per event (ids another org owns)


def xapi_caller(request: Request) -> Caller:
    """The key behind Basic auth (any user name, the API key as password — what LRS clients
    send) or a Bearer key."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    secret = ""
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise Unauthorized("Authorization: Basic credentials are not base64 of user:password") from exc
        secret = password or user
    elif scheme.lower() == "bearer":
        secret = value
    if not secret.strip():
        raise Unauthorized("missing key: send Basic auth (any user name, the API key as password) or "
                           "'Authorization: Bearer <key>'")
    return caller_of(request, secret.strip())


def check_version(request: Request) -> None:
    version = request.headers.get("x-experience-api-version")
    if version is None:
        raise BadRequest(f"X-Experience-API-Version: required header (this LRS speaks {VERSION})")
    if not version.startswith("1.0"):
        raise BadRequest(f"X-Experience-API-Version: {version!r} is not supported (1.0.x; this LRS speaks {VERSION})")


def _contract_events(events: list[dict[str, object]], owners: list[int]) -> list[Event]:
    """The mapped dicts as contract events, validated as ``POST /v1/events`` validates (the
    whole batch at once; on a refusal, one by one to name the statement and the field)."""
    try:
        valid = msgspec.convert(events, list[Event])
        problem = next((i for i, event in enumerate(valid) if time_out_of_range(event)), None)
        if problem is None:
            return valid
    except msgspec.ValidationError:
        pass
    for index, event in enumerate(events):
        try:
            one = msgspec.convert(event, Event)
            error = time_out_of_range(one)
        except msgspec.ValidationError as exc:
            error = explain_validation_error(str(exc), event)
        if error:
            raise BadRequest(f"statement {owners[index]}: maps to a {event['type']} event that the contract "
                             f"refuses: {error}; nothing in this batch was stored", statement=owners[index])
    raise AssertionError("a batch refused as a whole has an event refused alone")


def take_statements(store: Store, caller: Caller, statements: list[Statement],
                    settings: Settings) -> StatementsTaken:
    """Map, check and ingest a batch (all or nothing); ignored statements are kept as sent."""
    if len(statements) > settings.max_events:
        raise PayloadTooLarge(f"{len(statements)} statements in one body; the limit is {settings.max_events}")
    now = datetime.now(UTC)
    mapped: list[Mapped] = []
    for index, statement in enumerate(statements):
        try:
            mapped.append(map_statement(statement, caller.key.org, now))
        except StatementError as exc:
            raise BadRequest(f"statement {index}: {exc}; nothing in this batch was stored",
                             statement=index) from exc
    voids = [(m.voids, m.statement_id) for m in mapped if m.voids]
    voided = store.voids.voided([m.statement_id for m in mapped if m.events]) | {target for target, _ in voids}
    owners: list[int] = []
    events: list[dict[str, object]] = []
    for index, m in enumerate(mapped):
        if m.events and m.statement_id not in voided:
            events.extend(m.events)
            owners.extend([index] * len(m.events))
    valid = _contract_events(events, owners)
    result = ingest(store, caller, valid, list(range(len(valid))), [])
    store.voids.void(voids)
    store.voids.keep_ignored([(m.statement_id, m.ignored, msgspec.json.encode(statement))
                              for m, statement in zip(mapped, statements, strict=True) if m.ignored])
    return StatementsTaken(ids=[m.statement_id for m in mapped], accepted=result.accepted,
                           duplicates=result.duplicates, ignored=sum(1 for m in mapped if m.ignored),
                           voided=sum(1 for m in mapped if m.events and m.statement_id in voided),
                           refused=len(result.rejected))
