"""Open edX import speed (issue 12's target: ≥ 50,000 log lines/s).

    .venv/bin/python bench/edx.py [--lines 200000]

Writes a gzipped tracking log of video events (2,000 learners, browser events with the
payload as a JSON string, as Open edX writes them) and times ``learnguard import edx`` over
it: mapping to NDJSON (``--out``: the importer's own work), and sending to a ``learnguard
serve`` process through the client (bounded by ingest; the peer is the same events posted
as contract events in the same run by ``bench/xapi.py``'s measure).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import start_service  # noqa: E402
from learnguard.server_thread import free_port  # noqa: E402
from learnguard.service.store import Store  # noqa: E402
from learnguard.settings import Settings  # noqa: E402

T0 = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
KINDS = ("play_video", "pause_video", "seek_video", "play_video", "pause_video")


def write_log(path: Path, lines: int) -> None:
    with gzip.open(path, "wt") as sink:
        for n in range(lines):
            learner, step = n % 2000, n // 2000
            kind = KINDS[step % len(KINDS)]
            payload = {"id": f"video-{learner % 30}", "code": "html5", "duration": 1800.0,
                       "currentTime": 20.0 * step}
            if kind == "seek_video":
                payload.update(old_time=20.0 * step, new_time=20.0 * step - 10, type="onSlideSeek")
            sink.write(json.dumps({
                "username": f"u{learner}", "event_source": "browser", "event_type": kind, "name": kind,
                "time": (T0 + timedelta(seconds=20 * step + learner % 20)).isoformat(), "ip": "10.0.0.1",
                "agent": "Mozilla/5.0", "host": "lms.example.edu.cn", "session": f"{learner:032x}",
                "page": "https://lms.example.edu.cn/courseware", "event": json.dumps(payload),
                "context": {"course_id": "course-v1:HDU+PARTY101+2026", "user_id": learner, "org_id": "HDU",
                            "path": "/event"}}) + "\n")


def run_import(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "learnguard.cli", "import", "edx", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lg-bench-edx-"))
    log = work / "tracking.log.gz"
    write_log(log, args.lines)
    prefix = f"lgbench-edx-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "LEARNGUARD_DATA_DIR": str(work / "data"), "LEARNGUARD_KEY_PREFIX": prefix,
           "LEARNGUARD_RATE_LIMITS": "{}", "LEARNGUARD_REPORT_PROCESSES": "0"}
    mapped = run_import([str(log), "--org", "zhejiang/hdu", "--out", str(work / "events.ndjson")], env)
    store = Store.open(Settings(data_dir=work / "data", key_prefix=prefix, redis_url=os.environ.get("REDIS_URL")))
    key, _ = store.apikeys.create("platform", "zhejiang", "bench")
    port = free_port()
    service = start_service(env, port)
    try:
        sent = run_import([str(log), "--org", "zhejiang/hdu", "--url", f"http://127.0.0.1:{port}", "--key", key],
                          env)
    finally:
        service.terminate()
        service.wait(timeout=20)
        store.delete_all()
        store.close()
    table = Table("measure", "result", "target", title=f"LearnGuard Open edX import ({args.lines:,} lines, "
                  f"{os.cpu_count()} cores; whole command, start-up included)")
    table.add_row("import edx --out (read .gz, map, write NDJSON)", f"{args.lines / mapped:,.0f} lines/s",
                  "≥ 50,000 lines/s")
    table.add_row("import edx to a serve process (client, batches of 2,000)", f"{args.lines / sent:,.0f} lines/s",
                  "bounded by ingest")
    Console().print(table)


if __name__ == "__main__":
    main()
