#!/usr/bin/env bash
# Failover benchmark: a 3-ingress / 3-hub / 3-NATS-node cluster under load while parts are killed
# and drained in turn (scripts/bench-failover.mjs). Results: a table on stdout, JSON in
# bench/results/failover-<timestamp>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system.sh
bash scripts/ensure-built.sh
exec node scripts/bench-failover.mjs "$@"
