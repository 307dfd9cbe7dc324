"""A served process keeps the garbage collector's full passes short: what it starts with
(libraries, the app) and the models it loads are frozen out of them (``gc_pauses``).

The latency this buys is measured by ``bench/reports.py`` (score p99 while scoring at
500/s); these tests hold the mechanism: which processes freeze, and when.
"""

from __future__ import annotations

import gc

import pandas as pd
import pytest

from learnguard.api.app import create_app
from learnguard.detector.policy import rules_from
from learnguard.models.training import train
from learnguard.replay import replay, score_all
from learnguard.server_thread import ServerThread
from learnguard.service import gc_pauses
from learnguard.service.export import session_rows
from learnguard.simulator.cohort import simulate_cohort

pytestmark = pytest.mark.integration


def test_a_served_app_freezes_what_it_started_with_and_a_library_user_does_not(service) -> None:
    # the fixture's app was handed a store (a library user, here the test run): nothing frozen
    assert not gc_pauses.settled() and gc.get_freeze_count() == 0
    server = ServerThread(create_app(service.settings.model_copy(update={"report_processes": 0}))).start()
    try:
        assert gc_pauses.settled()
        frozen = gc.get_freeze_count()
        assert frozen > 100_000, frozen  # the libraries, the app: what every full pass walked before
        with service.client("admin") as http:
            assert http.get("/health").status_code == 200
    finally:
        server.stop()
        gc_pauses.unsettle()
    assert gc.get_freeze_count() == 0


def test_a_model_promoted_later_is_frozen_once_loaded_in_a_settled_process(service) -> None:
    cohort = simulate_cohort(learners=12, seed=5)
    with service.client("admin") as http:
        replay(http, cohort)
        score_all(http, list(cohort.truth.sessions))
    model, training, metrics = train(pd.DataFrame(session_rows(service.store, rules_from(service.settings))),
                                     "ensemble")
    registry = service.store.registry
    envelope = registry.register(model, training, metrics, by="test")
    registry.promote(envelope.version, by="test")
    registry.refresh()
    registry.active()  # a library user's process: loaded, nothing frozen
    assert gc.get_freeze_count() == 0
    gc_pauses.settle()
    try:
        before = gc.get_freeze_count()
        registry.rollback(by="test")  # back to no model, then the same version again: loaded anew
        registry.refresh()
        assert registry.active() == (None, None)
        registry.promote(envelope.version, by="test")
        registry.refresh()
        loaded, _ = registry.active()
        assert loaded is not None
        assert gc.get_freeze_count() > before  # the model's objects joined the frozen ones
        assert gc.is_tracked(loaded) and not any(o is loaded for o in gc.get_objects())  # frozen: unwalked
    finally:
        gc_pauses.unsettle()
