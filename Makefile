# Showroom: `make run` serves the product with demo data; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-unit test-integration test-e2e lint format translations messages \
        worker cron bench loadtest migrate demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

translations: $(STAMP)
	$(BIN)/pybabel -q compile -d translations

migrate: translations
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo-data

run: demo
	@$(FLASK) demo-logins
	@echo "Serving http://$(HOST):$(PORT)  (Ctrl-C to stop)"
	$(FLASK) run --host $(HOST) --port $(PORT)

test: translations
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: translations
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-integration: translations
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

test-e2e: translations
	$(BIN)/pytest tests/e2e $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-extract the message catalogue after changing user-visible strings.
messages: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -k N_ -o translations/messages.pot .
	$(BIN)/pybabel -q update -i translations/messages.pot -d translations --no-fuzzy-matching

# Production: an RQ worker and RQ's cron scheduler (both need REDIS_URL).
worker: migrate
	$(FLASK) worker

cron: $(STAMP)
	$(BIN)/rq cron jobs/schedule.py --url "$${REDIS_URL:?set REDIS_URL}"

bench: translations
	$(BIN)/python -m bench

# gunicorn + PostgreSQL + Redis + an RQ worker of its own, under load and faults (README: Load
# test); writes its table into README.md. `$(BIN)/python -m bench.loadtest --quick`: a short run.
loadtest: translations
	$(BIN)/python -m bench.loadtest --write-readme

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
