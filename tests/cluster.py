"""A real local Redis Cluster for the tests: three masters (``redis-server --cluster-enabled
yes``) joined by ``redis-cli --cluster create``, in a temporary directory, stopped after."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis


@dataclass
class LocalCluster:
    root: Path
    ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self, masters: int = 3) -> LocalCluster:
        for _ in range(masters):
            port = _cluster_port(self.ports)
            folder = self.root / str(port)
            folder.mkdir(parents=True)
            self.processes.append(subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-config-file", str(folder / "nodes.conf"), "--dir", str(folder), "--save", "",
                 "--appendonly", "no", "--cluster-node-timeout", "5000", "--logfile", str(folder / "redis.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self.ports.append(port)
        for port, process in zip(self.ports, self.processes, strict=True):
            _wait(lambda p=port: redis.Redis(port=p).ping(), why=lambda p=port, proc=process: self._log(p, proc))
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        for port in self.ports:
            _wait(lambda p=port: redis.Redis(port=p).cluster("info").get("cluster_state") == "ok")
        return self

    @staticmethod
    def reshard_ports(source: int, target: int, slots: int) -> subprocess.CompletedProcess:
        """Move ``slots`` hash slots from the master at port ``source`` to the one at ``target``
        (``redis-cli --cluster reshard``, keys and all, while clients keep working)."""
        ids = {port: redis.Redis(port=port).cluster("myid").decode() for port in (source, target)}
        return subprocess.run(["redis-cli", "--cluster", "reshard", f"127.0.0.1:{source}",
                               "--cluster-from", ids[source], "--cluster-to", ids[target],
                               "--cluster-slots", str(slots), "--cluster-yes", "--cluster-pipeline", "100"],
                              capture_output=True, text=True, timeout=300)

    def _log(self, port: int, process: subprocess.Popen) -> str:
        log = self.root / str(port) / "redis.log"
        return f"port {port}: exit {process.poll()}, log: {log.read_text()[-1500:] if log.exists() else '-'}"

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=20)
        shutil.rmtree(self.root, ignore_errors=True)


def _cluster_port(taken: list[int]) -> int:
    """A free port whose cluster bus port (+10,000) is free too (so both stay ≤ 65,535)."""
    for _ in range(200):
        port = random.randrange(20_000, 40_000)
        if port in taken or any(abs(port - t) == 10_000 for t in taken):
            continue
        try:
            for candidate in (port, port + 10_000):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def available() -> bool:
    return bool(shutil.which("redis-server") and shutil.which("redis-cli"))


def _wait(check, seconds: float = 30, why=lambda: "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the local Redis Cluster did not come up: {why()}")
        time.sleep(0.1)
