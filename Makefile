# lumaweb — `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install install-a11y tools run dev worker migrate test test-scaleout test-fast lint format typecheck check bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv 2>/dev/null
	$(BIN)/uv pip sync --quiet --python $(PY) requirements.lock
	touch $(STAMP)

install: $(STAMP) ## Create the virtualenv and install the locked dependencies

AXE := tests/a11y/node_modules/axe-core/axe.min.js
$(AXE): tests/a11y/package.json tests/a11y/package-lock.json
	npm ci --prefix tests/a11y --no-audit --no-fund
	touch $(AXE)

install-a11y: $(AXE) ## axe-core from npm for the accessibility browser tests (test-only, never served)

lock: ## Re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile --quiet --python $(PY) pyproject.toml --group dev -o requirements.lock

migrate: install ## Apply database migrations
	$(PY) manage.py migrate --no-input

run: migrate ## Set everything up and start the web server and its workers (Ctrl-C stops them all)
	$(PY) manage.py collectstatic --no-input --verbosity 0
	$(PY) manage.py ensure_superuser
	$(PY) manage.py serve

dev: migrate ## Django's autoreloading dev server and a worker per queue, for working on the code
	$(PY) manage.py ensure_superuser
	DEBUG=1 $(PY) manage.py run_worker --queues default & DEBUG=1 $(PY) manage.py run_worker --queues bulk & \
	DEBUG=1 $(PY) manage.py runserver $${HOST:-127.0.0.1}:$${PORT:-8000}; kill %1 %2

# What the tests drive besides Python: Debian's Chromium (browser tests; CHROMIUM=path overrides)
# and nginx (tests/test_nginx.py), installed when absent, as `make bench` does for wrk.
TOOLS := chromium nginx
tools: ## Install Chromium and nginx from Debian if absent (the tests drive them)
	@missing=""; for tool in $(TOOLS); do \
		[ $$tool = chromium ] && [ -n "$$CHROMIUM" ] && continue; \
		command -v $$tool >/dev/null || [ -x /usr/sbin/$$tool ] || missing="$$missing $$tool"; done; \
	[ -z "$$missing" ] || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing \
		>/dev/null; } || \
		{ echo "make test needs$$missing: sudo apt-get install -y$$missing"; exit 1; }

test: install install-a11y tools ## Run the whole test suite (browser tests included), then the scale-out pass
	$(PY) -m pytest
	$(MAKE) --no-print-directory test-scaleout

# The integration tests again on PostgreSQL and Redis (RQ), plus the two-worker scale-out test,
# docs/deploy.md followed in Chromium and nginx in front of gunicorn (marked scaleout).
# SCALEOUT_DATABASE_URL / SCALEOUT_REDIS_URL name servers to use; without them tests/services.py
# starts throwaway ones from PyPI packages on free ports (the machine's own are never touched).
SCALEOUT_TESTS := tests/test_scaleout.py tests/test_worker.py tests/test_client.py \
	tests/test_cards.py tests/test_security.py tests/test_auth.py tests/test_deploy.py \
	tests/test_nginx.py tests/test_sessions.py \
	tests/test_spend.py::test_two_teammates_submitting_at_once_cannot_both_pass_the_team_budget \
	tests/test_reliability.py::test_a_long_archive_never_holds_the_next_job

test-scaleout: install tools ## Integration tests on PostgreSQL + Redis workers (RQ), as CI runs them
	$(PY) -m tests.services $(PY) -m pytest -m "scaleout or not browser" $(SCALEOUT_TESTS)

test-fast: install ## Run the tests without the browser
	$(PY) -m pytest -m "not browser and not scaleout"

lint: install ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install ## mypy on the upstream boundary (providers, simulators), the MCP server, and the benchmark
	$(BIN)/mypy generations/providers generations/simulators generations/media_probe.py generations/mcp bench

check: lint typecheck ## Lint and type-check

N ?= 100000
bench: install ## Benchmark gunicorn on N seeded generations with wrk (N=100000); writes docs/benchmarks.md
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y wrk; } || true
	@command -v wrk >/dev/null || { echo "make bench needs wrk: sudo apt-get install -y wrk"; exit 1; }
	$(PY) bench/run.py --n $(N)

clean: ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var
