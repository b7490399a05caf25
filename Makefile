# Two commands do everything on a fresh machine:  make lab  |  make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install lint format test bench lab clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## virtual environment with agno-nb and the dev tools

lint: install  ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check agno_nb tests bench
	$(BIN)/ruff format --check agno_nb tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format agno_nb tests bench
	$(BIN)/ruff check --fix agno_nb tests bench

test: install  ## the whole test suite, offline
	$(BIN)/python -m pytest

bench: install  ## benchmarks against the raw SDK and Agno (its own venv), see bench/RESULTS.md
	$(BIN)/python -m bench

lab: install  ## JupyterLab on notebooks/quickstart.ipynb (offline demo model without a key)
	$(BIN)/agno-nb lab

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
