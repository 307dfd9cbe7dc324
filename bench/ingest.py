"""Ingest over HTTP with 1..N API processes behind one port, the load sent by ``wrk``.

    .venv/bin/python bench/ingest.py [--processes 1,2] [--seconds 15]

Each count of processes gets ``learnguard serve --workers 0 --processes N`` on a fresh key
prefix (the same embedded Redis, or ``REDIS_URL``), and ``wrk`` (4 threads, 16
connections) posts batches of 1,000 events — 50 sessions of 20, every event id new (a
per-request prefix), so each one is appended to its stream, not answered as a duplicate.
The figure is what the service counted as accepted (its shards' ``accepted`` counters),
per second of the run.

Why wrk and not the Python client of ``bench/run.py``: on this 2-core machine four Python
client threads took the CPU a second API process would use (measured 2026-11-29: one
process 54,139 events/s, two 53,669); ``wrk`` spends a few percent of a core.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import session_events, start_service  # noqa: E402
from workers import print_rates  # noqa: E402

from learnguard.server_thread import free_port  # noqa: E402
from learnguard.service.store import Store  # noqa: E402
from learnguard.settings import Settings  # noqa: E402

_LUA = """
local n = 0
local template = nil
local made = 0
function setup(thread)  -- each thread its own prefix: otherwise they send the same ids
  made = made + 1
  thread:set("tid", made)
end
function init(args)
  local f = io.open(args[1], "rb")
  template = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[2]
end
function request()
  n = n + 1
  return wrk.format(nil, "/v1/events", nil, (template:gsub("PFX", "t" .. tid .. "r" .. n)))
end
"""


def batch_template() -> str:
    """1,000 events of 50 sessions, every id starting with ``PFX`` (replaced per request)."""
    events = [e for i in range(50) for e in session_events(f"PFX-s{i}", f"PFX-l{i}", 20)]
    for event in events:
        event["event_id"] = "PFX-e" + event["event_id"].removeprefix("PFX-")
    return json.dumps(sorted(events, key=lambda e: e["ts"]))


def ingest_rate(processes: int, seconds: float, data_dir: Path, files: Path) -> float:
    """Events/s the service accepted from wrk with ``processes`` API processes."""
    prefix = f"lgingest-{uuid.uuid4().hex[:8]}"
    settings = Settings(data_dir=data_dir, key_prefix=prefix, redis_url=os.environ.get("REDIS_URL"))
    store = Store.open(settings)
    key, _ = store.apikeys.create("platform", "zhejiang", "ingest bench")
    port = free_port()
    env = {**os.environ, "LEARNGUARD_DATA_DIR": str(data_dir), "LEARNGUARD_KEY_PREFIX": prefix}
    service = start_service(env, port, "--processes", str(processes),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started = time.monotonic()
        out = subprocess.run(["wrk", "-t4", "-c16", f"-d{seconds:g}s", "-s", str(files / "ingest.lua"),
                              f"http://127.0.0.1:{port}", "--", str(files / "body.json"), key],
                             capture_output=True, text=True, check=True).stdout
        elapsed = time.monotonic() - started
        sent = re.search(r"(\d+) requests in", out)
        if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
            print(f"  {processes} process(es): {match.group(1)} answers were not 2xx", file=sys.stderr)
        accepted = sum(s.accepted for s in store.streams.shard_stats())
        if sent and accepted < 0.99 * int(sent.group(1)) * 1000:
            print(f"  {processes} process(es): {accepted:,} of {int(sent.group(1)) * 1000:,} events sent were "
                  f"accepted", file=sys.stderr)
        return accepted / elapsed
    finally:
        service.terminate()
        service.wait(timeout=30)
        store.delete_all()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/ingest.py needs wrk (apt-get install wrk)")
    files = Path(tempfile.mkdtemp(prefix="lg-ingest-"))
    (files / "ingest.lua").write_text(_LUA)
    (files / "body.json").write_text(batch_template())
    data_dir = Path(tempfile.mkdtemp(prefix="lg-ingest-data-"))
    keep = Store.open(Settings(data_dir=data_dir, redis_url=os.environ.get("REDIS_URL")))  # one embedded Redis
    try:
        rates = {n: ingest_rate(n, args.seconds, data_dir, files) for n in (int(x) for x in args.processes.split(","))}
    finally:
        keep.close()
    print_rates(rates, "API process(es)", "events/s accepted", "target ≥ 150,000 with several")


if __name__ == "__main__":
    main()
