#!/usr/bin/env bash
# Installs what the demo, the tests and the benchmark need: npm packages, and from Debian's packages
# docker-registry (CNCF distribution), time (peak memory) and, with --bench, skopeo.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v docker-registry >/dev/null 2>&1 || packages+=(docker-registry)
[ -x /usr/bin/time ] || packages+=(time)
command -v openssl >/dev/null 2>&1 || packages+=(openssl)
if [ "${1:-}" = "--bench" ]; then
  command -v skopeo >/dev/null 2>&1 || packages+=(skopeo)
  command -v curl >/dev/null 2>&1 || packages+=(curl)
fi

if [ ${#packages[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Missing ${packages[*]} and no apt-get here: install them with your package manager." >&2
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    echo "Missing ${packages[*]}. Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${packages[*]}" >&2
    exit 1
  fi
fi

# npm ci only when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
