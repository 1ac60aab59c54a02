# The two commands of the README, and the benchmarks. Each sets itself up from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Protect a sample directory tree and restore it elsewhere, embedded, then compare.
demo: $(BIN)/.installed
	$(BIN)/strongbox demo

# Lint, types, and the whole test suite (the broker tests need RabbitMQ: see README).
test: $(BIN)/.installed lint
	$(BIN)/pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(BIN)/.installed
	$(BIN)/python -m bench.engine_bench
