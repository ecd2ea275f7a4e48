#!/usr/bin/env bash
# A Docker engine and local stand-ins for the base images HopGate's images and docker-compose.yml
# use, for machines that reach no image registry (only Debian's apt mirror and npm):
#   - installs docker.io, docker-compose and debootstrap with apt when missing;
#   - starts dockerd when no engine answers (data root $HOPGATE_DOCKER_DATA_ROOT, log next to it);
#   - builds `node:20-bookworm-slim` from `debootstrap --variant=minbase bookworm` + this machine's
#     node and npm, and Redis, NATS and Pebble images from it with Debian's packages, under the
#     official names the compose file defaults to.
# An image that already exists is left alone, so a second run takes about a second.
# Not for machines that can pull the real images: there, just `docker compose build`.
set -euo pipefail

DATA_ROOT="${HOPGATE_DOCKER_DATA_ROOT:-/var/lib/hopgate-docker}"
DOCKERD_LOG="${HOPGATE_DOCKERD_LOG:-/var/log/hopgate-dockerd.log}"
NODE_IMAGE="${NODE_IMAGE:-node:20-bookworm-slim}"
REDIS_IMAGE="${HOPGATE_REDIS_IMAGE:-redis:7-bookworm}"
NATS_IMAGE="${HOPGATE_NATS_IMAGE:-nats:2.10}"
PEBBLE_IMAGE="${HOPGATE_PEBBLE_IMAGE:-ghcr.io/letsencrypt/pebble:latest}"
# Seconds dockerd has to answer `docker info` after its start.
DOCKERD_START_TIMEOUT_S=60

log() { echo "docker-standins: $*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    log "need root (or sudo) for apt-get, dockerd and debootstrap"; exit 1
  fi
fi

# 1. Packages.
need=()
command -v docker >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. The engine.
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (data root ${DATA_ROOT}, log ${DOCKERD_LOG})"
  $SUDO mkdir -p "$DATA_ROOT"
  # setsid: dockerd outlives this script and the test that ran it (the next run finds it up).
  $SUDO setsid dockerd --data-root "$DATA_ROOT" --pidfile /run/hopgate-dockerd.pid >>"$DOCKERD_LOG" 2>&1 </dev/null &
  deadline=$((SECONDS + DOCKERD_START_TIMEOUT_S))
  until docker info >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "dockerd did not answer within ${DOCKERD_START_TIMEOUT_S} s; last lines of ${DOCKERD_LOG}:"
      tail -n 20 "$DOCKERD_LOG" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
fi

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The Debian mirror apt on this machine already uses (deb822 .sources or a classic sources.list).
debian_mirror() {
  local uri
  uri="$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n 1 || true)"
  if [ -z "$uri" ]; then
    uri="$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n 1 || true)"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# This machine's Node headers folder (<prefix>/include/node with node_api.h and openssl/), or nothing.
node_headers_dir() {
  local prefix
  prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  if [ -f "$prefix/include/node/node_api.h" ] && [ -d "$prefix/include/node/openssl" ]; then echo "$prefix/include/node"; fi
}

# 3. node:20-bookworm-slim: Debian bookworm minbase + this machine's node and npm.
if ! have_image "$NODE_IMAGE"; then
  node_bin="$(readlink -f "$(command -v node)")"
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  mirror="$(debian_mirror)"
  rootfs="$(mktemp -d /tmp/hopgate-rootfs.XXXXXX)"
  trap '$SUDO rm -rf "$rootfs"' EXIT
  log "building ${NODE_IMAGE}: debootstrap minbase bookworm from ${mirror} + $("$node_bin" --version) from ${node_bin}"
  $SUDO debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
  $SUDO rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  $SUDO install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  $SUDO mkdir -p "$rootfs/usr/local/lib/node_modules"
  $SUDO cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  $SUDO ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  $SUDO ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # Node's headers (node_api.h, openssl/) where the official image has them: the build stage
  # compiles libs/dtls's AES-GCM addon against them.
  headers="$(node_headers_dir)"
  if [ -n "$headers" ]; then $SUDO mkdir -p "$rootfs/usr/local/include"; $SUDO cp -a "$headers" "$rootfs/usr/local/include/node"; fi
  # The official image has a `node` user (uid 1000); so does the stand-in.
  $SUDO chroot "$rootfs" /usr/sbin/groupadd --gid 1000 node
  $SUDO chroot "$rootfs" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  $SUDO tar -C "$rootfs" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV NODE_VERSION='"$("$node_bin" --version | tr -d v)" \
    -c 'CMD ["node"]' - "$NODE_IMAGE" >/dev/null
  $SUDO rm -rf "$rootfs"
  trap - EXIT
elif headers="$(node_headers_dir)" && [ -n "$headers" ] \
  && ! docker run --rm --entrypoint /bin/sh "$NODE_IMAGE" -c 'test -f /usr/local/include/node/node_api.h' >/dev/null 2>&1; then
  # A stand-in made before it carried Node's headers (the official image has them): add them as one more layer.
  log "adding Node's headers to ${NODE_IMAGE}"
  ctx="$(mktemp -d /tmp/hopgate-headers.XXXXXX)"
  cp -a "$headers" "$ctx/node"
  printf 'FROM %s\nCOPY node /usr/local/include/node\n' "$NODE_IMAGE" > "$ctx/Dockerfile"
  docker build -q -t "$NODE_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
fi

# 4. Redis, NATS and Pebble from Debian packages, with the entrypoints of the official images
#    (so docker-compose.yml's `command:` means the same with either).
build_standin() {
  local image="$1" dockerfile="$2"
  if have_image "$image"; then return 0; fi
  log "building ${image} (stand-in from Debian packages)"
  local out
  # The legacy builder's deprecation notice on stderr is noise here; other output shows on failure.
  if ! out="$(printf '%s\n' "$dockerfile" | docker build -q -t "$image" - 2>&1)"; then
    echo "$out" >&2
    return 1
  fi
}

build_standin "$REDIS_IMAGE" "FROM ${NODE_IMAGE}
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server >/dev/null \\
 && rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD [\"redis-server\", \"--protected-mode\", \"no\"]"

build_standin "$NATS_IMAGE" "FROM ${NODE_IMAGE}
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends nats-server >/dev/null \\
 && rm -rf /var/lib/apt/lists/* && ln -s \"\$(command -v nats-server)\" /nats-server
EXPOSE 4222 6222 8222
ENTRYPOINT [\"/nats-server\"]
CMD [\"-m\", \"8222\"]"

build_standin "$PEBBLE_IMAGE" "FROM ${NODE_IMAGE}
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends pebble >/dev/null \\
 && rm -rf /var/lib/apt/lists/* && ln -s \"\$(command -v pebble)\" /app
EXPOSE 14000 15000
ENTRYPOINT [\"/app\"]"

log "ready: ${NODE_IMAGE} ${REDIS_IMAGE} ${NATS_IMAGE} ${PEBBLE_IMAGE}"
