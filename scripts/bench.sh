#!/usr/bin/env bash
# Benchmark: the full path (ingress -> NATS -> hub -> DTLS -> agent -> origin) against the
# origin directly, same machine, same run. Results: a table on stdout, JSON in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system.sh
bash scripts/ensure-built.sh
exec node scripts/bench.mjs "$@"
