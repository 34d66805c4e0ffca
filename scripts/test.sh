#!/usr/bin/env bash
# Sets everything up, then runs the linter and the whole test suite against a real
# InfluxDB (started by the tests), real Chromium and the simulated exchange.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "test: ruff"
.venv/bin/ruff check hltui tests bench
echo "test: pytest"
exec .venv/bin/python -m pytest -q -ra "$@"
