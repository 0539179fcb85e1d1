# Pressure & Precedent — `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export MPLBACKEND ?= Agg

.PHONY: help setup data prepare validate reports screenshots bench test test-fast lint format kernel docs clean

help: ## List the targets with what they do
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The environment: created when missing, reinstalled when pyproject.toml changes.
# uv (from PyPI) installs in seconds; plain pip is the fallback.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@( $(PY) -m pip install -q --disable-pip-version-check uv \
	   && $(VENV)/bin/uv pip install --python $(PY) --compile-bytecode -q -e '.[dev]' ) \
	 || $(PY) -m pip install -q --disable-pip-version-check --compile -e '.[dev]'
	@touch $@

setup: $(STAMP) ## Create .venv and install the project (editable) with dev tools

data: $(STAMP) ## Fetch the third-party raw files (mirror or download) and check every hash
	$(PY) -m analysis data

prepare: data ## Convert the raw data to the data contract in data/processed
	$(PY) -m analysis prepare

validate: $(STAMP) ## Validate data/processed (or DATA=folder) and print its coverage
	$(PY) -m analysis validate --data $(or $(DATA),data/processed)

reports: prepare ## Run the main job: every notebook on the real data -> reports/index.html
	$(PY) -m analysis validate > /dev/null
	$(PY) -m analysis report

screenshots: $(STAMP) ## Check every report page in headless Chromium (1280 and 414 px) -> reports/screenshots/
	$(PY) -m analysis check-pages

bench: prepare ## Time the main job and hot paths against their baselines -> benchmarks/results.md
	$(PY) benchmarks/run.py $(BENCH_ARGS)

test: $(STAMP) ## Run the whole test suite
	$(PY) -m pytest

test-fast: $(STAMP) ## The inner loop: every test not marked slow (under a minute on 2 cores)
	$(PY) -m pytest -m "not slow" -q

lint: $(STAMP) ## ruff (style, complexity 15), format check, import-linter (layers), mypy --strict, vulture
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(VENV)/bin/vulture src/analysis --min-confidence 80

format: $(STAMP) ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

docs: $(STAMP) ## API reference from the docstrings (pdoc) -> docs/api/index.html
	$(PY) docs/build_api.py

kernel: $(STAMP) ## Register this clone's kernel "pressure-precedent" in .venv (JupyterLab from .venv finds it)
	$(PY) -m ipykernel install --sys-prefix --name pressure-precedent --display-name "Pressure & Precedent"

clean: ## Remove generated data and reports (never raw data)
	rm -rf data/processed/*.parquet reports .pytest_cache .ruff_cache
