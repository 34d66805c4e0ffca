#!/usr/bin/env bash
# Sets everything up, then runs hltui with the given arguments (default: the demo dashboard).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
if [ $# -eq 0 ]; then set -- --demo; fi
exec .venv/bin/hltui "$@"
