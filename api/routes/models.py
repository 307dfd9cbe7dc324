"""The model registry for analysts: list, promote, roll back (recorded with who and when)."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Response

from learnguard.api.deps import CallerDep, StoreDep
from learnguard.api.schemas import ActivePublic, ModelsPublic, PromotedPublic, documented

router = APIRouter(prefix="/v1", tags=["models"])


def _answer(payload: object) -> Response:
    return Response(msgspec.json.encode(payload), media_type="application/json")


@router.get("/models", summary="Model versions, the active one and the promotion history",
            **documented(ModelsPublic, errors=(401, 403, 503)))
def list_models(caller: CallerDep, store: StoreDep) -> Response:
    caller.require("models")
    registry = store.registry
    return _answer(ModelsPublic(active=registry.active_version(), versions=registry.versions(),
                                history=registry.history()))


@router.post("/models/{version}/promote", summary="Make a version live (no restart needed)",
             **documented(PromotedPublic, errors=(401, 403, 404, 422, 503)))
def promote(version: str, caller: CallerDep, store: StoreDep) -> Response:
    caller.require("models:write")
    registry = store.registry
    envelope = registry.promote(version, f"{caller.key.name} ({caller.key.key_id})")
    registry.refresh()
    return _answer(PromotedPublic(active=envelope.version, envelope=envelope))


@router.post("/models/rollback", summary="Make the previously active version active again",
             **documented(ActivePublic, errors=(401, 403, 409, 503)))
def rollback(caller: CallerDep, store: StoreDep) -> Response:
    caller.require("models:write")
    registry = store.registry
    previous = registry.rollback(f"{caller.key.name} ({caller.key.key_id})")
    registry.refresh()
    return _answer(ActivePublic(active=previous))
