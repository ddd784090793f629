# Developer entry points. `make test` is what CI runs (through .ci/run).
#
#   make venv   create .venv and install kefu with its test extras (again only when pyproject.toml changes)
#   make test   run the whole suite against a Redis and a PostgreSQL (scripts/ensure-redis.sh and
#               scripts/ensure-postgres.sh find or start them)
#   make lint   ruff (bugs + import order), mypy (strict over core/), import-linter (layers, no cycles)
#   make demo   chat with the bot in the simulator (no WeChat account, no server needed)
#   make bench  webhook load (vs WeRoBot), end-to-end turns, session memory, turn overhead per shop backend,
#               console records, prompt cost, FAQ fast path, degraded mode (docs/performance.md)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

BENCH_STAMP := $(VENV)/.bench-installed
BENCH_ARGS ?=

.PHONY: venv test lint demo bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check --progress-bar off -q -e ".[test]"
	touch $@

test: venv
	scripts/ensure-redis.sh scripts/ensure-postgres.sh $(VENV)/bin/pytest -q $(PYTEST_ARGS)

# Settings in pyproject.toml ([tool.ruff], [tool.mypy], [tool.importlinter]). All three run, so one
# report shows every problem; the target fails if any of them did.
lint: venv
	@status=0; \
	$(VENV)/bin/ruff check . || status=1; \
	$(VENV)/bin/mypy || status=1; \
	$(VENV)/bin/lint-imports || status=1; \
	exit $$status

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
	$(VENV)/bin/python benchmarks/prompt_cost.py
	$(VENV)/bin/python benchmarks/faq_fast_path.py
	scripts/ensure-redis.sh $(VENV)/bin/python benchmarks/degraded_mode.py
