"""Keeping the garbage collector's full passes short in long-running processes.

Why: a full (generation-2) collection walks every container object the process holds,
and a served app holds ~200,000 of them before its first request — its libraries
(FastAPI, pydantic, pandas, pyarrow, river, pyod …), the app and, once loaded, a model.
Measured with ``bench/reports.py`` (scores at 500/s, model live): the API process ran
full collections of 100–215 ms each while scoring, the tail of score latency. Those
objects live as long as the process, so walking them finds nothing: ``gc.freeze()`` moves
them to a permanent generation the collector skips, and later full passes walk only what
came after (10–30 ms here; p99 150–226 → 103–118 ms alone, README *Benchmarks*). Fewer
full passes (a higher third threshold) bought nothing more in the same runs: left as is.

Objects still die by reference counting when frozen; only a cycle among them is never
collected, so freezing follows a full collection at startup (nothing cyclic and dead is
frozen), and after a model load only the new objects are frozen (a model is read-only).
"""

from __future__ import annotations

import gc
import logging
import threading

log = logging.getLogger(__name__)
_lock = threading.Lock()
_settled = False


def settle() -> None:
    """Collect once, then freeze what is alive: call when a service process has started
    serving (its imports done, its state loaded). Only such processes freeze: a library
    user's process (a notebook, a test run) keeps its collector as it was."""
    global _settled
    with _lock:
        gc.collect()
        gc.freeze()
        _settled = True
        log.debug("gc: %d objects frozen", gc.get_freeze_count())


def keep(reason: str) -> None:
    """In a settled process, freeze what is alive now without a full collection (cheap):
    after loading something that lives until it is replaced, such as a promoted model."""
    with _lock:
        if _settled:
            gc.freeze()
            log.debug("gc: %d objects frozen after %s", gc.get_freeze_count(), reason)


def settled() -> bool:
    return _settled


def unsettle() -> None:
    """Give every frozen object back to the collector (tests that settled their own process)."""
    global _settled
    with _lock:
        gc.unfreeze()
        _settled = False
