# Both targets set up .venv from the project's own files, so they work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/recengine --home $(VENV)/demo-data demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy engine recipes

test: lint
	$(BIN)/pytest -q

# Benchmarks against the raw libraries (see benchmarks/README.md); not part of `make test`.
# `make bench ARGS=--quick` or `make bench-quick` for the few-minute size.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(ARGS)

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks.run --quick $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
