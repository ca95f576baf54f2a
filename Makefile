# One-command workflows for the course. Everything runs inside .venv, created on first use.
#   make test   unit tests, then every notebook at COURSE_SCALE=smoke under nbval (what CI runs)
#   make lab    JupyterLab on notebooks/ (jupytext pairs .py and .ipynb)
#   make run    every notebook at COURSE_SCALE (default: lecture) into build/, with HTML and results.md
#   make sync   regenerate each .ipynb from its paired .py (jupytext --sync)
#   make lint   ruff
#   make bench  speed comparisons against reference implementations (prints ratios)

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
BUILD  ?= build
PYTEST_NB := $(BIN)/pytest -p no:cacheprovider --nbval-lax --nbval-current-env

.PHONY: env test unit notebooks lab run sync check-sync lint bench clean

env: $(STAMP)

# pip with exact pins. setuptools prints a notice during the editable install ("folders in your
# working directory with the same name as your package ..."): expected, lib/ IS the package.: requirements.lock constrains every package (torch==2.13.0 CPU build).
$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

test: unit notebooks

unit: env
	$(BIN)/pytest -p no:cacheprovider tests

notebooks: env
	@test -n "$(NOTEBOOKS)" || { echo "no notebooks/NN_*.ipynb found"; exit 1; }
	COURSE_SCALE=smoke COURSE_BUILD_DIR=$(BUILD)/smoke $(PYTEST_NB) $(NOTEBOOKS)

lab: env
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS) notebooks/

# MPLBACKEND is dropped for the kernels so that figures render inline (CI sets it to Agg).
# ipykernel prints one warning per notebook that its kernel talks TCP on 127.0.0.1 without
# encryption: harmless for a local, single-user run.
run: export COURSE_BUILD_DIR = $(abspath $(BUILD))
run: env
	rm -rf $(BUILD)/results $(BUILD)/notebooks $(BUILD)/html
	@mkdir -p $(BUILD)/notebooks $(BUILD)/html
	@set -e; for nb in $(NOTEBOOKS); do \
	  echo "== $$nb (COURSE_SCALE=$${COURSE_SCALE:-lecture})"; \
	  start=$$(date +%s); \
	  env -u MPLBACKEND $(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=-1 \
	    --output-dir $(BUILD)/notebooks $$nb --log-level=ERROR; \
	  $(BIN)/jupyter nbconvert --to html --output-dir $(BUILD)/html $(BUILD)/notebooks/$$(basename $$nb) --log-level=ERROR; \
	  echo "   done in $$(( $$(date +%s) - start )) s"; \
	done
	$(BIN)/python -m lib.results $(BUILD)/results.md
	@echo "Executed notebooks: $(BUILD)/notebooks/   HTML: $(BUILD)/html/   results table: $(BUILD)/results.md"

sync: env
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.py

# Fails when regenerating the .ipynb from the .py (or the reverse) would change a tracked file.
check-sync: env
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.py
	@git diff --quiet -- notebooks || { git --no-pager diff --stat -- notebooks; echo "notebooks out of sync: run 'make sync' and commit"; exit 1; }

lint: env
	$(BIN)/ruff check .

bench: env
	@set -e; for b in benchmarks/*.py; do [ -f "$$b" ] && $(BIN)/python $$b; done

clean:
	rm -rf $(BUILD) .pytest_cache .ruff_cache
