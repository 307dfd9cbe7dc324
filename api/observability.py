"""Every request gets an id (``X-Request-ID``, echoed back) and is counted: requests and
latency by method, route and status, for Prometheus at ``/metrics``."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import Counter, Histogram

from learnguard.logs import request_id

REQUESTS = Counter("learnguard_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram("learnguard_http_request_seconds", "HTTP request latency", ["method", "route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def install_observability(app: FastAPI) -> None:
    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        given = request.headers.get("x-request-id", "")
        rid = given if SANE_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            request_id.reset(token)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        response.headers["X-Request-ID"] = rid
        return response
