# Developer entry points. `make test` is what CI runs (through .ci/run).
#
#   make venv   create .venv and install kefu with its test extras (again only when pyproject.toml changes)
#   make test   run the whole suite against a Redis (scripts/ensure-redis.sh finds or starts one)
#   make demo   chat with the bot in the simulator (no WeChat account, no server needed)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv test demo

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check --progress-bar off -q -e ".[test]"
	touch $@

test: venv
	scripts/ensure-redis.sh $(VENV)/bin/pytest -q $(PYTEST_ARGS)

demo: venv
	$(VENV)/bin/kefu simulate
