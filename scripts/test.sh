#!/usr/bin/env bash
# Lint and types first (fast), then pytest against the real stack, which the test fixtures start
# in .state/test and stop at the end. Arguments go to pytest: `make test` passes -m "not slow"
# (the fast tier), `make test-all` nothing (both tiers).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[test] ruff"
.venv/bin/ruff check .
echo "[test] mypy --strict"
.venv/bin/mypy
echo "[test] pytest"
exec .venv/bin/pytest -p no:cacheprovider "$@"
