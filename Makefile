# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint check-services clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

## Install and run the service on the embedded defaults (SQLite file, in-process broker).
run: $(VENV)/.installed
	$(BIN)/crmsync run

## Install the dev extra, check the local PostgreSQL and Redis, lint, and run the whole suite.
test: $(VENV)/.installed-dev check-services lint
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

check-services:
	scripts/ensure-services

clean:
	rm -rf $(VENV) crmsync.db crmsync.db-wal crmsync.db-shm
