# Herald — the two commands of the quick start are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HERALD_HOME ?= $(CURDIR)/var
# Test processes: much of the suite waits on subprocesses, services and I/O (the tracking
# tests mostly wait on the tracker, the loader and RabbitMQ), so two more than two cores pays.
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(max(4, min(8, os.cpu_count() or 1)))')

.PHONY: help venv demo test lint format check-python services bench i18n clean

help:
	@echo "make demo   set up, generate sample data, materialise everything, serve the Dagster UI"
	@echo "make test   set up, start PostgreSQL and RabbitMQ if needed, lint and run every test"
	@echo "make bench  run the benchmarks; figures go to tests/benchmarks/results/"

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || { \
	  echo "Herald needs Python 3.11 (found: $$($(PYTHON) --version 2>&1)). Install python3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }

$(STAMP): pyproject.toml | check-python
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/herald demo

services:
	deploy/services.sh ensure postgres rabbitmq
	deploy/browser.sh ensure
	deploy/browser-sdks.sh ensure

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/herald lint

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: venv services lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=25

bench: venv
	deploy/wrk.sh ensure
	deploy/smtp-sink.sh ensure
	$(BIN)/python -m tests.benchmarks.run_all

# Re-extract the marked messages and merge them into the catalogs (then translate the new ones).
i18n: venv
	$(BIN)/pybabel extract --no-location --sort-output -F babel.cfg -k N_ -o herald/locale/herald.pot .
	$(BIN)/pybabel update -i herald/locale/herald.pot -d herald/locale -D herald --no-fuzzy-matching

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
