"""``learnguard demo``: the whole service on its embedded default, with a cohort flowing in."""

from __future__ import annotations

import time

import httpx
from rich.console import Console
from rich.progress import Progress

from learnguard.api.app import create_app
from learnguard.replay import replay, score_all
from learnguard.server_thread import ServerThread
from learnguard.service.store import Store
from learnguard.settings import get_settings
from learnguard.simulator.cohort import simulate_cohort


def run_demo(learners: int, seed: int, port: int, stay: bool, console: Console) -> None:
    settings = get_settings()
    store = Store.open(settings)
    where = settings.redis_url or f"embedded Redis under {settings.data_dir.resolve()}"
    console.print(f"[bold]LearnGuard demo[/bold] — store: {where}")
    keys = store.apikeys
    platform_key, _ = keys.create("platform", "zhejiang", "demo platform")
    supervisor_key, _ = keys.create("supervisor", "zhejiang", "demo zhejiang office")
    admin_key, _ = keys.create("admin", None, "demo admin")
    server = ServerThread(create_app(settings, store=store, workers=max(1, settings.serve_workers)),
                          port=port).start()
    try:
        _replay_and_report(server.url, platform_key, supervisor_key, admin_key, learners, seed, console)
        if stay:
            console.print("The service keeps running; Ctrl-C stops it.")
            while server.thread.is_alive():
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:  # also on SIGTERM (the CLI turns it into SystemExit)
        server.stop()
        store.close()  # lets the embedded Redis stop with us


def _replay_and_report(url: str, platform_key: str, supervisor_key: str, admin_key: str, learners: int, seed: int,
                       console: Console) -> None:
    """Replay a simulated cohort through the running service, score it, print the flagged."""
    cohort = simulate_cohort(learners=learners, seed=seed, course_id=f"gov-2026s-demo{seed}")
    headers = {"Authorization": f"Bearer {platform_key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        started = time.perf_counter()
        with Progress(console=console) as progress:
            task = progress.add_task("replaying events", total=len(cohort.events))
            accepted, duplicates = replay(client, cohort, lambda n: progress.advance(task, n))
        console.print(f"{accepted} events accepted ({duplicates} duplicates dropped: retries, or a "
                      f"cohort replayed before) in {time.perf_counter() - started:.1f} s")
        with Progress(console=console) as progress:
            task = progress.add_task("scoring sessions", total=len(cohort.truth.sessions))
            scores = score_all(client, list(cohort.truth.sessions), lambda: progress.advance(task))
    show_flagged(console, scores, cohort.truth.sessions)
    console.print(f"\nAPI docs: [bold]{url}/docs[/bold]   dashboard: [bold]{url}/dashboard[/bold] "
                  f"(log in with the supervisor key)   health: {url}/health")
    console.print(f"platform key (org zhejiang):      {platform_key}")
    console.print(f"supervisor key (org zhejiang):    {supervisor_key}")
    console.print(f"admin key:                         {admin_key}")


def show_flagged(console: Console, scores: list[dict], truth: dict[str, dict]) -> None:
    """Flagged learners, riskiest first, each flag with its reasons (and what it was simulated as)."""
    by_learner: dict[str, list[dict]] = {}
    for score in scores:
        if score["flags"]:
            by_learner.setdefault(score["learner_id"], []).append(score)
    flagged_sessions = sum(len(v) for v in by_learner.values())
    console.print(f"\n[bold]{len(by_learner)} learners flagged ({flagged_sessions} of {len(scores)} sessions)[/bold]")
    ranked = sorted(by_learner.items(), key=lambda item: -max(s["risk"] for s in item[1]))
    for learner_id, sessions in ranked:
        top = max(sessions, key=lambda s: s["risk"])
        claimed = sum(s["claimed_seconds"] for s in sessions) / 3600
        effective = sum(s["effective_seconds"] for s in sessions) / 3600
        simulated = truth.get(top["session_id"], {}).get("archetype", "?")
        console.print(f"\n[bold]{learner_id}[/bold] ({top['org_id']}) risk {top['risk']:.2f} {top['level']}, "
                      f"{len(sessions)} flagged sessions, {claimed:.1f} h claimed → {effective:.1f} h effective "
                      f"[dim](simulated as {simulated})[/dim]")
        for flag in top["flags"]:
            for reason in flag["reasons"]:
                console.print(f"  • {flag['pattern']}: {reason['message']}")
