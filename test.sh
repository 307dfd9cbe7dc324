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
.venv/bin/python -m pytest "$@"
# a full run also puts the contract, compaction and worker-recovery suites on a real local
# 3-master Redis Cluster (started and stopped by the tests; skipped without redis-server)
if [ $# -eq 0 ] && command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  LEARNGUARD_TEST_BACKENDS=cluster .venv/bin/python -m pytest tests/test_cluster.py tests/test_ingest_contract.py \
    tests/test_scoring_http.py tests/test_worker_recovery.py tests/test_compaction.py
fi
