"""One place that turns errors into responses: domain errors keep their status, a store
that cannot be reached is a 503, and nothing leaks out as a bare 500."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from learnguard.errors import LearnGuardError
from learnguard.service.store import StoreError

log = logging.getLogger(__name__)


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None,
                   **details: object) -> JSONResponse:
    return JSONResponse({"error": message, **details}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LearnGuardError)
    async def domain_error(request: Request, exc: LearnGuardError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return error_response(exc.status, exc.message, headers=headers, **exc.details)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in err['loc'] if p != 'body')}: {err['msg']}"
                    for err in exc.errors()]
        return error_response(422, "; ".join(problems) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), headers=exc.headers)  # keeps 405's Allow

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> JSONResponse:
        log.error("store error on %s: %s", request.url.path, exc)  # the details stay in the log
        return error_response(503, "the store is unavailable; retry in a few seconds", headers={"Retry-After": "2"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(500, f"internal error ({type(exc).__name__}); it was logged")
