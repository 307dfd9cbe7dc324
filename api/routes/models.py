"""The model registry for analysts: list, promote, roll back (recorded with who and when)."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Response

from api.deps import CallerDep, StoreDep
from detector.readtime import registry_of

router = APIRouter(prefix="/v1", tags=["models"])


def _answer(payload: object) -> Response:
    return Response(msgspec.json.encode(payload), media_type="application/json")


@router.get("/models", summary="Model versions, the active one and the promotion history")
def list_models(caller: CallerDep, store: StoreDep) -> Response:
    caller.require("models")
    registry = registry_of(store)
    return _answer({"active": registry.active_version(), "versions": registry.list(), "history": registry.history()})


@router.post("/models/{version}/promote", summary="Make a version live (no restart needed)")
def promote(version: str, caller: CallerDep, store: StoreDep) -> Response:
    caller.require("models")
    registry = registry_of(store)
    envelope = registry.promote(version, f"{caller.key.name} ({caller.key.key_id})")
    registry.refresh()
    return _answer({"active": envelope.version, "envelope": envelope})


@router.post("/models/rollback", summary="Make the previously active version active again")
def rollback(caller: CallerDep, store: StoreDep) -> Response:
    caller.require("models")
    registry = registry_of(store)
    previous = registry.rollback(f"{caller.key.name} ({caller.key.key_id})")
    registry.refresh()
    return _answer({"active": previous})
