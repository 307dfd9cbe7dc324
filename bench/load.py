"""A steady request load whose own cost does not end up in the latencies it reports.

Why not Python threads: a Python load generator on the machine under test spends about a
millisecond of interpreter time per request and its threads queue for the GIL, so at
500 requests/s its own p99 was 17 ms against an endpoint that answers in under 1 ms (a 404,
measured 2026-11-29) — most of a 20 ms target. ``wrk`` (Debian's package; C, a few percent
of a core at this rate) sends the load instead when it is installed:

- arrivals are random and independent, as from many platforms' servers: each of
  ``connections`` connections waits a uniformly random time (mean ``connections / rate``)
  after each answer before its next request, so a slow answer holds back only its own
  connection and requests keep arriving meanwhile (close to an open load as long as
  answers are much faster than the mean wait, here 200 ms);
- latencies are wrk's own (from sending a request to its answer), read in wrk's ``done``
  hook: p50/p99/p99.9, the rate reached and the answers that were not 2xx;
- the server's CPU time per request is read from ``/proc`` around the run: what a request
  costs, which holds on a shared machine where latencies move with the neighbours.

Without wrk the Python threads of ``bench.run.bench_paced`` send it, and the result says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CONNECTIONS_PER_RATE = 0.2  # 100 connections at 500/s: a mean wait of 200 ms between requests

_LUA = """
local ids = {%(ids)s}
local kind = "%(kind)s"
local t0 = %(t0)d
local n = 0
local mean_ms = %(mean_ms)f
local codes = {}
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer %(key)s"
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  math.randomseed(%(seed)d)
  n = math.random(0, #ids - 1)
  bad = 0
end
function delay() return math.random() * 2 * mean_ms end
function request()
  n = n + 1
  local id = ids[(n %% #ids) + 1]
  if kind == "score" then
    return wrk.format(nil, "/v1/sessions/" .. id .. "/score")
  end
  -- a platform calling every few minutes of playback: ``at`` walks through each session
  local at = t0 + 600000 + math.floor(n / #ids) * 180000
  local body = string.format('{"at": %%d, "video_id": "v1", "position": %%.3f}', at, (at - t0) / 1000)
  return wrk.format(nil, "/v1/sessions/" .. id .. "/challenge", nil, body)
end
function response(status, headers, body)
  if status >= 300 then bad = bad + 1 end
  if status == 200 then issued = (issued or 0) + 1 end
end
function done(summary, latency, requests)
  local bad_total, issued_total = 0, 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + (thread:get("bad") or 0)
    issued_total = issued_total + (thread:get("issued") or 0)
  end
  io.write(string.format('LOAD {"requests": %%d, "micros": %%d, "p50": %%d, "p99": %%d, "p999": %%d, ' ..
    '"max": %%d, "bad": %%d, "status_200": %%d, "errors": %%d}\\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max, bad_total,
    issued_total, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass(frozen=True)
class Load:
    """What a paced run measured (milliseconds)."""

    rate: float
    p50: float
    p99: float
    p999: float
    bad: int  # answers that were not 2xx, and socket errors
    answered_200: int
    cpu_ms: float | None  # the server process's CPU time per request
    client: str

    def describe(self) -> str:
        cpu = f", server CPU {self.cpu_ms:.2f} ms per request" if self.cpu_ms is not None else ""
        bad = f", {self.bad} failed" if self.bad else ""
        return f"p50 {self.p50:.1f} ms, p99 {self.p99:.1f} ms, p99.9 {self.p999:.1f} ms{cpu}{bad} ({self.client})"


def has_wrk() -> bool:
    return shutil.which("wrk") is not None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of one process (not its children: report processes are apart)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def paced_wrk(url: str, key: str, kind: str, ids: list[str], rate: float, seconds: float,
              pid: int | None = None, t0_ms: int = 0, seed: int = 7) -> Load:
    """``kind`` ("score" or "challenge") requests over ``ids`` at ``rate`` per second from wrk."""
    connections = max(4, round(rate * CONNECTIONS_PER_RATE))
    script = _LUA % {"ids": ",".join(json.dumps(i) for i in ids), "kind": kind, "t0": t0_ms,
                     "mean_ms": connections / rate * 1000, "key": key, "seed": seed}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        before = cpu_seconds(pid) if pid else None
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
                              "-s", handle.name, url], capture_output=True, text=True, check=True).stdout
        after = cpu_seconds(pid) if pid else None
    finally:
        os.unlink(handle.name)
    line = next(line for line in out.splitlines() if line.startswith("LOAD "))
    got = json.loads(line[5:])
    requests = max(1, got["requests"])
    cpu = (after - before) * 1000 / requests if before is not None and after is not None else None
    return Load(rate=got["requests"] / (got["micros"] / 1e6), p50=got["p50"] / 1000, p99=got["p99"] / 1000,
                p999=got["p999"] / 1000, bad=got["bad"] + got["errors"], answered_200=got["status_200"],
                cpu_ms=cpu, client=f"wrk, {connections} connections, random arrivals")


def from_latencies(latencies: list[float], seconds: float, answered_200: int = 0) -> Load:
    """A ``Load`` from the Python threads' latencies (seconds), when wrk is not installed."""
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000

    return Load(rate=len(ordered) / seconds, p50=at(0.5), p99=at(0.99), p999=at(0.999), bad=0,
                answered_200=answered_200, cpu_ms=None,
                client="Python threads: its own p99 is ~17 ms at 500/s; install wrk for a true figure")
