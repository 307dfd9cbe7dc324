"""The ``learnguard`` command: serve, worker, keys, simulate, demo."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from learnguard.settings import Settings, get_settings

if TYPE_CHECKING:
    from learnguard.client import Totals
    from learnguard.features.edx import EdxSummary
    from learnguard.service.store import Store

app = typer.Typer(help="LearnGuard: is the study time real?", no_args_is_help=True)
keys_app = typer.Typer(help="Access keys (the secret is printed once; only its hash is kept).")


@app.callback()
def _every_command() -> None:
    """SIGTERM ends any command like Ctrl-C does, so its ``finally`` blocks run and an embedded
    Redis it started is stopped (``serve`` and ``worker`` install handlers of their own)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
app.add_typer(keys_app, name="keys")
console = Console()


def _logging(verbose: bool) -> None:
    from learnguard.logs import configure

    configure(verbose, json_lines=get_settings().json_logs)


@app.command()
def serve(host: Annotated[str, typer.Option(help="address to bind")] = "",
          port: Annotated[int, typer.Option(help="port")] = 0,
          workers: Annotated[int, typer.Option(help="stream workers in each API process")] = -1,
          processes: Annotated[int, typer.Option(help="API processes behind the one port (default "
                                                      "LEARNGUARD_API_PROCESSES, 1)")] = 0,
          verbose: bool = True) -> None:
    """Run the API and stream workers (for one machine); ``--processes N`` runs N API
    processes behind the one port, so ingest and scoring use N cores."""
    import uvicorn

    from learnguard.api.app import create_app

    _logging(verbose)
    settings = get_settings()
    count = settings.serve_workers if workers < 0 else workers
    options: dict[str, Any] = {
        "host": host or settings.host, "port": port or settings.port,
        "log_level": "info" if verbose else "warning", "log_config": None,
        "limit_concurrency": settings.max_connections, "timeout_keep_alive": settings.keep_alive_s,
        "timeout_graceful_shutdown": 10}
    processes = processes or settings.api_processes
    if processes == 1:
        uvicorn.run(create_app(settings, workers=count), **options)
        return
    _serve_processes(settings, count, processes, options)


def _serve_processes(settings: Settings, count: int, processes: int, options: dict[str, Any]) -> None:
    """Several API processes (uvicorn's workers, spawned): this parent opens the store first
    — so an embedded Redis starts once and every process attaches to it — and is the one
    that restarts it if it dies."""
    import os

    import uvicorn

    from learnguard.api.app import start_watchdog
    from learnguard.service.store import Store

    os.environ.update(LEARNGUARD_SERVE_WORKERS=str(count), LEARNGUARD_EMBEDDED_WATCHDOG="false",
                      LEARNGUARD_API_PROCESSES="1")
    store = Store.open(settings)
    stop = threading.Event()
    if not settings.redis_url:
        start_watchdog(store, settings, stop)
    try:
        uvicorn.run("learnguard.api.app:app_from_environment", factory=True, workers=processes, **options)
    finally:
        stop.set()
        store.close()


@app.command()
def worker(verbose: bool = True,
           metrics_port: Annotated[int, typer.Option(help="serve Prometheus /metrics on this port (0: none)")] = 0
           ) -> None:
    """Run one more stream worker against the same store (SIGTERM drains, a second exits)."""
    from prometheus_client import start_http_server

    from learnguard.service.gc_pauses import settle
    from learnguard.service.store import Store
    from learnguard.service.worker import Worker

    _logging(verbose)
    settings = get_settings()
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():
            raise SystemExit(1)
        logging.getLogger(__name__).warning("stopping: finishing the batch in hand (again to exit now)")
        stop.set()

    # before anything that takes time (a store opened on a busy server, a layout moved): a
    # SIGTERM while starting stops the worker before its first batch, not in the middle of it
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if metrics_port:
        start_http_server(metrics_port, addr=settings.host)
    store = Store.open(settings)
    try:
        running = Worker(store, settings)
        settle()  # the worker's libraries and models stay for its life: see gc_pauses
        running.run(stop)
    finally:
        store.close()


@contextmanager
def _store() -> Iterator[Store]:
    """The store for one command, closed at the end (an embedded Redis this process started
    stops with it, also on SIGTERM)."""
    from learnguard.service.store import Store

    store = Store.open(get_settings())
    try:
        yield store
    finally:
        store.close()


@keys_app.command("create")
def keys_create(role: Annotated[str, typer.Option(help="platform | supervisor | analyst | admin")],
                org: Annotated[str, typer.Option(help="org subtree, e.g. zhejiang/hdu")] = "",
                name: Annotated[str, typer.Option(help="who holds the key")] = "") -> None:
    """Make a key and print it once."""
    try:
        with _store() as store:
            secret, record = store.apikeys.create(role, org or None, name or role)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"key id {record.key_id}  role {record.role}  org {record.org or '(all)'}  name {record.name}")
    print(secret)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (ids, never secrets)."""
    table = Table("key id", "role", "org", "name", "state")
    with _store() as store:
        records = store.apikeys.list()
    for record in records:
        table.add_row(record.key_id, record.role, record.org or "(all)", record.name,
                      "active" if record.active else "revoked")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id (as ``keys list`` shows it)."""
    try:
        with _store() as store:
            record = store.apikeys.revoke(key_id)
    except LookupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"revoked {record.key_id} ({record.name})")


dead_app = typer.Typer(help="Entries the workers gave up on (after LEARNGUARD_MAX_DELIVERIES tries).")
app.add_typer(dead_app, name="dead-letters")


@dead_app.command("list")
def dead_list() -> None:
    """Each dead letter: shard, id, events, and the error of its last try."""
    table = Table("shard", "dead-letter id", "events", "error")
    with _store() as store:
        letters = [letter for shard in range(store.shards) for letter in store.streams.dead_letters(shard)]
    for letter in letters:
        table.add_row(str(letter.shard), letter.entry_id, str(letter.events), letter.error)
    console.print(table)
    console.print(f"{len(letters)} dead letters")


@dead_app.command("requeue")
def dead_requeue(entry_ids: Annotated[list[str] | None, typer.Argument(help="dead-letter ids (default: all)")] = None,
                 shard: Annotated[int | None, typer.Option(help="only this shard's")] = None) -> None:
    """Put dead letters back on their shard's stream once their cause is fixed (a cold file
    restored, a bug fixed): their events are applied once, like new ones."""
    wanted = set(entry_ids or [])
    moved = 0
    with _store() as store:
        shards = [shard] if shard is not None else list(range(store.shards))
        for number in shards:
            ids = [letter.entry_id for letter in store.streams.dead_letters(number)
                   if not wanted or letter.entry_id in wanted]
            moved += store.streams.requeue_dead(number, ids)
    console.print(f"{moved} dead letters put back on their streams")
    if wanted and moved < len(wanted):
        console.print(f"[red]{len(wanted) - moved} of the given ids are not dead letters here[/red]")
        raise typer.Exit(2)


@app.command()
def simulate(learners: Annotated[int, typer.Option(help="learners in the cohort")] = 60,
             seed: Annotated[int, typer.Option(help="random seed")] = 1,
             out: Annotated[Path, typer.Option(help="output directory")] = Path("cohort")) -> None:
    """Write a simulated cohort: events.ndjson, course.json and truth.json."""
    from learnguard.simulator.cohort import simulate_cohort, write_cohort

    cohort = simulate_cohort(learners=learners, seed=seed)
    write_cohort(cohort, out)
    console.print(f"{len(cohort.events)} events of {learners} learners "
                  f"({len(cohort.truth.sessions)} sessions) written to {out}/")


@app.command()
def evaluate(seeds: Annotated[str, typer.Option(help="comma-separated seeds, e.g. 101,102,103")] = "101,102,103",
             learners: Annotated[int, typer.Option(help="learners per simulated cohort")] = 200,
             out: Annotated[Path, typer.Option(help="JSON report")] = Path("evaluation.json"),
             observed: Annotated[bool, typer.Option(
                 help="also run the cohorts on a v1.1 platform (media delivery, challenges)")] = True) -> None:
    """Run simulated cohorts through the real pipeline and measure detection honestly."""
    from learnguard.evaluate import evaluate as run_evaluation
    from learnguard.evaluate import print_report, write_json

    result = run_evaluation([int(s) for s in seeds.split(",") if s.strip()], learners, observed=observed)
    print_report(result, console)
    write_json(result, out)
    console.print(f"written to {out}")


@app.command()
def demo(learners: Annotated[int, typer.Option(help="learners in the simulated cohort")] = 60,
         seed: int = 7, port: int = 8000,
         stay: Annotated[bool, typer.Option(help="keep the service running afterwards")] = True) -> None:
    """Start the service (embedded store), replay a simulated cohort through HTTP, show flags."""
    from learnguard.demo import run_demo

    run_demo(learners=learners, seed=seed, port=port, stay=stay, console=console)


export_app = typer.Typer(help="Exports for analysts.")
models_app = typer.Typer(help="The model registry: train, list, promote, roll back.")
app.add_typer(export_app, name="export")
app.add_typer(models_app, name="models")


def _time_option(value: str | None) -> float | None:
    if not value:
        return None
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@export_app.command("features")
def export_features_command(out: Annotated[Path, typer.Option(help="output directory")] = Path("export"),
                            since: Annotated[str, typer.Option(help="RFC 3339 start (event time)")] = "",
                            until: Annotated[str, typer.Option(help="RFC 3339 end (event time)")] = "") -> None:
    """Write session and learner x course feature tables (with flags and rulings) as Parquet by day."""
    from learnguard.detector.policy import rules_from
    from learnguard.service.export import export_features, session_rows

    with _store() as store:
        rows = session_rows(store, rules_from(get_settings()), _time_option(since), _time_option(until))
    counts = export_features(rows, out)
    console.print(f"{counts['sessions']} sessions and {counts['learner_courses']} learner × course rows → {out}/")


@models_app.command("train")
def models_train(export: Annotated[Path, typer.Option(help="an export directory")] = Path("export"),
                 kind: Annotated[str, typer.Option(help="iforest | ecod | hbos | ensemble | semi")] = "ensemble",
                 by: Annotated[str, typer.Option(help="who trains it")] = "cli") -> None:
    """Train on an export, evaluate on the later 20 %, and register (not promote) the model."""
    from learnguard.models.training import train
    from learnguard.service.export import load_sessions

    model, training, metrics = train(load_sessions(export), kind)
    with _store() as store:
        envelope = store.registry.register(model, training, metrics, by)
    console.print(f"registered {envelope.version} ({kind}): {metrics}")


@models_app.command("list")
def models_list() -> None:
    """Model versions, the active one marked."""
    with _store() as store:
        active, versions = store.registry.active_version(), store.registry.versions()
    table = Table("version", "kind", "created", "by", "training sessions", "held-out metrics", "active")
    from datetime import UTC, datetime

    for envelope in versions:
        table.add_row(envelope.version, envelope.kind,
                      datetime.fromtimestamp(envelope.created_at, tz=UTC).strftime("%Y-%m-%d %H:%M"),
                      envelope.created_by, str(envelope.training.get("sessions")), str(envelope.metrics),
                      "●" if envelope.version == active else "")
    console.print(table)


@models_app.command("promote")
def models_promote(version: str, by: Annotated[str, typer.Option(help="who promotes it")] = "cli") -> None:
    """Make a version live (workers and the API pick it up within seconds)."""
    from learnguard.errors import LearnGuardError

    try:
        with _store() as store:
            envelope = store.registry.promote(version, by)
    except LearnGuardError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"{envelope.version} ({envelope.kind}) is active")


@models_app.command("rollback")
def models_rollback(by: Annotated[str, typer.Option(help="who rolls back")] = "cli") -> None:
    """Make the previously active version active again."""
    from learnguard.errors import LearnGuardError

    try:
        with _store() as store:
            previous = store.registry.rollback(by)
    except LearnGuardError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"active: {previous or 'none (patterns only)'}")


archive_app = typer.Typer(help="The archive of applied events (Parquet by day).")
app.add_typer(archive_app, name="archive")


@archive_app.command("replay")
def archive_replay(source: Annotated[Path, typer.Argument(help="an archive directory")],
                   batch: Annotated[int, typer.Option(help="events per ingest call")] = 5000) -> None:
    """Put archived events back on the streams (a fresh store, or after data loss); events the
    store already has are dropped as duplicates, so replaying twice changes nothing."""
    import msgspec

    from learnguard.features.events import Event
    from learnguard.service.archive import read_events

    decode = msgspec.json.Decoder(Event).decode
    accepted = seen = 0
    pending: list = []
    with _store() as store:
        for raw in read_events(source):
            pending.append(decode(raw))
            seen += 1
            if len(pending) >= batch:
                accepted += sum(store.streams.ingest(pending))
                pending = []
        if pending:
            accepted += sum(store.streams.ingest(pending))
    console.print(f"{seen} archived events read, {accepted} new ones put on the streams")




import_app = typer.Typer(help="Bring in records from elsewhere: offline training.")
app.add_typer(import_app, name="import")


@import_app.command("offline")
def import_offline(source: Annotated[Path, typer.Argument(help="a CSV: learner_id, org_id, activity (or course_id), "
                                                                "hours, date, kind")]) -> None:
    """Offline training (party-school classes, lectures, practice) into the portraits, kept
    apart from online hours. Importing a file again adds nothing; bad lines are reported by
    number and the exit code is 2 when any line was refused."""
    from learnguard.features.offline import read_offline_csv

    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"{source}: cannot be read as UTF-8 text ({exc})") from exc
    lines, errors = read_offline_csv(text)
    with _store() as store:
        owners = store.owners.bind(("learner", r.learner_id, r.org_id) for _, r in lines)
        done = store.offline.import_lines(lines, owners)
    refused = sorted([*errors, *done.refused], key=lambda e: e.line)
    hours = sum(r.hours for _, r in lines)
    typer.echo(f"{done.added} records added, {done.duplicates} already there, {len(refused)} lines refused "
               f"({hours:g} hours read)")
    for error in refused[:200]:
        typer.echo(f"  line {error.line}: {error.error}")
    if len(refused) > 200:
        typer.echo(f"  … and {len(refused) - 200} more")
    if refused:
        raise typer.Exit(2)


def _edx_lines(sources: list[Path], on_progress: Callable[[int], None]) -> Iterator[bytes]:
    """Every line of the logs (.gz read as it streams), reporting bytes read as it goes."""
    import gzip

    done = 0
    for path in sources:
        with path.open("rb") as raw:
            lines = gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw
            for number, line in enumerate(lines):
                yield line
                if number % 5000 == 0:
                    on_progress(done + raw.tell())
        done += path.stat().st_size


def _edx_summary(summary: EdxSummary, sent: Totals | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("", "count", title=f"Open edX import: {summary.lines:,} lines")
    for kind, count in sorted(summary.events.items()):
        table.add_row(f"→ {kind}", f"{count:,}")
    for reason, count in summary.skipped.most_common():
        table.add_row(f"skipped: {reason}", f"{count:,}")
    if sent is not None:
        table.add_row("accepted by the service", f"{sent.accepted:,}")
        table.add_row("duplicates (sent before)", f"{sent.duplicates:,}")
        table.add_row("rejected by the service", f"{len(sent.rejected):,}")
        table.add_row("batches resent (429/503/network)", f"{sent.retries:,}")
    Console().print(table)
    for rejection in (sent.rejected if sent is not None else [])[:20]:
        typer.echo(f"  rejected: {rejection['error']} (event {rejection.get('event_id')})")


@import_app.command("edx")
def import_edx(
    sources: Annotated[list[Path], typer.Argument(help="Open edX tracking logs (plain or .gz)")],
    org: Annotated[str, typer.Option(help="the unit (org path) these learners belong to, e.g. zhejiang/hdu")],
    url: Annotated[str, typer.Option(help="the LearnGuard service")] = "http://127.0.0.1:8000",
    key: Annotated[str, typer.Option(envvar="LEARNGUARD_KEY", help="a platform key (or LEARNGUARD_KEY)")] = "",
    salt: Annotated[str, typer.Option(envvar="LEARNGUARD_PSEUDONYM_SALT",
                                      help="pseudonymise learner ids with this secret salt (HMAC-SHA256)")] = "",
    out: Annotated[Path | None, typer.Option(help="write the contract events as NDJSON here instead of sending")]
    = None,
) -> None:
    """Open edX tracking logs → contract events, sent through the client (batches, retries)
    or written as NDJSON. A bad line is skipped and counted, never aborting the import."""
    import msgspec
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TransferSpeedColumn

    from learnguard.client import LearnGuardClient
    from learnguard.features.edx import EdxMapper

    if out is None and not key:
        raise typer.BadParameter("--key (or LEARNGUARD_KEY) is needed to send; or --out to write NDJSON")
    mapper = EdxMapper(org, salt or None)
    sent = None
    with Progress(TextColumn("{task.description}"), BarColumn(), TransferSpeedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("reading tracking logs", total=sum(path.stat().st_size for path in sources))
        lines = _edx_lines(sources, lambda done: progress.update(task, completed=done))
        events = (event for line in lines for event in mapper.map_line(line))
        if out is not None:
            with out.open("wb") as sink:
                for event in events:
                    sink.write(msgspec.json.encode(event) + b"\n")
        else:
            with LearnGuardClient(url, key, batch=2000) as client:
                sent = client.send_events(events)
    _edx_summary(mapper.summary, sent)


if __name__ == "__main__":
    app()
