"""The model registry for analysts: list, promote, roll back (recorded with who and when)."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Response
from learnguard.api.deps import CallerDep, StoreDep

router = APIRouter(prefix="/v1", tags=["models"])


def _answer(payload: object) -> Response:
    return Response(msgspec.json.encode(payload), media_type="application/json")


@router.get("/models", summary="Model versions, the active one and the promotion history")
def list_models(caller: CallerDep, store: StoreDep) -> Response:
    caller.require("models")
    registry = store.registry
    return _answer({"active": registry.active_version(), "versions": registry.list(), "history": registry.history()})


@router.post("/models/{version}/promote", summary="Make a version live (no restart needed)")
def promote(version: str, caller: CallerDep, store: StoreDep) -> Response:
    caller.require("models")
    registry = store.registry
    envelope = registry.promote(version, f"{caller.key.name} ({caller.key.key_id})")
    registry.refresh()
    return _answer({"active": envelope.version, "envelope": envelope})


@router.post("/models/rollback", summary="Make the previously active version active again")
def rollback(caller: CallerDep, store: StoreDep) -> Response:
    caller.require("models")
    registry = store.registry
    previous = registry.rollback(f"{caller.key.name} ({caller.key.key_id})")
    registry.refresh()
    return _answer({"active": previous})
