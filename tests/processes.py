"""The service in processes of its own, on its embedded Redis, as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx


def start_serve(data_dir: Path, port: int, workers: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "LEARNGUARD_DATA_DIR": str(data_dir), "LEARNGUARD_SERVE_WORKERS": str(workers)}
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "learnguard.cli", "serve", "--port", str(port),
                             "--no-verbose", *extra], env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("serve did not start")


def make_key(data_dir: Path) -> str:
    env = {**os.environ, "LEARNGUARD_DATA_DIR": str(data_dir)}
    env.pop("REDIS_URL", None)
    out = subprocess.run([sys.executable, "-m", "learnguard.cli", "keys", "create", "--role", "platform",
                          "--org", "zhejiang"], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]
