#!/bin/sh
# Build-stage helper of deploy/Dockerfile: puts into /out/app exactly what one service needs at
# run time: its production dependencies (npm ci --omit=dev for the service and the hopgate CLI),
# the patches of patches/ applied to those of them that are installed, and the compiled code
# (package.json + dist, without tests, benches, maps and type declarations) of every workspace
# package they link.  Usage: assemble.sh <services/ folder name>   (run in /src after the build)
set -eu
service="$1"
out=/out/app
mkdir -p "$out"
# The manifests npm needs to resolve the workspaces.
tar -cf - package.json package-lock.json libs/*/package.json services/*/package.json test/package.json | tar -C "$out" -xf -
cd "$out"
npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace "services/$service" --workspace services/cli >/dev/null
# patch-package (a dev dependency, from the build's node_modules) on the installed packages only:
# a patch for a package this service does not install is not an error.
mkdir -p .patches
for patch in /src/patches/*.patch; do
  name="$(basename "$patch")"
  pkg="$(echo "${name%+*}" | tr '+' '/')"
  if [ -d "node_modules/$pkg" ]; then cp "$patch" .patches/; fi
done
node /src/node_modules/patch-package/index.js --patch-dir .patches --error-on-fail
rm -rf .patches
node /src/deploy/docker/prune-unreachable.mjs
# Compiled code of the linked workspace packages (the test kit is a dev dependency: dropped).
for link in node_modules/@hopgate/*; do
  target="$(readlink -f "$link")"
  rel="${target#"$out"/}"
  if [ "$rel" = libs/testkit ]; then rm "$link"; rm -rf "$rel"; continue; fi
  if [ -d "/src/$rel/dist/src" ]; then
    mkdir -p "$rel/dist"; cp -a "/src/$rel/dist/src" "$rel/dist/src"
  else
    cp -a "/src/$rel/dist" "$rel/dist"
  fi
  # A native addon a package built (libs/dtls: native/build/hopgate_aes_gcm.node).
  if [ -d "/src/$rel/native/build" ]; then mkdir -p "$rel/native"; cp -a "/src/$rel/native/build" "$rel/native/build"; fi
done
# Only the workspace packages the service links, no stray manifests.
for manifest in libs/*/package.json services/*/package.json test/package.json; do
  dir="$(dirname "$manifest")"
  [ -e "node_modules/@hopgate/$(basename "$dir")" ] || [ -d "$dir/dist" ] || rm -rf "$dir"
done
find . -path ./node_modules -prune -o \( -name '*.map' -o -name '*.d.ts' -o -name '*.tsbuildinfo' \) -type f -print | xargs -r rm -f
find node_modules \( -name '*.map' -o -name '*.d.ts' -o -name '*.md' -o -name '*.markdown' \) -type f -print | xargs -r rm -f
rm -f package-lock.json node_modules/.package-lock.json
# The agent is the image users pull: its two entry points become one bundle each (bundle.mjs says why).
if [ "$service" = agent ]; then node /src/deploy/docker/bundle.mjs /src/node_modules/.bin/esbuild; fi
