"""Applied events are archived to Parquet before Redis trims them, and can be replayed."""

from __future__ import annotations

import msgspec
import pytest
from typer.testing import CliRunner

from learnguard.cli import app
from learnguard.features.events import Event
from learnguard.service.archive import read_events
from learnguard.service.store import Store
from learnguard.service.worker import Worker
from learnguard.settings import get_settings
from learnguard.simulator.cohort import simulate_cohort
from tests.conftest import cleanup, make_settings

pytestmark = pytest.mark.integration


def test_applied_entries_are_archived_then_trimmed_and_replay_is_idempotent(
        backend, embedded_dir, tmp_path, monkeypatch) -> None:
    settings = make_settings(backend, embedded_dir, stream_retention_ms=0, archive_dir=tmp_path / "archive")
    store = Store.open(settings)
    events = msgspec.convert(simulate_cohort(learners=8, seed=9).events, list[Event])
    try:
        accepted = 0
        for start in range(0, len(events), 300):
            accepted += sum(store.streams.ingest(events[start:start + 300]))
        worker = Worker(store, settings)
        while sum(s.lag for s in store.streams.shard_stats()) > 0:
            worker.step()
        archived = sum(worker.archive_and_trim(shard) for shard in sorted(worker.owned))
        left = sum(int(fields[b"n"]) for shard in range(settings.shards)
                   for _, fields in store.client.xrange(store.keys.events(shard)))
        assert archived > 0.9 * accepted and archived + left == accepted
        assert sum(1 for _ in read_events(tmp_path / "archive")) == archived
        assert worker.archive_and_trim(min(worker.owned)) == 0  # nothing twice
        worker.shutdown()

        fresh = make_settings(backend, embedded_dir)
        monkeypatch.setenv("LEARNGUARD_KEY_PREFIX", fresh.key_prefix)
        monkeypatch.setenv("LEARNGUARD_SHARDS", str(fresh.shards))
        monkeypatch.setenv("LEARNGUARD_DATA_DIR", str(embedded_dir))
        if fresh.redis_url:
            monkeypatch.setenv("REDIS_URL", fresh.redis_url)
        else:
            monkeypatch.delenv("REDIS_URL", raising=False)
        get_settings.cache_clear()
        runner = CliRunner()
        first = runner.invoke(app, ["archive", "replay", str(tmp_path / "archive")])
        again = runner.invoke(app, ["archive", "replay", str(tmp_path / "archive")])
        assert first.exit_code == 0, first.output
        assert f"{archived} new ones" in first.output and "0 new ones" in again.output
        cleanup(Store.open(fresh))
    finally:
        get_settings.cache_clear()
        cleanup(store)
