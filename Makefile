# One command each, on a machine with only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test run demo bench lint migrate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

test: $(STAMP)  ## the whole suite (PostgreSQL tests skip when no server is reachable)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q

run: $(STAMP)  ## start the bot (reads .env / the environment)
	$(BIN)/signalbot run --migrate

demo: $(STAMP)  ## one protocol cycle against the local Slack stand-in, no tokens needed
	$(BIN)/python -m bot.demo

bench: $(STAMP)  ## benchmarks; figures go to docs/benchmarks.md
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

migrate: $(STAMP)
	$(BIN)/signalbot db upgrade

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
