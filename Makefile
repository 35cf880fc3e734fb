# The two commands of the quick start are `make demo` and `make test`; both set up what is missing.
.PHONY: setup demo test test-all lint up down clean

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/harness demo

# `make test`: the fast tier (every test not marked `slow`); `make test-all`: both tiers.
test: setup
	@bash scripts/test.sh -m "not slow"

test-all: setup
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
