# Developer tasks; CI runs the same ones (.ci/run).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DATA   ?= $(CURDIR)/data

.PHONY: setup run demo test test-fast lint bench clean system-packages bench-packages

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

HOST   ?= 127.0.0.1
PORT   ?= 8080

# Set up the demo site in ./data (SQLite) and serve it; prints the URL and a one-time admin token.
run: setup
	CALKEEPER_DATA_DIR=$(DATA) $(BIN)/calkeeper serve --demo --host $(HOST) --port $(PORT)

# The browser tests drive Debian's Chromium, the directory tests a real OpenLDAP slapd; the HTTP benchmark
# uses wrk. All come from Debian. The console's accessibility checks run axe-core, from npm, in the browser.
AXE_VERSION ?= 4.14.1
AXE = build/axe/node_modules/axe-core/axe.min.js

$(AXE):
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq npm; }
	npm install --silent --no-audit --no-fund --no-save --prefix build/axe axe-core@$(AXE_VERSION)

system-packages: $(AXE)
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
	@test -x /usr/sbin/slapd && command -v ldapsearch >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils; }

bench-packages:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

# Two workers: the suite shares its migrated template databases per worker (tests/kit.py).
test: setup system-packages
	$(BIN)/pytest -q -n 2

test-fast: setup
	$(BIN)/pytest -q tests/unit

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: setup system-packages bench-packages
	$(BIN)/python -m bench.import_bench
	$(BIN)/python -m bench.engine_bench
	$(BIN)/python -m bench.http_bench
	$(BIN)/python -m bench.export_bench
	$(BIN)/python -m bench.history_bench
	$(BIN)/python -m bench.console_bench

clean:
	rm -rf $(VENV) $(DATA) build .pytest_cache .ruff_cache .mypy_cache .hypothesis .import_linter_cache .grimp_cache
