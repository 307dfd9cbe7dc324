"""Redis memory per session, live and compacted, by key family, and a year projected from it.

    .venv/bin/python bench/memory.py [--learners 60] [--seed 7]

A simulated cohort (v1.1: media deliveries and challenges, ~390 events a session) goes
through the real ingest script (after binding its ids to their orgs, as HTTP ingest does)
and a real worker; the streams are then trimmed (as the
archiver does after the retention window) and every key of the deployment is measured with
``MEMORY USAGE``, grouped by family. Then every session is compacted (as the worker does
once its retry window has passed) and measured again. The projection: a year of
``--year-sessions`` sessions, ``--live`` of them live at once, the rest compacted, keys
that grow per session scaled from the sample (per-course keys — cohort baselines — do not
grow with sessions and are left out of the scaling, stated in the table).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from learnguard.features.events import Event  # noqa: E402
from learnguard.service.store import Store  # noqa: E402
from learnguard.service.worker import Worker  # noqa: E402
from learnguard.settings import Settings  # noqa: E402
from learnguard.simulator.cohort import simulate_cohort  # noqa: E402

PER_COURSE = {"cohort", "rasch", "course", "roster", "rows", "courses", "meta", "events", "stats", "lease",
              "applied", "workers", "dead", "touched", "mev"}  # do not grow per session (or are emptied)


@dataclass
class MemoryReport:
    sessions: int
    events: int
    live: Counter
    compacted: Counter
    compact_s: float = 0.0  # the worker's time to compact them all (cold files, archive, pointers)

    def per_session(self, families: Counter) -> float:
        return sum(b for name, b in families.items() if name not in PER_COURSE) / self.sessions

    def year_bytes(self, year_sessions: int, live_sessions: int) -> float:
        return (live_sessions * self.per_session(self.live)
                + (year_sessions - live_sessions) * self.per_session(self.compacted))


def families(store: Store) -> Counter:
    """Bytes by key family (the key's name after the prefix and shard tag)."""
    found: Counter = Counter()
    prefix = re.escape(store.keys.prefix)
    for key in store.client.scan_iter(match=store.keys.pattern(), count=1000):
        name = re.sub(rf"^{prefix}:(\{{\d+\}}:)?", "", key.decode()).split(":")[0]
        found[name] += store.client.memory_usage(key, samples=0) or 0
    return found


def measure(learners: int, seed: int, redis_url: str | None = None) -> MemoryReport:
    data_dir = Path(tempfile.mkdtemp(prefix="lg-mem-"))
    # the product's own prefix on a fresh embedded server (key names count); a unique one on a shared one
    prefix = "lg" if redis_url is None else f"lgmem-{uuid.uuid4().hex[:8]}"
    settings = Settings(data_dir=data_dir, key_prefix=prefix, redis_url=redis_url, compact_after_s=3600)
    store = Store.open(settings)
    try:
        cohort = simulate_cohort(learners=learners, seed=seed, observed=True)
        events = sorted(cohort.events, key=lambda e: e["ts"])
        decode = msgspec.json.Decoder(list[Event]).decode
        for start in range(0, len(events), 1000):
            batch = decode(msgspec.json.encode(events[start:start + 1000]))
            # what HTTP ingest does first: bind each new session, learner and course id to its org
            store.owners.bind((kind, identifier, e.org_id) for e in batch for kind, identifier in
                              (("session", e.session_id), ("learner", e.learner_id), ("course", e.course_id)))
            store.streams.ingest(batch)
        worker = Worker(store, settings)
        while sum(s.lag for s in store.streams.shard_stats()) > 0:
            worker.step()
        for shard in range(store.shards):  # what the archiver leaves once the retention window passed
            store.client.xtrim(store.keys.events(shard), maxlen=0)
        live = families(store)
        worker.balance()
        started = time.perf_counter()
        for shard in range(store.shards):
            worker.compact(shard, now=time.time() + 2 * settings.compact_after_s)
        compact_s = time.perf_counter() - started
        compacted = families(store)
        worker.shutdown()
        return MemoryReport(len(cohort.truth.sessions), len(events), live, compacted, compact_s)
    finally:
        store.delete_all()
        store.close()


def rows(report: MemoryReport, year_sessions: int, live_sessions: int) -> list[tuple[str, str, str]]:
    """Table rows: per family, then per session and the projected year."""
    out = []
    for name in sorted(set(report.live) | set(report.compacted), key=lambda n: -report.live[n]):
        if name in PER_COURSE:
            continue
        out.append((f"  {name}", f"{report.live[name] / report.sessions:,.0f} B live → "
                    f"{report.compacted[name] / report.sessions:,.0f} B compacted", "per session"))
    year = report.year_bytes(year_sessions, live_sessions)
    out.insert(0, ("Redis per session, live (all keys)", f"{report.per_session(report.live) / 1024:.2f} KB "
                   f"({report.events / report.sessions:.0f} events)", "≤ 4 KB"))
    out.insert(1, ("Redis per session, compacted (all keys)",
                   f"{report.per_session(report.compacted) / 1024:.2f} KB", "≤ 1 KB"))
    out.append(("compaction, one worker", f"{report.compact_s / report.sessions * 1000:.2f} ms a session", "—"))
    out.append((f"a year of {year_sessions:,} sessions ({live_sessions:,} live)", f"{year / 2**30:.2f} GB",
                "≤ 2 GB"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--year-sessions", type=int, default=1_000_000)
    parser.add_argument("--live", type=int, default=20_000)
    args = parser.parse_args()
    import os

    from rich.console import Console
    from rich.table import Table

    report = measure(args.learners, args.seed, os.environ.get("REDIS_URL"))
    table = Table("measure", "result", "target", title=f"Redis memory ({report.sessions} sessions, "
                  f"{report.events:,} events; per-course keys left out)")
    for row in rows(report, args.year_sessions, args.live):
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
