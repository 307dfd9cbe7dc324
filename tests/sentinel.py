"""A real local Redis Sentinel group for the tests: a primary, two replicas and three
Sentinels (``redis-server --sentinel``) in a temporary directory, stopped after.

Two replicas, not one: after a failover the other replica follows the promoted one, so an
ingest that waits for one replica (``replica_acks``) goes on being answered.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.cluster import _wait, available  # noqa: F401 - the same binaries and the same wait

SERVICE = "learnguard"


@dataclass
class LocalSentinel:
    root: Path
    data_ports: list[int] = field(default_factory=list)
    sentinel_ports: list[int] = field(default_factory=list)
    processes: dict[int, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        nodes = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{nodes}/{SERVICE}/0"

    def start(self, replicas: int = 2, sentinels: int = 3) -> LocalSentinel:
        ports = _free_ports(1 + replicas + sentinels)
        self.data_ports, self.sentinel_ports = ports[:1 + replicas], ports[1 + replicas:]
        primary = self.data_ports[0]
        for port in self.data_ports:
            folder = self._folder(port)
            follow = ["--replicaof", "127.0.0.1", str(primary)] if port != primary else []
            self._spawn(port, ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                               "--save", "", "--appendonly", "no", "--logfile", str(folder / "redis.log"), *follow])
        for port in self.data_ports:
            _wait(lambda p=port: redis.Redis(port=p).ping())
        for port in self.data_ports[1:]:
            _wait(lambda p=port: redis.Redis(port=p).info("replication").get("master_link_status") == "up")
        for port in self.sentinel_ports:
            folder = self._folder(port)
            config = folder / "sentinel.conf"  # Sentinel rewrites its own config: one file each
            config.write_text(f"port {port}\nbind 127.0.0.1\ndir {folder}\nlogfile {folder / 'sentinel.log'}\n"
                              f"sentinel monitor {SERVICE} 127.0.0.1 {primary} 2\n"
                              f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                              f"sentinel failover-timeout {SERVICE} 5000\n"
                              f"sentinel parallel-syncs {SERVICE} 2\n")
            self._spawn(port, ["redis-server", str(config), "--sentinel"])
        for port in self.sentinel_ports:
            _wait(lambda p=port: self._sentinel(p).get("num-other-sentinels", 0) >= len(self.sentinel_ports) - 1
                  and self._sentinel(p).get("num-slaves", 0) >= replicas, seconds=30)
        return self

    def primary_port(self) -> int:
        """The primary's port as the Sentinels report it now."""
        host, port = redis.Redis(port=self.sentinel_ports[0]).sentinel_get_master_addr_by_name(SERVICE)
        return int(port)

    def kill(self, port: int) -> None:
        """SIGKILL a node: no shutdown, no last words to its replicas."""
        self.processes[port].send_signal(signal.SIGKILL)
        self.processes[port].wait(timeout=10)

    def pause(self, port: int) -> None:
        """SIGSTOP a node: alive for the kernel, silent for Redis (a hung replica)."""
        self.processes[port].send_signal(signal.SIGSTOP)

    def resume(self, port: int) -> None:
        self.processes[port].send_signal(signal.SIGCONT)

    def wait_for_failover(self, old_primary: int, seconds: float = 30) -> int:
        """Block until the Sentinels name another primary and one replica follows it."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                port = self.primary_port()
                if port != old_primary and redis.Redis(port=port).info("replication").get("connected_slaves", 0):
                    return port
            except redis.RedisError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"no failover within {seconds} s: {self._log(self.sentinel_ports[0], 'sentinel.log')}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            process.wait(timeout=20)
        shutil.rmtree(self.root, ignore_errors=True)

    def _sentinel(self, port: int) -> dict:
        reply = redis.Redis(port=port, decode_responses=True).execute_command("SENTINEL", "MASTER", SERVICE)
        pairs = dict(zip(reply[::2], reply[1::2], strict=True)) if isinstance(reply, list) else reply
        return {key: int(value) if str(value).isdigit() else value for key, value in pairs.items()}

    def _folder(self, port: int) -> Path:
        folder = self.root / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _spawn(self, port: int, command: list[str]) -> None:
        self.processes[port] = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _log(self, port: int, name: str) -> str:
        log = self.root / str(port) / name
        return log.read_text()[-2000:] if log.exists() else "-"


def _free_ports(count: int) -> list[int]:
    """Ports the kernel says are free now (bound to port 0, then released)."""
    import socket

    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()
