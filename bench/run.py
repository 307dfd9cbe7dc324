"""Benchmarks on this machine; prints a table (they report, they are not timed tests).

    .venv/bin/python bench/run.py [--events 200000]
    .venv/bin/python bench/run.py --check     # a short run of every measure; exits 1 when a target is missed

The last line says ``bench: all targets held`` or ``bench: short: …`` with each miss.

1. ingest throughput over real HTTP: batches of 1,000 events, 4 client threads, the
   service in its own process (``learnguard serve --workers 0``);
2. worker throughput of one process draining what step 1 put on the streams, and two
   ``learnguard worker`` processes against one draining a backlog (``bench/workers.py``);
3. score and challenge latency p50/p99 at a steady 500 requests/s each, and the API process's
   CPU time per request (the load comes from wrk when installed: bench/load.py says why);
4. Redis memory per 500-event session (session blob + dedup set, after the stream is trimmed);
5. Redis memory per session of a simulated v1.1 cohort, every key family, live and compacted,
   and a year of 1,000,000 sessions projected from it (``bench/memory.py``).

Uses the server at REDIS_URL if set, else an embedded Redis in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import from_latencies, has_wrk, paced_wrk  # noqa: E402
from learnguard.server_thread import free_port  # noqa: E402
from learnguard.service.store import Store  # noqa: E402
from learnguard.service.worker import Worker  # noqa: E402
from learnguard.settings import Settings  # noqa: E402
from tests.factories import T0  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import memory  # noqa: E402

Row = tuple[str, str, str, bool]  # measure, result, target, held

T0_MS = T0


def session_events(session: str, learner: str, count: int) -> list[dict]:
    """A realistic 500-event session mix: play, heartbeats, clicks, a pause now and then."""
    events = [{"event_id": f"{session}-0", "ts": T0, "type": "video_play", "learner_id": learner,
               "org_id": "zhejiang/hdu", "course_id": "bench", "session_id": session,
               "video_id": "v1", "position": 0, "rate": 1.0}]
    for i in range(1, count):
        kind = "click" if i % 5 == 0 else "video_heartbeat"
        event = {"event_id": f"{session}-{i}", "ts": T0 + i * 6000, "type": kind, "learner_id": learner,
                 "org_id": "zhejiang/hdu", "course_id": "bench", "session_id": session}
        if kind == "video_heartbeat":
            event.update(video_id="v1", position=i * 6.0, rate=1.0)
        else:
            event.update(trusted=True)
        events.append(event)
    return events


def start_service(env: dict[str, str], port: int, *extra: str, **popen: Any) -> subprocess.Popen:
    """``learnguard serve --workers 0`` (plus ``extra`` arguments), once it answers /health."""
    proc = subprocess.Popen([sys.executable, "-m", "learnguard.cli", "serve", "--port", str(port),
                             "--workers", "0", "--no-verbose", *extra], env=env, **popen)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("service did not start")


def bench_ingest(url: str, key: str, bodies: list[bytes], threads: int = 4) -> float:
    queue = list(bodies)
    lock = threading.Lock()

    def send() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}",
                                                 "Content-Type": "application/json"}, timeout=60) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                http.post("/v1/events", content=body).raise_for_status()

    started = time.perf_counter()
    workers = [threading.Thread(target=send) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - started


def ingest_without_rate_limits(env: dict[str, str], store: Store, bodies: list[bytes], count: int) -> float:
    """The same ingest into another prefix by a service with no rate limits (events/s)."""
    prefix = f"lgbench-free-{uuid.uuid4().hex[:8]}"
    other = Store.open(Settings(data_dir=Path(env["LEARNGUARD_DATA_DIR"]), key_prefix=prefix,
                                redis_url=os.environ.get("REDIS_URL")), store.client)
    key, _ = other.apikeys.create("platform", "zhejiang", "bench")
    port = free_port()
    service = start_service({**env, "LEARNGUARD_KEY_PREFIX": prefix, "LEARNGUARD_RATE_LIMITS": "{}"}, port)
    try:
        return count / bench_ingest(f"http://127.0.0.1:{port}", key, bodies)
    finally:
        service.terminate()
        service.wait(timeout=20)
        other.delete_all()


def bench_paced(url: str, key: str, call: Callable[[httpx.Client, int], None], rate: float, seconds: float
                ) -> list[float]:
    """Latencies of ``call(client, n)`` made at a steady ``rate`` per second from 8 threads."""
    latencies: list[float] = []
    lock = threading.Lock()
    threads = 8
    per_thread = rate / threads
    stop_at = time.perf_counter() + seconds

    def paced(offset: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
            next_at = time.perf_counter() + offset / rate
            n = offset
            while next_at < stop_at:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                started = time.perf_counter()
                call(http, n)
                with lock:
                    latencies.append(time.perf_counter() - started)
                n += threads
                next_at += 1 / per_thread

    workers = [threading.Thread(target=paced, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--score-rate", type=float, default=500)
    parser.add_argument("--score-seconds", type=float, default=10)
    parser.add_argument("--learners", type=int, default=60, help="cohort size of the memory measure")
    parser.add_argument("--check", action="store_true", help="a short run; exit 1 when a target is missed")
    args = parser.parse_args()
    if args.check:
        args.events, args.score_seconds, args.learners = 40_000, 3.0, 16
    rows = measure_all(args)
    table = Table("measure", "result", "target", "held", title=f"LearnGuard bench ({args.events:,} events, "
                  f"{os.cpu_count()} cores, store: {'server' if os.environ.get('REDIS_URL') else 'embedded'})")
    for measure, result, target, held in rows:
        table.add_row(measure, result, target, "yes" if held else "NO")
    Console().print(table)
    missed = [f"{measure} ({result}; target {target})" for measure, result, target, held in rows if not held]
    print("bench: all targets held" if not missed else "bench: short: " + "; ".join(missed))
    if args.check and missed:
        raise SystemExit(1)


def measure_all(args: argparse.Namespace) -> list[Row]:
    """Every measure of the module docstring, as table rows."""
    data_dir = Path(tempfile.mkdtemp(prefix="lg-bench-"))
    prefix = f"lgbench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "LEARNGUARD_DATA_DIR": str(data_dir), "LEARNGUARD_KEY_PREFIX": prefix}
    settings = Settings(data_dir=data_dir, key_prefix=prefix, redis_url=os.environ.get("REDIS_URL"))
    store = Store.open(settings)
    key, _ = store.apikeys.create("platform", "zhejiang", "bench")
    sessions = [f"bs{i}" for i in range(args.events // 500)]
    events = [e for i, s in enumerate(sessions) for e in session_events(s, f"bl{i}", 500)]
    events.sort(key=lambda e: e["ts"])
    bodies = [msgspec.json.encode(events[i:i + 1000]) for i in range(0, len(events), 1000)]
    port = free_port()
    service = start_service(env, port)
    url = f"http://127.0.0.1:{port}"
    rows: list[Row] = []
    try:
        elapsed = bench_ingest(url, key, bodies)
        limited = len(events) / elapsed
        rows.append(("ingest over HTTP (batches of 1,000), one API process", f"{limited:,.0f} events/s", "≥ 50,000",
                     limited >= 50_000))
        unlimited = ingest_without_rate_limits(env, store, bodies, len(events))
        rows.append(("cost of the per-key rate limit on ingest", f"{1 - limited / unlimited:+.1%} "
                     f"({unlimited:,.0f} events/s without it)", "≤ 5 %", 1 - limited / unlimited <= 0.05))
        worker = Worker(store, settings)
        started = time.perf_counter()
        while sum(s.lag for s in store.streams.shard_stats()) > 0:
            worker.step()
        elapsed = time.perf_counter() - started
        rate = len(events) / elapsed
        rows.append(("worker, one process", f"{rate:,.0f} events/s", "≥ 40,000", rate >= 40_000))
        worker.shutdown()
        import workers  # imports this module's session_events: imported here, not at the top
        backlog = 300_000 if args.check else 600_000
        one, two = (workers.drain_rate(n, backlog, data_dir, settings.redis_url) for n in (1, 2))
        rows.append((f"worker scale-out: 2 `learnguard worker` processes against 1, draining {backlog:,} events",
                     f"{two / one:.2f}× ({one:,.0f} → {two:,.0f} events/s; {os.cpu_count()} cores shared with "
                     f"Redis)", "≥ 1.8×", two / one >= 1.8))
        def score(http: httpx.Client, n: int) -> None:
            http.post(f"/v1/sessions/{sessions[n % len(sessions)]}/score").raise_for_status()

        issued = [0]

        def challenge(http: httpx.Client, n: int) -> None:
            """A platform calling every few minutes of playback: ``at`` walks through each session."""
            session = sessions[n % len(sessions)]
            at = T0_MS + 600_000 + (n // len(sessions)) * 180_000
            reply = http.post(f"/v1/sessions/{session}/challenge", json={"at": at, "video_id": "v1",
                                                                          "position": (at - T0_MS) / 1000})
            reply.raise_for_status()
            issued[0] += reply.status_code == 200

        for name, call, target in (("score", score, "p99 ≤ 20 ms at 500/s"),
                                   ("challenge", challenge, "p99 ≤ 20 ms at 500/s")):
            if has_wrk():
                load = paced_wrk(url, key, name, sessions, args.score_rate, args.score_seconds, pid=service.pid,
                                 t0_ms=T0_MS)
                issued[0] = load.answered_200
            else:
                load = from_latencies(bench_paced(url, key, call, args.score_rate, args.score_seconds),
                                      args.score_seconds)
            note = f" ({issued[0]} issued)" if name == "challenge" else ""
            rows.append((f"{name} latency at {load.rate:,.0f} req/s", f"{load.describe()}{note}", target,
                         load.p99 <= 20 and not load.bad))
        for shard in range(settings.shards):
            store.client.xtrim(store.keys.events(shard), maxlen=0)
        sample = sessions[:200]
        blob = ids = 0
        for _i, sid in enumerate(sample):
            shard = next(iter(store.streams.accepted_counts(sid)))
            blob += store.client.memory_usage(store.keys.session(shard, sid)) or 0
            ids += store.client.memory_usage(store.keys.event_ids(shard, sid)) or 0
        per_session = (blob + ids) / len(sample) / 1024
        rows.append(("Redis memory per live 500-event session (record + dedup set)",
                     f"{per_session:.2f} KB (state {blob / len(sample) / 1024:.2f} KB"
                     f" + dedup ids {ids / len(sample) / 1024:.2f} KB)", "≤ 4 KB", per_session <= 4))
    finally:
        service.terminate()
        service.wait(timeout=20)
        store.delete_all()
        store.close()
    report = memory.measure(args.learners, seed=7, redis_url=settings.redis_url)
    live, compacted = report.per_session(report.live), report.per_session(report.compacted)
    year = report.year_bytes(1_000_000, 20_000)
    rows.append((f"Redis per session of a v1.1 cohort, live (all keys, {report.events / report.sessions:.0f} events)",
                 f"{live / 1024:.2f} KB", "≤ 4 KB", live <= 4096))
    rows.append(("Redis per session, compacted after its retry window (all keys)",
                 f"{compacted / 1024:.2f} KB", "≤ 1 KB", compacted <= 1024))
    rows.append(("Redis for a year of 1,000,000 sessions (20,000 live)", f"{year / 2**30:.2f} GB", "≤ 2 GB",
                 year <= 2 * 2**30))
    return rows


if __name__ == "__main__":
    main()
