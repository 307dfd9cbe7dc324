#!/usr/bin/env bash
# Set up everything on a fresh machine (Python 3.11+ only), then run the whole test suite
# against the embedded Redis and a Redis server. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
source ./scripts/setup.sh
./scripts/ensure-redis.sh
exec .venv/bin/python -m pytest "$@"
