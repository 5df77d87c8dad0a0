# Developer tasks; CI runs the same ones (.ci/run).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DATA   ?= $(CURDIR)/data

.PHONY: setup run demo test test-fast lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Set up the demo site in ./data (SQLite) and show it.
run: setup
	CALKEEPER_DATA_DIR=$(DATA) $(BIN)/calkeeper demo
	CALKEEPER_DATA_DIR=$(DATA) $(BIN)/calkeeper cal show
	CALKEEPER_DATA_DIR=$(DATA) $(BIN)/calkeeper doc list
	@echo "The demo site is in $(DATA). Drive it with: export CALKEEPER_DATA_DIR=$(DATA); $(BIN)/calkeeper --help"

test: setup
	$(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q tests/unit

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bench.engine_bench

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache .ruff_cache .mypy_cache .hypothesis
