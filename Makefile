# Set-up and everyday commands. `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

CHROMIUM := /usr/bin/chromium

# Browser assets from npm (scorm-again, the SCORM runtime of the course player), pinned in
# lti_tool/static/vendor/package.json + package-lock.json; node_modules is not committed.
NPM ?= npm
VENDOR := lti_tool/static/vendor
NODE_STAMP := $(VENDOR)/node_modules/.installed-stamp
# Test-only npm tools (axe-core for the browser tests' accessibility checks), pinned in
# tests/browser/node/package.json + package-lock.json.
TEST_NODE := tests/browser/node
TEST_NODE_STAMP := $(TEST_NODE)/node_modules/.installed-stamp

.PHONY: install browser run serve-prod test test-sqlite test-postgres bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

$(NODE_STAMP): $(VENDOR)/package.json $(VENDOR)/package-lock.json
	@command -v $(NPM) >/dev/null || { echo "the course player's SCORM runtime needs Node.js (>= 20.19) and npm: install them (apt-get install nodejs npm)"; exit 1; }
	$(NPM) ci --prefix $(VENDOR) --no-audit --no-fund --ignore-scripts
	@touch $(NODE_STAMP)

$(TEST_NODE_STAMP): $(TEST_NODE)/package.json $(TEST_NODE)/package-lock.json
	@command -v $(NPM) >/dev/null || { echo "the browser tests' accessibility checks need Node.js (>= 20) and npm"; exit 1; }
	$(NPM) ci --prefix $(TEST_NODE) --no-audit --no-fund --ignore-scripts
	@touch $(TEST_NODE_STAMP)

## install: create .venv (if missing), install the project with its test tools, and the npm assets
install: $(STAMP) $(NODE_STAMP) $(TEST_NODE_STAMP)

## browser: Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium; no downloaded browsers)
browser: $(CHROMIUM)
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "browser tests need Debian's chromium: run 'sudo apt-get install chromium' once"; exit 1; \
	fi

# $(call with_worker,COMMAND): run COMMAND with `lti-tool worker` (the background jobs) beside it;
# Ctrl+C, SIGTERM or the end of COMMAND stops both (the worker finishes the job in progress).
define with_worker
	@$(VENV)/bin/lti-tool worker & worker=$$!; $(1) & server=$$!; \
	trap 'kill -TERM $$worker $$server 2>/dev/null; wait' EXIT; trap 'exit 130' INT TERM; \
	wait $$server
endef

## run: migrate the database, seed demo data when empty, serve on 127.0.0.1:5000 (HOST/PORT override) with the job worker beside it,
##      printing the URLs to open first (the demo LMS at http://localhost:5000/demo, /lti/install, /store)
run: install
	$(VENV)/bin/lti-tool db upgrade
	$(VENV)/bin/lti-tool demo seed --if-empty
	$(call with_worker,$(VENV)/bin/lti-tool serve)

## serve-prod: production: migrate, then gunicorn with WORKERS workers (default: SERVE_WORKERS) and the job worker; settings from the environment
serve-prod: install
	$(VENV)/bin/lti-tool db upgrade
	$(call with_worker,$(VENV)/bin/lti-tool serve $(if $(WORKERS),--workers $(WORKERS)))

## test: the whole suite on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set
test: install browser
	$(PY) -m pytest $(PYTEST_ARGS)

test-sqlite: install browser
	env -u TEST_DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: install browser
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(PY) -m pytest $(PYTEST_ARGS)

# The benchmarks' npm baseline (simple-scorm-packager), pinned in bench/node; not committed, not
# needed by the product or its tests.
BENCH_NODE := bench/node
BENCH_NODE_STAMP := $(BENCH_NODE)/node_modules/.installed-stamp
$(BENCH_NODE_STAMP): $(BENCH_NODE)/package.json $(BENCH_NODE)/package-lock.json
	$(NPM) ci --prefix $(BENCH_NODE) --no-audit --no-fund --ignore-scripts
	@touch $(BENCH_NODE_STAMP)

## bench: run the benchmarks in bench/ (each prints ratios against a baseline in the same run)
bench: install $(BENCH_NODE_STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis $(VENDOR)/node_modules $(TEST_NODE)/node_modules $(BENCH_NODE)/node_modules
