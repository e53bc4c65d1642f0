# MatchReady: `make run` serves the demo, `make test` runs everything on SQLite and PostgreSQL.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install install-dev run serve worker migrate seed test test-sqlite test-postgres lint format openapi \
        check-openapi contract clients bench browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The development commands run with the development settings (the demo's SECRET_KEY among them) unless told
# otherwise; `make serve` does not: it refuses the development key unless ENVIRONMENT=development is set.
run migrate seed worker openapi check-openapi: export ENVIRONMENT ?= development

migrate: install
	$(BIN)/python -m app migrate

seed: install
	$(BIN)/python -m app seed

## run: install, migrate the embedded database, load the demo data when empty, serve on $(HOST):$(PORT)
run: migrate seed
	WORKER_IN_PROCESS=true $(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT) --http app.core.server:HeadTimeoutH11Protocol --no-access-log --no-server-header --log-config app/logging.json

## worker: the background worker (webhooks, imports, computed events); run any number beside `make serve`
worker: install
	$(BIN)/python -m app worker

## serve: production-style, several workers (migrate first, once, with `make migrate`)
serve: install
	ENVIRONMENT=$${ENVIRONMENT:-production} $(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT) --workers $(WORKERS) --timeout-graceful-shutdown 20 --http app.core.server:HeadTimeoutH11Protocol --no-access-log --no-server-header --log-config app/logging.json

lint: install-dev
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/mypy app

format: install-dev
	$(BIN)/ruff check --fix app tests bench migrations

## test: lint, types, then the whole suite on SQLite and again on PostgreSQL
test: lint test-sqlite test-postgres

## browser: the Debian chromium and chromedriver the browser tests drive (installed when missing, as root)
browser:
	@sh tests/browser/ensure_chromium.sh

test-sqlite: install-dev browser
	@echo "== pytest on SQLite =="
	env -u TEST_DATABASE_URL $(BIN)/pytest

test-postgres: install-dev browser
	@if $(BIN)/python -m tests.pg_check "$(TEST_DATABASE_URL)"; then \
		echo "== pytest on PostgreSQL =="; \
		TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(BIN)/pytest; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(TEST_DATABASE_URL) is unreachable and CI=true: failing." >&2; exit 1; \
	else \
		echo ""; echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
		echo "!! PostgreSQL at $(TEST_DATABASE_URL) is unreachable: the PostgreSQL pass was SKIPPED."; \
		echo "!! Start it, or set TEST_DATABASE_URL. Under CI=true this fails the run."; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; echo ""; \
	fi

openapi: install
	$(BIN)/python -m app openapi

check-openapi: install
	$(BIN)/python -m app check-openapi

## contract: a longer schemathesis pass (more examples per operation)
contract: install-dev
	CONTRACT_MAX_EXAMPLES=$${CONTRACT_MAX_EXAMPLES:-500} env -u TEST_DATABASE_URL $(BIN)/pytest tests/contract

## clients: generate the TypeScript and Python clients from openapi/openapi.json and type-check them (also in `test`)
clients: install-dev
	env -u TEST_DATABASE_URL $(BIN)/pytest tests/contract/test_generated_clients.py

bench: install-dev
	$(BIN)/python bench/http_reads.py
	$(BIN)/python bench/pathway_engine.py
	$(BIN)/python bench/match_engine.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache node_modules
