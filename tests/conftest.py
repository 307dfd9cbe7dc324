"""Fixtures: a store on embedded and on server Redis, and the real HTTP service on it.

Every test gets its own key prefix and deletes its keys afterwards, so the suite can run
against a shared Redis server without leaving anything behind.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from learnguard.api.app import create_app
from learnguard.replay import replay, score_all
from learnguard.server_thread import ServerThread
from learnguard.service import gc_pauses
from learnguard.service.keys import shard_of
from learnguard.service.store import Store
from learnguard.settings import Settings
from learnguard.simulator.cohort import simulate_cohort

SERVER_URL = os.environ.get("LEARNGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def embedded_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One embedded Redis for the whole run, shut down at the end (no daemon left behind)."""
    path = tmp_path_factory.mktemp("embedded")
    yield path
    from learnguard.service.redis_conn import connect
    client = connect(Settings(redis_url=None, data_dir=path))
    try:
        client.shutdown(nosave=True)
    except redis.RedisError:
        pass  # the server closes the connection as it stops


# the stores integration tests run on: "embedded,server" by default; test.sh runs the
# contract and worker-recovery suites again with "cluster" (a local 3-master Redis Cluster)
BACKENDS = os.environ.get("LEARNGUARD_TEST_BACKENDS", "embedded,server").split(",")
CLUSTER: list[str] = []  # the running cluster's URL, once started


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """A local Redis Cluster, started once for the run when the cluster backend is asked for."""
    if "cluster" not in BACKENDS:
        yield None
        return
    from tests.cluster import LocalCluster, available

    if not available():
        pytest.skip("redis-server and redis-cli are needed for the cluster backend")
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster")).start()
    CLUSTER.append(cluster.url)
    try:
        yield cluster.url
    finally:
        CLUSTER.clear()
        cluster.stop()


def make_settings(backend: str, embedded_dir: Path, **overrides: object) -> Settings:
    prefix = f"lgtest-{uuid.uuid4().hex[:10]}"
    base: dict[str, object] = {"key_prefix": prefix, "shards": 4, "score_wait_s": 10.0,
                               "lease_ms": 1000, "worker_block_ms": 20, "webhook_backoff_s": 0.2,
                               "webhook_attempts": 3}
    base.update(overrides)
    if backend == "server":
        return Settings(redis_url=SERVER_URL, **base)
    if backend == "cluster":
        return Settings(redis_url=CLUSTER[0], **base)
    return Settings(redis_url=None, data_dir=embedded_dir, **base)


def cleanup(store: Store) -> None:
    store.delete_all()


def assert_applied_once(store: Store, scores: list[dict], events: list[dict]) -> None:
    """Every event sent was accepted once and applied once: each session's score counts its
    events, and its shard's accepted count equals what was sent (chaos tests end with this)."""
    by_session = Counter(event["session_id"] for event in events)
    assert {s["session_id"]: s["events"] for s in scores} == dict(by_session)
    learners = {e["session_id"]: e["learner_id"] for e in events}
    for session_id, count in by_session.items():
        assert store.streams.accepted_counts(session_id) == {shard_of(learners[session_id], store.shards): count}


@pytest.fixture(autouse=True)
def _collector_as_it_was() -> Iterator[None]:
    """An app that opened its own store froze the test process's objects (``gc_pauses``):
    give them back to the collector after the test."""
    yield
    if gc_pauses.settled():
        gc_pauses.unsettle()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, cluster_url: str | None) -> str:
    return request.param


@pytest.fixture
def settings(backend: str, embedded_dir: Path) -> Settings:
    return make_settings(backend, embedded_dir)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = Store.open(settings)
    yield opened
    cleanup(opened)


@dataclass
class Service:
    url: str
    store: Store
    settings: Settings
    keys: dict[str, str]

    def client(self, who: str | None = "platform") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def make_keys(store: Store) -> dict[str, str]:
    ks = store.apikeys
    return {
        "platform": ks.create("platform", "zhejiang", "platform")[0],
        "platform_hdu": ks.create("platform", "zhejiang/hdu", "hdu platform")[0],
        "platform_other": ks.create("platform", "jiangsu", "other province")[0],
        "supervisor": ks.create("supervisor", "zhejiang/hdu", "hdu office")[0],
        "analyst": ks.create("analyst", "zhejiang", "analyst")[0],
        "admin": ks.create("admin", None, "admin")[0],
    }


@contextmanager
def running_service(store: Store, settings: Settings, workers: int = 1) -> Iterator[Service]:
    """The real HTTP service on ``store`` with ``workers`` in-process stream workers."""
    server = ServerThread(create_app(settings, store=store, workers=workers)).start()
    try:
        yield Service(url=server.url, store=store, settings=settings, keys=make_keys(store))
    finally:
        server.stop()


@pytest.fixture
def service(store: Store, settings: Settings) -> Iterator[Service]:
    with running_service(store, settings) as running:
        yield running


@pytest.fixture
def cohort_service(service):
    """The service with a 40-learner simulated cohort (seed 5) replayed and every session scored."""
    cohort = simulate_cohort(learners=40, seed=5)
    with service.client("admin") as http:
        replay(http, cohort)
        score_all(http, list(cohort.truth.sessions))
    return service, cohort


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser():
    """Headless Debian Chromium driven by Selenium (dashboard and tracker tests); media may
    play without a gesture so a userscript's muted autoplay behaves as in a real tab."""
    if not Path(CHROMIUM).exists() or not Path(CHROMEDRIVER).exists():
        pytest.skip("Debian's chromium and chromium-driver are needed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--autoplay-policy=no-user-gesture-required", "--window-size=1400,2200"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
