#!/usr/bin/env bash
# The whole test suite on a fresh clone: system packages, npm dependencies, build, tests.
# Tests start their own redis-server and nats-server on random loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system.sh
bash scripts/ensure-built.sh
# The container test's engine and base images (about 50 s on a fresh machine, instant after):
# outside the per-file --test-timeout, which the image builds of that test then have to themselves.
bash scripts/docker-standins.sh
node scripts/check-cycles.mjs
shopt -s nullglob
dirs=(libs/*/dist/test services/*/dist-test/test test/dist/e2e)
# One process per test file; two at a time on a 2-core machine. No retries: a flaky test is a bug.
# 600 s per file: the container test builds its four images inside it (a cold npm ci in the build
# stage took 237 s on a loaded 2-core machine).
exec node --test --test-concurrency=2 --test-timeout=600000 "${dirs[@]}"
