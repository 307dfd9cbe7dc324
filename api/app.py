"""The FastAPI app factory: the store is opened in ``lifespan``, never at import."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from learnguard import __version__
from learnguard.api.errors import install_error_handlers
from learnguard.api.observability import install_observability
from learnguard.api.report_pool import ReportPool
from learnguard.api.routes import (
    challenges,
    courses,
    credits,
    dashboard,
    events,
    flags,
    learners,
    models,
    ops,
    reports,
    sessions,
    webhooks,
    xapi,
)
from learnguard.api.schemas import install_openapi
from learnguard.detector.policy import rules_from
from learnguard.service.gc_pauses import settle
from learnguard.service.redis_conn import revive_embedded
from learnguard.service.reports import REFRESH_BATCH, refresh_rows
from learnguard.service.store import Store
from learnguard.service.worker import Worker
from learnguard.settings import Settings, get_settings

log = logging.getLogger(__name__)


def start_watchdog(store: Store, settings: Settings, stop: threading.Event) -> threading.Thread:
    """In embedded mode, start the embedded Redis again whenever it dies (every 2 s a ping)."""

    def watch() -> None:
        while not stop.wait(2.0):
            try:
                revive_embedded(store.client, settings)
            except Exception:  # noqa: BLE001 - keep watching; the next round tries again
                log.exception("could not start the embedded redis again")

    thread = threading.Thread(target=watch, name="learnguard-redis-watchdog", daemon=True)
    thread.start()
    return thread


def start_row_refresher(store: Store, settings: Settings, stop: threading.Event) -> threading.Thread:
    """Keep the supervisors' report rows current in the background: recompute the dirty
    ones in batches (several API processes share the work: each takes its own rows)."""
    rules = rules_from(settings)

    def refresh() -> None:
        while not stop.is_set():
            try:
                busy = refresh_rows(store, rules, REFRESH_BATCH)
            except Exception:  # noqa: BLE001 - a store hiccup; the marks stay, the next round retries
                log.exception("could not refresh report rows")
                busy = 0
            if not busy:
                stop.wait(0.5)

    thread = threading.Thread(target=refresh, name="learnguard-rows", daemon=True)
    thread.start()
    return thread


def start_webhook_sender(store: Store, settings: Settings, stop: threading.Event) -> threading.Thread:
    """Send credit.changed notifications to the platforms' webhooks (retries, parking):
    off the ingest path, so a slow or dead target holds up nothing."""
    import httpx

    sender = f"sender-{uuid.uuid4().hex[:8]}"

    def send() -> None:
        with httpx.Client(timeout=5.0) as http:
            while not stop.is_set():
                try:
                    store.hooks.send_due(http, settings.webhook_attempts, settings.webhook_backoff_s, sender)
                except Exception:  # noqa: BLE001 - a store hiccup; the stream keeps what was not sent
                    log.exception("could not send webhooks")
                    stop.wait(1.0)

    thread = threading.Thread(target=send, name="learnguard-webhooks", daemon=True)
    thread.start()
    return thread


def create_app(settings: Settings | None = None, store: Store | None = None,
               workers: int = 0) -> FastAPI:
    """Build the app. ``workers`` stream workers run in threads beside the API (``serve``)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.rules = rules_from(settings)
        opened_here = store is None
        app.state.store = store or Store.open(settings)
        app.state.key_cache = {}
        stop = threading.Event()
        threads = []
        if opened_here and not settings.redis_url and settings.embedded_watchdog:
            threads.append(start_watchdog(app.state.store, settings, stop))
        # reports run in processes of their own when this app opened its store (they open
        # theirs from the same settings); the rows' refresher then runs there too
        app.state.reports = ReportPool(settings, app.state.store, app.state.rules,
                                       settings.report_processes if opened_here else 0)
        if app.state.reports.separate:
            app.state.reports.start()
        else:
            threads.append(start_row_refresher(app.state.store, settings, stop))
            threads.append(start_webhook_sender(app.state.store, settings, stop))
        for _ in range(workers):
            worker = Worker(app.state.store.on_same_connection(settings), settings)
            thread = threading.Thread(target=worker.run, args=(stop,), name="learnguard-worker", daemon=True)
            thread.start()
            threads.append(thread)
        if opened_here:  # a service process, not a library user's: see gc_pauses
            settle()
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
            app.state.reports.close()
            if opened_here:
                # drop our connections so an embedded Redis that no other process uses
                # shuts down (saving its files) when this process exits
                app.state.store.close()

    # Swagger UI and ReDoc from files in the package: an intranet with no CDN still has /docs
    app = FastAPIOffline(title="LearnGuard", version=__version__, lifespan=lifespan,
                  description="Learning-integrity service: is the study time real?")
    install_error_handlers(app)
    install_observability(app)
    for router in (events.router, credits.router, courses.router, sessions.router, challenges.router, learners.router,
                   reports.router,
                   flags.router, models.router, ops.router, dashboard.router, xapi.router,
                   webhooks.router):
        app.include_router(router)
    install_openapi(app)
    return app


def app_from_environment() -> FastAPI:
    """The app of one of ``serve --processes N``'s API processes: settings from the
    environment, as many stream workers as ``LEARNGUARD_SERVE_WORKERS`` says."""
    settings = get_settings()
    return create_app(settings, workers=settings.serve_workers)
