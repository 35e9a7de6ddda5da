#!/usr/bin/env bash
# Quick start, part 2: the whole test suite (unit, integration against real registries, end to end
# against the committed bundle). Extra arguments go to Jest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
export NODE_OPTIONS=--experimental-vm-modules
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
exec npx jest "$@"
