"""Worker scale-out: the same backlog drained by 1 and by N ``learnguard worker`` processes.

    .venv/bin/python bench/workers.py [--events 100000] [--processes 1,2]

Events (sessions of 500 events, as in ``bench/run.py``) are put on the shard streams first;
then the worker processes start, and the clock runs from the first applied event to an
empty backlog (process start-up is left out). Each count of processes gets a fresh key
prefix on the same Redis. On a machine with fewer cores than processes + Redis, the ratio
says how much the cores, not the design, allow.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import session_events  # noqa: E402

from learnguard.features.events import Event  # noqa: E402
from learnguard.service.store import Store  # noqa: E402
from learnguard.settings import Settings  # noqa: E402


def drain_rate(processes: int, events: int, data_dir: Path, redis_url: str | None) -> float:
    """Events/s of ``processes`` worker processes draining a backlog of ``events``."""
    prefix = f"lgwork-{uuid.uuid4().hex[:8]}"
    settings = Settings(data_dir=data_dir, key_prefix=prefix, redis_url=redis_url)
    store = Store.open(settings)
    procs: list[subprocess.Popen] = []
    try:
        sessions = events // 500
        backlog = sorted((e for i in range(sessions) for e in session_events(f"w{i}", f"wl{i}", 500)),
                         key=lambda e: e["ts"])
        decode = msgspec.json.Decoder(list[Event]).decode
        for start in range(0, len(backlog), 1000):
            store.streams.ingest(decode(msgspec.json.encode(backlog[start:start + 1000])))
        env = {**os.environ, "LEARNGUARD_KEY_PREFIX": prefix, "LEARNGUARD_DATA_DIR": str(data_dir),
               "LEARNGUARD_JSON_LOGS": "false"}
        procs = [subprocess.Popen([sys.executable, "-m", "learnguard.cli", "worker", "--no-verbose"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(processes)]
        started = None
        while True:
            stats = store.streams.shard_stats()
            applied = sum(s.applied for s in stats)
            if started is None and applied > 0:
                started, first = time.perf_counter(), applied
            if started is not None and sum(s.lag for s in stats) == 0:
                return (len(backlog) - first) / (time.perf_counter() - started)
            time.sleep(0.02)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        store.delete_all()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--processes", default="1,2")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="lg-workers-"))
    keep = Store.open(Settings(data_dir=data_dir, redis_url=os.environ.get("REDIS_URL")))  # one embedded Redis
    try:
        rates = {n: drain_rate(n, args.events, data_dir, os.environ.get("REDIS_URL"))
                 for n in (int(x) for x in args.processes.split(","))}
    finally:
        keep.close()
    print_rates(rates, "worker process(es)", "events/s")


def print_rates(rates: dict[int, float], what: str, unit: str, target: str = "") -> None:
    """One line per count of processes, with its ratio to one process (and the target)."""
    one = rates.get(1)
    for n, rate in rates.items():
        ratio = f" ({rate / one:.2f}× one)" if one and n != 1 else ""
        print(f"{n} {what}: {rate:,.0f} {unit}{ratio}" + (f"   [{target}]" if target else ""))


if __name__ == "__main__":
    main()
