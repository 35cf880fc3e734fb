# The two commands of the quick start are `make demo` and `make test`; both set up what is missing.
.PHONY: setup demo test lint up down clean

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/harness demo

test: setup
	@bash scripts/test.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy

up: setup
	.venv/bin/harness up

down:
	@if [ -x .venv/bin/harness ]; then .venv/bin/harness down; fi

clean: down
	rm -rf .state
