#!/usr/bin/env bash
# npm dependencies (npm ci when node_modules is missing or older than the lock file or than a
# patch in patches/, which patch-package applies on install) and a build of every workspace
# (turbo caches what did not change).
set -euo pipefail
cd "$(dirname "$0")/.."
stale=0
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  stale=1
else
  for patch in patches/*.patch; do
    if [ "$patch" -nt node_modules/.package-lock.json ]; then stale=1; fi
  done
fi
if [ "$stale" -eq 1 ]; then
  echo "hopgate: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
npx turbo run build --output-logs=errors-only --log-prefix=none
