#!/usr/bin/env bash
# Benchmark: the full path (ingress -> NATS -> hub -> DTLS -> agent -> origin) against the
# origin directly and against an OpenSSH reverse tunnel with nginx in front, same machine, same
# run; then idle sessions on one hub and the WAN runs (docs/benchmark.md). Results: a table on
# stdout, JSON in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
# The ssh -R column needs sshd, ssh and nginx; the WAN runs need ip (iproute2) and gcc.
bash scripts/ensure-system.sh sshd=openssh-server ssh=openssh-client nginx=nginx ip=iproute2 gcc=gcc
bash scripts/ensure-built.sh
exec node scripts/bench.mjs "$@"
