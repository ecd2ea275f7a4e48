#!/usr/bin/env bash
# Installs the system packages HopGate's demo and tests need, when they are missing:
# redis-server, nats-server, openssl and curl, python3 for the tests' never-accepting listener,
# pebble (the ACME test CA, with pebble-challtestsrv) for the certificate tests and the
# demo's optional ACME mode, and docker.io, docker-compose and debootstrap for the container
# test (test/e2e/containers.test.ts, scripts/docker-standins.sh), and gcc for libs/dtls's AES-GCM
# addon (Debian/Ubuntu apt).
# Idempotent and quiet when all is there. Arguments COMMAND=PACKAGE add more (scripts/bench.sh:
# sshd=openssh-server nginx=nginx ...); COMMAND is looked up in /usr/sbin and /sbin too.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v nats-server  >/dev/null 2>&1 || need+=(nats-server)
command -v openssl      >/dev/null 2>&1 || need+=(openssl)
command -v curl         >/dev/null 2>&1 || need+=(curl)
command -v python3      >/dev/null 2>&1 || need+=(python3)
command -v pebble       >/dev/null 2>&1 || need+=(pebble)
command -v dockerd      >/dev/null 2>&1 || need+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v debootstrap  >/dev/null 2>&1 || need+=(debootstrap)
# A C compiler for libs/dtls's AES-GCM addon (its build skips it without one; the tests expect it).
command -v cc           >/dev/null 2>&1 || need+=(gcc libc6-dev)
for pair in "$@"; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "${pair%%=*}" >/dev/null 2>&1 || need+=("${pair#*=}")
done
if [ "${#need[@]}" -eq 0 ]; then
  exit 0
fi
echo "hopgate: installing system packages: ${need[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "hopgate: need root (or sudo) to apt-get install ${need[*]}" >&2; exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "hopgate: apt-get not found: please install ${need[*]} yourself" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts a system redis-server on install; HopGate never uses it (tests pick random ports).
