#!/usr/bin/env bash
# Quick start, part 1: the main job end to end on this machine (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
[ -f dist/index.js ] || npm run build
node scripts/demo.mjs
