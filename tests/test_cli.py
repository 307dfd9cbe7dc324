"""The command line: keys are printed once and stored as hashes; simulate writes a cohort."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from learnguard.cli import app
from learnguard.service.apikeys import hash_key
from learnguard.settings import get_settings

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LEARNGUARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEARNGUARD_KEY_PREFIX", "lgcli")
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.integration
def test_keys_create_list_revoke(cli_env: Path) -> None:
    created = runner.invoke(app, ["keys", "create", "--role", "supervisor", "--org", "zhejiang/hdu",
                                  "--name", "hdu office"])
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    assert secret.startswith("lg_")
    from learnguard.service.store import Store
    store = Store.open(get_settings())
    stored = b"".join(store.client.get(k) or b"" for k in store.client.scan_iter(match="lgcli:apikey:*"))
    assert secret.encode() not in stored and hash_key(secret)[:12].encode() in stored
    listed = runner.invoke(app, ["keys", "list"])
    assert "hdu office" in listed.output and secret not in listed.output
    key_id = hash_key(secret)[:12]
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 0
    assert "revoked" in runner.invoke(app, ["keys", "list"]).output
    bad = runner.invoke(app, ["keys", "create", "--role", "platform"])
    assert bad.exit_code == 2 and "needs --org" in bad.output


def test_simulate_writes_events_course_and_truth(cli_env: Path) -> None:
    out = cli_env / "cohort"
    result = runner.invoke(app, ["simulate", "--learners", "30", "--seed", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "truth.json").read_text())
    lines = (out / "events.ndjson").read_text().splitlines()
    assert len(truth["learners"]) == 30 and len(lines) > 1000
    archetypes = {learner["archetype"] for learner in truth["learners"].values()}
    assert {"regular", "mobile"} <= archetypes or len(archetypes) > 5
    assert all(s["true_watched_seconds"] >= 0 for s in truth["sessions"].values())
    assert json.loads((out / "course.json").read_text())["max_rate"] == 2.0


@pytest.mark.integration
def test_dead_letters_are_listed_and_requeued_once(cli_env: Path) -> None:
    """An operator who fixed a dead letter's cause (a cold file restored) puts it back:
    its events return to the shard's stream once, the counters stop calling them dead."""
    from learnguard.service.store import Store

    store = Store.open(get_settings())
    try:
        payload = b'{"event_id": "a"}\n{"event_id": "b"}'
        store.client.xadd(store.keys.dead(1), {"source_id": "17-0", "error": "ColdUnavailable: cold file x is missing",
                                               "e": payload})
        store.client.hset(store.keys.stats(1), mapping={"dead": 1, "applied": 2, "accepted": 2})
        listed = runner.invoke(app, ["dead-letters", "list"])
        assert listed.exit_code == 0 and "cold file x is missing" in listed.output and "1 dead letters" in listed.output
        assert runner.invoke(app, ["dead-letters", "requeue", "99-0"]).exit_code == 2
        requeued = runner.invoke(app, ["dead-letters", "requeue", "--shard", "1"])
        assert requeued.exit_code == 0 and "1 dead letters put back" in requeued.output, requeued.output
        [(_, fields)] = store.client.xrange(store.keys.events(1))
        assert fields == {b"n": b"2", b"e": payload}
        assert store.client.xlen(store.keys.dead(1)) == 0
        assert store.client.hmget(store.keys.stats(1), "dead", "applied") == [b"0", b"0"]
        assert "0 dead letters put back" in runner.invoke(app, ["dead-letters", "requeue"]).output
    finally:
        store.delete_all()
        store.close()
