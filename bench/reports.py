"""Supervisor reports at a province's scale, with a promoted model (issue 13's targets).

    .venv/bin/python bench/reports.py [--learners 10000] [--courses 10] [--sample 120]

1. a simulated cohort of ``--sample`` learners flows through the service (real HTTP,
   a real worker); a model is trained on it and promoted;
2. the report rows are rebuilt for the model (the job a promotion starts): rows/s;
3. the rows are cloned to ``--learners`` × ``--courses`` learner × course pairs over 40
   units (clones of the sample's rows, flags and rulings included: reports read rows, so
   this is what a report of that size reads);
4. each report is read 30 times by a province-wide and by a unit's supervisor key, over
   HTTP from a separate service process (its reports in ``--report-processes`` report
   processes of their own): p50/p95, target p95 ≤ 300 ms;
5. scoring at 500 requests/s with the model live, alone and while two supervisors read a
   province-wide report every second each: score p99, target ≤ 20 ms, and the API
   process's CPU time per score (the load comes from wrk when it is installed: see
   bench/load.py for why not from Python threads).

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
from pathlib import Path

import httpx
import msgspec
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import Load, from_latencies, has_wrk, paced_wrk  # noqa: E402
from bench.run import bench_paced, start_service  # noqa: E402
from learnguard.api.app import create_app  # noqa: E402
from learnguard.detector.policy import rules_from  # noqa: E402
from learnguard.models.training import train  # noqa: E402
from learnguard.replay import replay, score_all  # noqa: E402
from learnguard.server_thread import ServerThread, free_port  # noqa: E402
from learnguard.service.export import session_rows  # noqa: E402
from learnguard.service.reports import (  # noqa: E402
    LearnerCourseReport,
    decode_detail,
    learner_hash,
    refresh_rows,
)
from learnguard.service.rows import FLAG, MARK, ROW, StoredRow  # noqa: E402
from learnguard.service.store import Store  # noqa: E402
from learnguard.settings import Settings  # noqa: E402
from learnguard.simulator.cohort import simulate_cohort  # noqa: E402

UNITS = 40
REPORTS = ("/v1/reports/flagged", "/v1/reports/orgs", "/v1/reports/trend")


def populate(settings: Settings, store: Store, sample: int) -> list[str]:
    """The sample cohort through the service; returns its session ids."""
    cohort = simulate_cohort(learners=sample, seed=21)
    admin, _ = store.apikeys.create("admin", None, "bench admin")
    server = ServerThread(create_app(settings, store=store, workers=1)).start()
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as http:
            replay(http, cohort)
            score_all(http, list(cohort.truth.sessions))
    finally:
        server.stop()
    return list(cohort.truth.sessions)


def promote_model(settings: Settings, store: Store) -> str:
    model, training, metrics = train(pd.DataFrame(session_rows(store, rules_from(settings))), "ensemble")
    envelope = store.registry.register(model, training, metrics, by="bench")
    store.registry.promote(envelope.version, "bench")
    store.registry.refresh()
    return envelope.version


def rebuild(settings: Settings, store: Store) -> tuple[int, float]:
    """Every row rebuilt for the promoted model, as the refresher does it: (rows, seconds)."""
    rules = rules_from(settings)
    started = time.perf_counter()
    done = 0
    while (n := refresh_rows(store, rules)):
        done += n
    return done, time.perf_counter() - started


def clone_rows(store: Store, learners: int, courses: int) -> int:
    """The sample's rows cloned to ``learners`` × ``courses`` pairs spread over ``UNITS`` units
    (every stored form: records, flags, session marks and detail)."""
    keys, book = store.keys, store.rows
    sample: list[tuple[LearnerCourseReport | None, dict[str, bytes]]] = []
    for course_id in store.sessions.course_ids():
        stored: dict[str, dict[str, bytes]] = {
            kind: {k.decode(): v for k, v in store.client.hgetall(key(course_id)).items()}  # type: ignore[union-attr]
            for kind, key in (("row", keys.rows), ("flag", keys.rows_flags), ("mark", keys.rows_marks),
                              ("detail", keys.rows_detail))}
        for learner, row in stored["row"].items():
            detail = stored["detail"].get(learner)
            sample.append((decode_detail(detail) if detail else None,
                           {"learner": learner.encode(), "row": row, "flag": stored["flag"].get(learner, b""),
                            "mark": stored["mark"].get(learner, b"")}))
    names = {number: org for org, number in book.org_table().items()}
    copies = max(1, learners // len(sample))
    written = 0
    for c in range(courses):
        course_id = f"bench-course-{c:02d}"
        store.client.sadd(keys.all_courses(), course_id)
        batch: dict[str, StoredRow] = {}
        for copy in range(copies):
            for detail, forms in sample:
                learner = f"{forms['learner'].decode()}-{copy:04d}"
                record = np.frombuffer(forms["row"], dtype=ROW).copy()
                parts = names[int(record["org"][0])].split("/")
                org = "/".join([parts[0], f"unit{copy % UNITS:02d}", *parts[1:]])
                number = book.org_numbers({org})[org]
                record["org"], record["learner"] = number, learner_hash(learner)
                flags = np.frombuffer(forms["flag"], dtype=FLAG).copy()
                marks = np.frombuffer(forms["mark"], dtype=MARK).copy()
                flags["org"], marks["org"] = number, number
                blob = msgspec.msgpack.encode(msgspec.structs.replace(detail, learner_id=learner, org_id=org,
                                                                      course_id=course_id)) if detail else b""
                batch[learner] = StoredRow(record.tobytes(), flags.tobytes(), marks.tobytes(), blob)
                if len(batch) >= 2000:
                    book.write(course_id, batch, [])
                    written += len(batch)
                    batch = {}
        if batch:
            book.write(course_id, batch, [])
            written += len(batch)
    return written


def read_latencies(url: str, key: str, path: str, times: int = 30) -> list[float]:
    out = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
        for _ in range(times):
            started = time.perf_counter()
            http.get(path).raise_for_status()
            out.append(time.perf_counter() - started)
    return sorted(out)


def p(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] * 1000


def measure_reports(url: str, keys: dict[str, str], total: int) -> list[tuple[str, str, str]]:
    out = []
    for who, key in keys.items():
        for path in REPORTS:
            read_latencies(url, key, path, times=1)  # the first read loads the model
            latencies = read_latencies(url, key, path)
            out.append((f"{path} ({who} key, {total:,} rows)",
                        f"p50 {p(latencies, 0.5):.0f} ms, p95 {p(latencies, 0.95):.0f} ms", "p95 ≤ 300 ms"))
    return out


def measure_scoring(url: str, platform: str, province: str, sessions: list[str], args: argparse.Namespace,
                    pid: int) -> list[tuple[str, str, str]]:
    """Score latency: the first read of each session, then paced alone, then beside report reads."""
    out = []

    def score(http: httpx.Client, n: int) -> None:
        http.post(f"/v1/sessions/{sessions[n % len(sessions)]}/score").raise_for_status()

    started = time.perf_counter()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {platform}"}, timeout=60) as http:
        for n in range(len(sessions)):
            score(http, n)
    out.append((f"first read of each of {len(sessions)} sessions scored before the promotion (asks the model "
                "once, then cached)", f"{(time.perf_counter() - started) / len(sessions) * 1000:.1f} ms per session",
                "once per promotion"))
    spy = subprocess.Popen(["py-spy", "record", "-o", args.profile, "-f", "raw", "--pid", str(pid),
                            "--duration", str(int(args.score_seconds))]) if args.profile else None
    alone = paced_scores(url, platform, sessions, args, pid)
    if spy is not None:
        spy.wait()
    out.append((f"score at {alone.rate:,.0f} req/s, {args.what}, no report read", alone.describe(), "p99 ≤ 20 ms"))
    stop = threading.Event()
    reads: list[float] = []

    def read_reports(offset: int) -> None:
        """A supervisors' office: a report every ``1 / reader-rate`` s per reader."""
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {province}"}, timeout=120) as http:
            n = offset
            while not stop.wait(1 / args.reader_rate):
                began = time.perf_counter()
                http.get(REPORTS[n % len(REPORTS)])
                reads.append(time.perf_counter() - began)
                n += 1

    readers = [threading.Thread(target=read_reports, args=(i,)) for i in range(args.readers)]
    for reader in readers:
        reader.start()
    try:
        busy = paced_scores(url, platform, sessions, args, pid)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    out.append((f"score at {busy.rate:,.0f} req/s, {args.what}, while {args.readers} "
                f"supervisors read {args.readers * args.reader_rate:g} province reports/s",
                f"{busy.describe()}; reports meanwhile p95 {p(sorted(reads), 0.95):.0f} ms", "p99 ≤ 20 ms"))
    return out


def paced_scores(url: str, platform: str, sessions: list[str], args: argparse.Namespace, pid: int) -> Load:
    """Scores at ``--score-rate`` for ``--score-seconds``: from wrk when installed (bench/load.py)."""
    if has_wrk():
        return paced_wrk(url, platform, "score", sessions, args.score_rate, args.score_seconds, pid=pid)

    def score(http: httpx.Client, n: int) -> None:
        http.post(f"/v1/sessions/{sessions[n % len(sessions)]}/score").raise_for_status()

    return from_latencies(bench_paced(url, platform, score, args.score_rate, args.score_seconds), args.score_seconds)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--courses", type=int, default=10)
    parser.add_argument("--sample", type=int, default=120)
    parser.add_argument("--score-rate", type=float, default=500)
    parser.add_argument("--score-seconds", type=float, default=10)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--reader-rate", type=float, default=1.0, help="reports per second per reader")
    parser.add_argument("--report-processes", type=int, default=1,
                        help="processes answering reports (0: in the API process, as before issue 13's fix)")
    parser.add_argument("--no-model", dest="model", action="store_false", help="measure without a promoted model")
    parser.add_argument("--profile", help="py-spy the service while scoring alone, into this file")
    args = parser.parse_args()
    args.what = "model live" if args.model else "no model"
    return args


def main() -> None:
    args = arguments()
    data_dir = Path(tempfile.mkdtemp(prefix="lg-bench-reports-"))
    prefix = f"lgbench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "LEARNGUARD_DATA_DIR": str(data_dir), "LEARNGUARD_KEY_PREFIX": prefix,
           "LEARNGUARD_RATE_LIMITS": "{}", "LEARNGUARD_REPORT_PROCESSES": str(args.report_processes)}
    settings = Settings(data_dir=data_dir, key_prefix=prefix, redis_url=os.environ.get("REDIS_URL"))
    store = Store.open(settings)
    results: list[tuple[str, str, str]] = []
    service = None
    try:
        sessions = populate(settings, store, args.sample)
        version = promote_model(settings, store) if args.model else "no model"
        rows, seconds = rebuild(settings, store)
        results.append((f"row rebuild, {version} ({rows} learner × course rows)",
                        f"{rows / seconds:,.0f} rows/s ({seconds:.1f} s)", "a job, not a read"))
        total = clone_rows(store, args.learners, args.courses)
        province, _ = store.apikeys.create("supervisor", "zhejiang", "province office")
        unit, _ = store.apikeys.create("supervisor", "zhejiang/unit07", "unit office")
        platform, _ = store.apikeys.create("platform", "zhejiang", "bench platform")
        port = free_port()
        service = start_service(env, port)
        url = f"http://127.0.0.1:{port}"
        results += measure_reports(url, {"province": province, "unit": unit}, total)
        results += measure_scoring(url, platform, province, sessions, args, service.pid)
    finally:
        if service is not None:
            service.terminate()
            service.wait(timeout=20)
        store.delete_all()
        store.close()
    table = Table("measure", "result", "target", title=f"LearnGuard reports bench ({args.learners:,} learners × "
                  f"{args.courses} courses, {os.cpu_count()} cores)")
    for row in results:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
