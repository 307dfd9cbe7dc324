"""Reports answered in their own processes, so reading them never slows platform scoring.

A province-wide report is tens of milliseconds of Python; in the API process it holds the
interpreter lock while platforms wait for scores (measured: score p99 105–116 ms at
500 req/s while two supervisors read reports, 21–23 ms without them). Here the report
runs in a process of its own (spawned, so no lock or socket is inherited from the
server's threads) with its own store connection; the API process only sends the parsed
query and passes the finished body on. The report rows' background refresher runs there
too, and the webhook sender. A report process that dies is replaced at the next report.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Annotated, Any

from fastapi import Depends, Request, Response

from learnguard.api.report_answers import Answer
from learnguard.detector.policy import Rules
from learnguard.errors import Unavailable
from learnguard.service.gc_pauses import settle
from learnguard.service.store import Store
from learnguard.settings import Settings

log = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 120.0
# report processes yield the CPU to the API process when both want it: a report can wait
# 50 ms more, a platform's score should not (Linux nice 10: about a tenth of the weight)
REPORT_NICENESS = 10

Report = Callable[..., Answer]


class ReportPool:
    """Runs report functions (``api/report_answers.py``) in ``processes`` report processes,
    or in the calling thread when ``processes`` is 0 (tests that patch the service, an app
    given a store it did not open)."""

    def __init__(self, settings: Settings, store: Store, rules: Rules, processes: int) -> None:
        self.settings = settings
        self.store = store
        self.rules = rules
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def separate(self) -> bool:
        """Whether reports run outside this process (then the row refresher runs there too)."""
        return self.processes > 0

    def start(self) -> None:
        """Start the report processes now (a first report would otherwise wait for them)."""
        if self.separate:
            self._pool().submit(_ready)

    def answer(self, report: Report, *args: Any) -> Response:
        """The report's response; a domain error raised by the report reaches the caller as is."""
        body, media_type, headers = self._run(report, args)
        return Response(body, media_type=media_type, headers=headers)

    def _run(self, report: Report, args: tuple[Any, ...]) -> Answer:
        if not self.separate:
            return report(self.store, self.rules, *args)
        for attempt in (1, 2):
            pool = self._pool()
            try:
                future: Future[Answer] = pool.submit(_in_report_process, report, args)
                return future.result(timeout=ANSWER_TIMEOUT_S)
            except BrokenProcessPool:
                log.warning("a report process died; starting another (attempt %d)", attempt)
                self._replace(pool)
            except TimeoutError as exc:
                raise Unavailable("the report took too long; retry in a minute", retry_after=60) from exc
        raise Unavailable("reports cannot be answered now; retry in a few seconds", retry_after=5)

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.processes, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_open_report_process, initargs=(self.settings,))
            return self._executor

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


async def get_reports(request: Request) -> ReportPool:
    return request.app.state.reports


ReportsDep = Annotated[ReportPool, Depends(get_reports)]


# -- inside a report process ------------------------------------------------------------

_STORE: Store | None = None
_RULES: Rules | None = None


def _open_report_process(settings: Settings) -> None:
    """Open the store (attaching to the embedded server the API started, or ``REDIS_URL``)
    and start the report rows' refresher."""
    global _STORE, _RULES
    from learnguard.api.app import start_row_refresher, start_webhook_sender
    from learnguard.detector.policy import rules_from
    from learnguard.logs import configure

    configure(verbose=False, json_lines=settings.json_logs)
    _exit_with_parent()
    try:
        os.nice(REPORT_NICENESS)
    except OSError:  # not permitted here: the reports still run, at the same priority
        log.warning("could not lower the report process's priority")
    _STORE = Store.open(settings)
    _RULES = rules_from(settings)
    start_row_refresher(_STORE, settings, threading.Event())
    start_webhook_sender(_STORE, settings, threading.Event())
    settle()


def _exit_with_parent() -> None:
    """Stop when the API process is gone, even killed with SIGKILL (no orphan keeps its
    threads and store connection; seen in the chaos tests before this)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="learnguard-report-parent", daemon=True).start()


def _ready() -> bool:
    return _STORE is not None


def _in_report_process(report: Report, args: tuple[Any, ...]) -> Answer:
    assert _STORE is not None and _RULES is not None, "report process not opened"
    return report(_STORE, _RULES, *args)
