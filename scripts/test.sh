#!/usr/bin/env bash
# Run the whole test suite: lint and types first (fast), then pytest against the real stack,
# which the test fixtures start in .state/test and stop at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[test] ruff"
.venv/bin/ruff check .
echo "[test] mypy --strict"
.venv/bin/mypy
echo "[test] pytest"
exec .venv/bin/pytest -p no:cacheprovider "$@"
