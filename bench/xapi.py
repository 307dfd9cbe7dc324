"""xAPI ingest over HTTP (issue 12's target: ≥ 20,000 statements/s in batches of 1,000).

    .venv/bin/python bench/xapi.py [--statements 100000] [--threads 4]

Video Profile statements (played, progressed, paused) for 2,000 sessions are posted in
batches of 1,000 to ``/xapi/statements`` of a ``learnguard serve`` process (no worker:
ingest alone), and the same events as contract events to ``/v1/events`` in the same run
(the peer: what mapping statements costs on top). Uses REDIS_URL if set, else an embedded
Redis in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import start_service  # noqa: E402
from learnguard.features.xapi import decode_statements, map_statement  # noqa: E402
from learnguard.server_thread import free_port  # noqa: E402
from learnguard.service.store import Store  # noqa: E402
from learnguard.settings import Settings  # noqa: E402

VIDEO = "https://w3id.org/xapi/video/"
EXT = VIDEO + "extensions/"
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def statements(count: int, sessions: int = 2000) -> list[dict[str, Any]]:
    out = []
    for n in range(count):
        session, step = n % sessions, n // sessions
        verb = VIDEO + "verbs/played" if step == 0 else "http://adlnet.gov/expapi/verbs/progressed"
        out.append({
            "id": str(uuid.uuid4()),
            "actor": {"account": {"homePage": "https://lms.example.edu.cn", "name": f"cadre-{session:05d}"}},
            "verb": {"id": verb},
            "object": {"id": f"https://lms.example.edu.cn/videos/v{session % 20}",
                       "definition": {"type": VIDEO + "activity-type/video"}},
            "result": {"extensions": {EXT + "time": 30.0 * step}},
            "context": {"contextActivities": {"parent": [{"id": "https://lms.example.edu.cn/courses/c1",
                                                          "definition": {"type":
                                                                         "http://adlnet.gov/expapi/activities/course"}}]},
                        "extensions": {EXT + "session-id": f"xs-{session:05d}", EXT + "length": 1800.0}},
            "timestamp": (T0 + timedelta(seconds=30 * step + session % 30)).isoformat()})
    return out


def post_all(url: str, key: str, path: str, bodies: list[bytes], threads: int, headers: dict[str, str]
             ) -> tuple[float, int]:
    """Seconds to post every body, and the events the answers say were accepted."""
    queue = list(bodies)
    lock = threading.Lock()
    accepted = [0]

    def send() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}", **headers}, timeout=60) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                answer = http.post(path, content=body).raise_for_status()
                taken = (int(answer.headers["X-LearnGuard-Events-Accepted"]) if path.startswith("/xapi")
                         else answer.json()["accepted"])
                with lock:
                    accepted[0] += taken

    started = time.perf_counter()
    workers = [threading.Thread(target=send) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - started, accepted[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--processes", type=int, default=1, help="API processes behind the port (serve --processes)")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="lg-bench-xapi-"))
    results = []
    for name in ("xapi", "events"):
        prefix = f"lgbench-{name}-{uuid.uuid4().hex[:6]}"
        settings = Settings(data_dir=data_dir, key_prefix=prefix, redis_url=os.environ.get("REDIS_URL"))
        store = Store.open(settings)
        key, _ = store.apikeys.create("platform", "zhejiang", "bench")
        env = {**os.environ, "LEARNGUARD_DATA_DIR": str(data_dir), "LEARNGUARD_KEY_PREFIX": prefix,
               "LEARNGUARD_RATE_LIMITS": "{}", "LEARNGUARD_REPORT_PROCESSES": "0",
               "LEARNGUARD_API_PROCESSES": str(args.processes)}
        made = statements(args.statements)
        if name == "xapi":
            bodies = [msgspec.json.encode(made[i:i + args.batch]) for i in range(0, len(made), args.batch)]
            path, headers = "/xapi/statements", {"X-Experience-API-Version": "1.0.3",
                                                  "Content-Type": "application/json"}
        else:  # the same events as the contract's own
            now = datetime.now(UTC)
            events = [e for s in decode_statements(msgspec.json.encode(made))
                      for e in map_statement(s, "zhejiang", now).events]
            bodies = [msgspec.json.encode(events[i:i + args.batch]) for i in range(0, len(events), args.batch)]
            path, headers = "/v1/events", {"Content-Type": "application/json"}
        port = free_port()
        service = start_service(env, port)
        try:
            seconds, applied = post_all(f"http://127.0.0.1:{port}", key, path, bodies, args.threads, headers)
        finally:
            service.terminate()
            service.wait(timeout=20)
            store.delete_all()
            store.close()
        results.append((name, args.statements / seconds, applied))
    table = Table("measure", "result", "target",
                  title=f"LearnGuard xAPI ingest ({args.statements:,} statements, batches of {args.batch:,}, "
                        f"{args.threads} client threads, {args.processes} API processes, {os.cpu_count()} cores)")
    xapi, events = results
    table.add_row("POST /xapi/statements", f"{xapi[1]:,.0f} statements/s ({xapi[2]:,} events accepted)",
                  "≥ 20,000 statements/s")
    table.add_row("the same as contract events, POST /v1/events (peer)",
                  f"{events[1]:,.0f} events/s ({events[2]:,} accepted)", "—")
    table.add_row("xAPI / contract events", f"{xapi[1] / events[1]:.2f}", "—")
    Console().print(table)


if __name__ == "__main__":
    main()
