#!/usr/bin/env bash
# One command for a local demo stack: installs what is missing, builds, and runs
# redis-server + nats-server + https-ingress + 2 dtls-hubs + a demo web service + an agent.
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system.sh
bash scripts/ensure-built.sh
exec node scripts/demo.mjs "$@"
