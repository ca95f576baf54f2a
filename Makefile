# One-command workflows for the course. Everything runs inside .venv, created on first use.
#   make test   in one session on two workers: the unit tests, every notebook at COURSE_SCALE=smoke
#               under nbval, and the negative control: every lecture at COURSE_SCALE=untrained,
#               where its learning checks must fail
#   make lab    JupyterLab on notebooks/ (jupytext pairs .py and .ipynb)
#   make run    every notebook at COURSE_SCALE (default: lecture) into build/, with HTML and results.md,
#               JOBS (default 2) at a time
#   make sync   regenerate each .ipynb from its paired .py (jupytext --sync)
#   make check-sync  fail when an .ipynb differs from what its .py regenerates (changes nothing)
#   make readme rewrite the README's key-results table from the last `make run`
#   make lint   ruff
#   make bench  speed comparisons against reference implementations (prints ratios)
#   make book   the course book (build/book/_build/html) from the notebooks of the last `make run`
#   make slides every executed lecture as an offline reveal.js deck (build/slides/)
#   make book-check  the book and one deck in a real browser (Debian's chromium)

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
BUILD  ?= build
# nbval runs the cells of one notebook in order, so a notebook's cells must stay on one worker: the
# plugin tests/schedule.py gives xdist a scheduler that keeps them together, and orders the work
# (--no-loadscope-reorder keeps that order). The plugin book/nbval_save.py keeps the executed
# notebooks, so the book is built from them without running them twice (`python -m pytest` puts
# the repository on the test process's path). COURSE_CACHE=off: the tests always train (the cache
# would otherwise reuse an earlier run).
# The tests run two things at once on two cores, so each gets one thread in every pool (OpenMP,
# BLAS, TensorFlow): with two each, spinning threads took each other's cores (the unit tests alone
# took 64 core-s against 38).
ONE_THREAD := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
PYTEST_SMOKE := $(ONE_THREAD) COURSE_CACHE=off COURSE_SCALE=smoke COURSE_BUILD_DIR=$(abspath $(BUILD))/smoke \
  $(BIN)/python -m pytest -p tests.schedule -p book.nbval_save -p no:cacheprovider -n 2 \
  --no-loadscope-reorder --nbval-lax --nbval-current-env --nbval-save-dir $(abspath $(BUILD))/smoke/notebooks

.PHONY: env test unit notebooks negative-control lab run readme sync check-sync lint bench clean \
	book slides book-check check-slides

env: $(STAMP)

# Exact pins: requirements.lock constrains every package (torch==2.13.0, a CPU build). uv installs
# that set about four times faster than pip (measured: 17 s against about 60 s for a fresh .venv);
# the resolution is the same, since every package is pinned. pip's find-links (where a machine may
# keep its CPU torch wheel) are passed on to uv. uv itself is pinned here. --compile-bytecode as pip
# does: without .pyc files (and with PYTHONDONTWRITEBYTECODE set, as on CI) every process would
# compile torch and TensorFlow from source on import.
UV_VERSION := 0.13.9
$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	env $${PIP_FIND_LINKS:+UV_FIND_LINKS="$$PIP_FIND_LINKS"} $(BIN)/uv pip install --python $(BIN)/python \
	  --quiet --compile-bytecode -c requirements.lock -e ".[dev]"
	touch $(STAMP)

# One session on two workers: every notebook at smoke (first: CI builds the book from them while the
# rest runs), the negative control, then the unit tests filling the gaps, each part longest first
# (three sessions one after another left one core idle at the end of each). `make unit`,
# `make notebooks` and `make negative-control` run one part each.
test: env
	@test -n "$(NOTEBOOKS)" || { echo "no notebooks/NN_*.ipynb found"; exit 1; }
	@$(TIMED) $(PYTEST_SMOKE) -o python_files='test_*.py negative_control.py' tests $(NOTEBOOKS)

# Each phase prints how long it took (CI's log shows where the minutes go).
TIMED = start=$$(date +%s); trap 'echo "== $@ took $$(( $$(date +%s) - start )) s"' EXIT;

unit: env
	@$(TIMED) $(ONE_THREAD) $(BIN)/pytest -p no:cacheprovider -n 2 tests

notebooks: env
	@test -n "$(NOTEBOOKS)" || { echo "no notebooks/NN_*.ipynb found"; exit 1; }
	@$(TIMED) $(PYTEST_SMOKE) $(NOTEBOOKS)

# Each lecture at COURSE_SCALE=untrained: its learning-check cells must fail, all others pass.
negative-control: env
	@$(TIMED) $(ONE_THREAD) $(BIN)/pytest -p no:cacheprovider -n 2 tests/negative_control.py

lab: env
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS) notebooks/

# MPLBACKEND is dropped for the kernels so that figures render inline (CI sets it to Agg).
# ipykernel prints one warning per notebook that its kernel talks TCP on 127.0.0.1 without
# encryption: harmless for a local, single-user run. JOBS notebooks run at once (book/run.py),
# each with its share of the cores (most lectures train on one thread anyway).
JOBS ?= 2
run: export COURSE_BUILD_DIR = $(abspath $(BUILD))
run: env
	rm -rf $(BUILD)/results $(BUILD)/notebooks $(BUILD)/html
	env -u MPLBACKEND $(BIN)/python book/run.py --jobs $(JOBS) --build $(BUILD) $(NOTEBOOKS)
	$(BIN)/python -m lib.results $(BUILD)/results.md
	@echo "Executed notebooks: $(BUILD)/notebooks/   HTML: $(BUILD)/html/   results table: $(BUILD)/results.md"
	@echo "To put this run's key results into the README: make readme"

# The README's key-results table, generated from the results that the last `make run` recorded.
readme: env
	COURSE_BUILD_DIR=$(abspath $(BUILD)) $(BIN)/python -m lib.results --readme README.md

# The .py is the source: touching it first makes jupytext regenerate the .ipynb from it.
sync: env
	touch notebooks/[0-9][0-9]_*.py
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.py

# Regenerates every .ipynb from its .py in a temporary copy and fails when a file differs.
# A check does not change what it checks: the tree is left as it was.
check-sync: env
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	mkdir "$$tmp/notebooks" && cp pyproject.toml "$$tmp/" && cp notebooks/[0-9][0-9]_* "$$tmp/notebooks/" && \
	touch "$$tmp"/notebooks/*.py && $(BIN)/jupytext --sync --quiet "$$tmp"/notebooks/[0-9][0-9]_*.py && \
	status=0; for f in "$$tmp"/notebooks/*; do \
	  cmp -s "$$f" "notebooks/$$(basename "$$f")" || { echo "out of sync: notebooks/$$(basename "$$f")"; status=1; }; \
	done; \
	[ $$status -eq 0 ] || echo "run 'make sync' and commit"; exit $$status

# Where the book takes its executed notebooks and results from (CI: build/smoke, the test run's).
BOOK_FROM ?= $(BUILD)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The course book (Jupyter Book 1.x) from the notebooks that `make run` executed; runs `make run`
# first when there are none. Sphinx never executes anything.
book: env node_modules/.installed
	@ls $(BOOK_FROM)/notebooks/[0-9][0-9]_*.ipynb >/dev/null 2>&1 || $(MAKE) run
	COURSE_BUILD_DIR=$(abspath $(BOOK_FROM)) $(BIN)/python book/build.py --out $(BUILD)/book
	@echo "Open it: $(BIN)/python -m http.server -d $(BUILD)/book/_build/html   (then http://127.0.0.1:8000/)"

slides: env node_modules/.installed
	@ls $(BOOK_FROM)/notebooks/[0-9][0-9]_*.ipynb >/dev/null 2>&1 || $(MAKE) run
	COURSE_BUILD_DIR=$(abspath $(BOOK_FROM)) $(BIN)/python book/slides.py render --out $(BUILD)/slides

# The built book and slides in a real browser: Debian's chromium driven by Playwright.
book-check: env
	BOOK_DIR=$(abspath $(BUILD))/book SLIDES_DIR=$(abspath $(BUILD))/slides \
	  $(BIN)/pytest -p no:cacheprovider tests/book/site_check.py

# Fails when a notebook's slide metadata differs from what its headings give (changes nothing).
check-slides: env
	$(BIN)/python book/slides.py check notebooks/[0-9][0-9]_*.py

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every benchmark, then one table of ratios (ours / peer) in build/bench.md. Never asserts timings.
bench: env
	COURSE_BUILD_DIR=$(abspath $(BUILD)) $(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(BUILD) .pytest_cache .ruff_cache
