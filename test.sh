#!/usr/bin/env bash
# Set up everything on a fresh machine (Python 3.11+ only), then run the whole test suite
# against the embedded Redis and a Redis server. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
source ./scripts/setup.sh
./scripts/ensure-redis.sh
# video.js for the tracker's plugin test (the tracker itself has no dependencies); without npm it is skipped
if command -v npm >/dev/null && [ ! tracker/node_modules/.package-lock.json -nt tracker/package-lock.json ]; then
  (cd tracker && npm ci --no-audit --no-fund --silent) || echo "warning: npm ci failed (the video.js test will be skipped)"
fi
exec .venv/bin/python -m pytest "$@"
