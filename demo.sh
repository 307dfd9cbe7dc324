#!/usr/bin/env bash
# Set up everything on a fresh machine (Python 3.11+ only), then run the demo: the service
# on its embedded Redis, a simulated cohort replayed through the HTTP API, flagged
# learners with their reasons; the service keeps running. Arguments go to `learnguard demo`.
set -euo pipefail
cd "$(dirname "$0")"
source ./scripts/setup.sh
exec .venv/bin/learnguard demo "$@"
