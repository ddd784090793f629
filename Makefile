# Developer entry points. `make test` is what CI runs (through .ci/run).
#
#   make venv   create .venv and install kefu with its test extras (again only when pyproject.toml changes)
#   make test   run the whole suite against a Redis and a PostgreSQL (scripts/ensure-redis.sh and
#               scripts/ensure-postgres.sh find or start them)
#   make demo   chat with the bot in the simulator (no WeChat account, no server needed)
#   make bench  webhook load (vs WeRoBot), end-to-end turns, session memory, turn overhead per shop backend,
#               console records (docs/performance.md)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

BENCH_STAMP := $(VENV)/.bench-installed
BENCH_ARGS ?=

.PHONY: venv test demo bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check --progress-bar off -q -e ".[test]"
	touch $@

test: venv
	scripts/ensure-redis.sh scripts/ensure-postgres.sh $(VENV)/bin/pytest -q $(PYTEST_ARGS)

demo: venv
	$(VENV)/bin/kefu simulate

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(VENV)/bin/python -m pip install --disable-pip-version-check --progress-bar off -q -e ".[test,bench]"
	touch $@

# Printed numbers, not tests. Each script uses its own Redis key prefix and deletes it afterwards.
bench: $(BENCH_STAMP)
	scripts/ensure-redis.sh $(VENV)/bin/python benchmarks/webhook_load.py --reference $(BENCH_ARGS)
	scripts/ensure-redis.sh $(VENV)/bin/python benchmarks/turns.py
	scripts/ensure-redis.sh $(VENV)/bin/python benchmarks/sessions_memory.py
	scripts/ensure-redis.sh scripts/ensure-postgres.sh $(VENV)/bin/python benchmarks/shop_turns.py
	scripts/ensure-redis.sh $(VENV)/bin/python benchmarks/console_records.py
