#!/usr/bin/env bash
# Creates a workspace package skeleton: scripts/new-package.sh libs/foo "description"
set -euo pipefail
dir="$1"; desc="${2:-}"
name="@hopgate/$(basename "$dir")"
mkdir -p "$dir/src" "$dir/test"
cat > "$dir/package.json" <<JSON
{
  "name": "$name",
  "version": "0.1.0",
  "private": true,
  "description": "$desc",
  "type": "module",
  "main": "dist/src/index.js",
  "types": "dist/src/index.d.ts",
  "exports": { ".": { "types": "./dist/src/index.d.ts", "default": "./dist/src/index.js" } },
  "scripts": {
    "build": "tsc -p tsconfig.json",
    "test": "node --test --test-concurrency=1 dist/test/"
  },
  "dependencies": {}
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "outDir": "dist", "rootDir": "." },
  "include": ["src/**/*.ts", "test/**/*.ts"]
}
JSON
