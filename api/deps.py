"""Request dependencies: the store, and the caller's key checked against role and route."""

from __future__ import annotations

import math
import time
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from learnguard.api.messages import DEFAULT as DEFAULT_LANG
from learnguard.api.messages import negotiate, zone_of
from learnguard.detector.policy import Rules
from learnguard.errors import Forbidden, TooManyRequests, Unauthorized
from learnguard.features.orgs import org_covers
from learnguard.service.apikeys import ApiKey
from learnguard.service.store import Store
from learnguard.settings import Settings

KEY_CACHE_S = 2.0  # a revoked key stops working within this many seconds

# which roles may use which kind of route (contract §6)
PERMISSIONS: dict[str, frozenset[str]] = {
    "events": frozenset({"platform", "admin"}),
    "courses:write": frozenset({"platform", "admin"}),
    "courses:read": frozenset({"platform", "analyst", "admin"}),
    "score": frozenset({"platform", "analyst", "admin"}),
    "learners": frozenset({"supervisor", "analyst", "admin"}),
    "reports": frozenset({"supervisor", "analyst", "admin"}),
    # a platform credits the hours that stand (学时认定) from these
    "credits": frozenset({"platform", "supervisor", "analyst", "admin"}),
    # a platform registers where it wants to hear of changed credits
    "webhooks": frozenset({"platform", "admin"}),
    "reviews": frozenset({"supervisor", "admin"}),
    # a learner's appeal reaches us through their platform or their supervisor
    "appeals": frozenset({"platform", "supervisor", "admin"}),
    "models": frozenset({"analyst", "admin"}),
    # one registry serves every org: promoting or rolling back changes scores for all of them
    "models:write": frozenset({"admin"}),
}


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_rules(request: Request) -> Rules:
    return request.app.state.rules


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
RulesDep = Annotated[Rules, Depends(get_rules)]


class Caller:
    """The authenticated key behind a request, with the checks routes need, the language it
    reads (``Accept-Language``) and the time zones of its orgs."""

    def __init__(self, key: ApiKey, lang: str = DEFAULT_LANG, settings: Settings | None = None) -> None:
        self.key = key
        self.lang = lang
        self.settings = settings

    def zone(self, org_id: str | None = None) -> ZoneInfo:
        """The time zone of ``org_id`` (of the key's own subtree when None)."""
        org = org_id if org_id is not None else self.key.org
        return zone_of(self.settings, org) if self.settings else ZoneInfo("Asia/Shanghai")

    def require(self, permission: str) -> None:
        if self.key.role not in PERMISSIONS[permission]:
            allowed = ", ".join(sorted(PERMISSIONS[permission]))
            raise Forbidden(f"a {self.key.role} key may not use this route (allowed: {allowed})")

    def covers(self, org_id: str) -> bool:
        return org_covers(self.key.org, org_id)

    def require_org(self, org_id: str, what: str) -> None:
        """403 unless ``org_id`` is in this key's subtree; the answer never names the owner."""
        if not self.covers(org_id):
            raise Forbidden(f"{what} is outside this key's org subtree {self.key.org!r}")


def _lookup(request: Request, secret: str) -> ApiKey | None:
    cache: dict[str, tuple[float, ApiKey | None]] = request.app.state.key_cache
    hit = cache.get(secret)
    now = time.monotonic()
    if hit and now - hit[0] < KEY_CACHE_S:
        return hit[1]
    store: Store = request.app.state.store
    key = store.apikeys.lookup(secret)
    if len(cache) > 10_000:
        cache.clear()
    cache[secret] = (now, key)
    return key


# documents the scheme in the OpenAPI; the check itself is ``get_caller``'s, with our error shape
bearer = HTTPBearer(auto_error=False, description="an API key made with `learnguard keys create`")


async def get_caller(request: Request,
               credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials.strip():
        raise Unauthorized("missing key: send 'Authorization: Bearer <key>'")
    return caller_of(request, credentials.credentials.strip())


def caller_of(request: Request, secret: str) -> Caller:
    """The caller behind an API key however it was sent (Bearer, or Basic for xAPI clients)."""
    key = _lookup(request, secret)
    if key is None:
        raise Unauthorized("unknown key")
    if not key.active:
        raise Unauthorized("this key was revoked")
    _within_rate(request, key)
    return Caller(key, negotiate(request.headers.get("accept-language")), request.app.state.settings)


def _within_rate(request: Request, key: ApiKey) -> None:
    """429 with Retry-After when the key is over its role's request rate."""
    settings: Settings = request.app.state.settings
    per_second = settings.rate_limits.get(key.role)
    if not per_second:
        return
    store: Store = request.app.state.store
    wait_ms = store.limits.take(key.key_id, per_second, per_second * settings.rate_burst_s)
    if wait_ms:
        raise TooManyRequests(f"this key is over its limit of {per_second:g} requests/s ({key.role} keys); "
                              f"retry in {wait_ms / 1000:.1f} s", retry_after=max(1, math.ceil(wait_ms / 1000)))


CallerDep = Annotated[Caller, Depends(get_caller)]
