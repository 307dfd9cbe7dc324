"""Webhooks: a platform hears when a learner's credited hours or standing change
(``credit.changed``), signed with a secret only it and the service know."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import msgspec
from fastapi import APIRouter, Query, Request, Response

from learnguard.api.bodies import decode_json, read_body
from learnguard.api.deps import CallerDep, SettingsDep, StoreDep
from learnguard.api.schemas import (
    DeliveryPublic,
    HookCreated,
    HookPublic,
    HookRequest,
    documented,
    documented_list,
)
from learnguard.api.timefmt import rfc3339
from learnguard.errors import BadRequest, NotFound
from learnguard.service.webhooks import Hook

router = APIRouter(prefix="/v1", tags=["webhooks"])


def _public(hook: Hook) -> HookPublic:
    return HookPublic(hook_id=hook.hook_id, url=hook.url, org_id=hook.org_id, created_at=rfc3339(hook.created_at),
                      created_by=hook.created_by)


@router.post("/webhooks", status_code=201, summary="Register a webhook (credit.changed, HMAC-signed)",
             **documented(HookCreated, 201, body=HookRequest, errors=(400, 401, 403, 422, 503)))
async def register(request: Request, caller: CallerDep, store: StoreDep, settings: SettingsDep) -> Response:
    """The answer carries the signing ``secret`` once (yours if you sent one)."""
    caller.require("webhooks")
    body = decode_json(await read_body(request, settings), HookRequest, '{"url": "https://…", "secret": "…"}')
    parts = urlsplit(body.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest(f"url: {body.url!r} is not an http(s) URL")
    if body.secret is not None and len(body.secret) < 16:
        raise BadRequest("secret: at least 16 characters (or leave it out and one is made)")
    hook = store.hooks.register(body.url, caller.key.org, caller.key.name or caller.key.key_id, body.secret)
    return Response(msgspec.json.encode(HookCreated(**msgspec.structs.asdict(_public(hook)), secret=hook.secret)),
                    status_code=201, media_type="application/json")


def _mine(caller: CallerDep, store: StoreDep, hook_id: str) -> Hook:
    hook = store.hooks.get(hook_id)
    if hook is None or not (caller.key.org is None or hook.org_id == caller.key.org):
        raise NotFound(f"webhook {hook_id!r} is not one of this key's")
    return hook


@router.get("/webhooks", summary="This key's org's webhooks", **documented_list(HookPublic))
def listed(caller: CallerDep, store: StoreDep) -> Response:
    caller.require("webhooks")
    hooks = [h for h in store.hooks.all() if caller.key.org is None or h.org_id == caller.key.org]
    return Response(msgspec.json.encode([_public(h) for h in hooks]), media_type="application/json")


@router.delete("/webhooks/{hook_id}", status_code=204, summary="Remove a webhook",
               **documented(None, 204, errors=(401, 403, 404, 503)))
def remove(hook_id: str, caller: CallerDep, store: StoreDep) -> Response:
    caller.require("webhooks")
    store.hooks.remove(_mine(caller, store, hook_id).hook_id)
    return Response(status_code=204)


@router.get("/webhooks/{hook_id}/deliveries", summary="The webhook's delivery log, newest first",
            **documented_list(DeliveryPublic, (401, 403, 404, 422, 503)))
def deliveries(hook_id: str, caller: CallerDep, store: StoreDep,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    caller.require("webhooks")
    hook = _mine(caller, store, hook_id)
    log = [DeliveryPublic(delivery_id=e["delivery_id"], attempt=e["attempt"], status=e["status"], error=e["error"],
                          outcome=e["outcome"], at=rfc3339(e["at"])) for e in store.hooks.log(hook.hook_id, limit)]
    return Response(msgspec.json.encode(log), media_type="application/json")
