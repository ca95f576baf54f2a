# One-command workflows for the course. Everything runs inside .venv, created on first use.
#   make test   in one session on two workers: the unit tests, every notebook at COURSE_SCALE=smoke
#               under nbval, and the negative control: every lecture at COURSE_SCALE=untrained,
#               where its learning checks must fail
#   make lab    JupyterLab on workspace/: your copies of the lectures, with the exercises to fill in
#   make lab-solutions  JupyterLab on notebooks/, the lectures with the solutions (jupytext pairs)
#   make student the student release: build/student/ (no solutions, the checks kept) and its autograders
#   make grade SUBMISSIONS=folder  grade submitted notebooks against the checks (a table and a CSV)
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

VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
BUILD  ?= build

.PHONY: env lock check-lock test unit notebooks negative-control lab lab-solutions student grade run readme \
	sync check-sync lint bench clean book slides book-check check-slides

# --- the environment ---------------------------------------------------------------------------------
# The Pythons the course supports are pyproject.toml's requires-python, >=3.11.5,<3.14 (a test keeps
# the two equal): TensorFlow 2.21 has no wheel for 3.14, and a 3.11 before 3.11.5 cannot install the
# lock (soupsieve). Without PYTHON=, `make env` keeps a working .venv, or makes one with the newest of
# PYTHONS that runs and is supported. PYTHON=python3.12 (a name or a path) makes .venv with that one,
# replacing a .venv of another version. Nothing is installed with an unsupported Python.
PY_MIN   := 3.11.5
PY_BELOW := 3.14
PYTHONS  := python3.13 python3.12 python3.11 python3
PYTHON   ?=
comma    := ,
PY_SUPPORTED := import sys; sys.exit(not ($(subst .,$(comma),$(PY_MIN)),) <= sys.version_info[:3] < ($(subst .,$(comma),$(PY_BELOW)),))
PY_VERSION   := import platform; print(platform.python_version())
UNSUPPORTED   = The course supports Python $(PY_MIN) and later, below $(PY_BELOW) (a 3.11 from 3.11.5 on, 3.12 or 3.13)

# The stamp holds the Python version that .venv was made with: a PYTHON= of another version remakes it.
ifneq ($(strip $(PYTHON)),)
ifneq ($(shell $(PYTHON) -c '$(PY_VERSION)' 2>/dev/null),$(shell cat $(STAMP) 2>/dev/null))
$(STAMP): FORCE
endif
endif

# JupyterLab's settings for the environment (its overrides.json, kept where it exists): no pop-up
# asking a student whether to fetch Jupyter's news from the web.
LAB_SETTINGS = $(BIN)/python -c "import json, pathlib, sys; \
  p = pathlib.Path(sys.prefix, 'share', 'jupyter', 'lab', 'settings', 'overrides.json'); \
  s = json.loads(p.read_text(encoding='utf-8')) if p.is_file() else {}; \
  s.setdefault('@jupyterlab/apputils-extension:notification', {}).setdefault('fetchNews', 'false'); \
  p.parent.mkdir(parents=True, exist_ok=True); p.write_text(json.dumps(s, indent=2), encoding='utf-8')"

# In a conda environment (make VENV=$$CONDA_PREFIX ...): conda and environment.yml installed it, and
# make only checks that it is there (no second install).
ifneq ($(wildcard $(VENV)/conda-meta),)
env:
	@$(BIN)/python -c "import lib, torch, keras, pytest" >/dev/null 2>&1 || { echo "the conda environment $(VENV) lacks the course's packages: conda env update -f environment.yml"; exit 1; }
	@$(LAB_SETTINGS)
else
env: $(STAMP)
endif

# Exact pins: requirements.lock (`make lock`) constrains every package; torch==2.13.0 is a CPU build
# where a local wheel is found (PIP_FIND_LINKS is passed on to uv; CI), the default index's build
# elsewhere (on Linux, CUDA's: TORCH_BACKEND=cpu takes PyTorch's own CPU build instead). uv installs
# that set about four times faster than pip (17 s against about 60 s for a fresh .venv), uv itself
# pinned here. --compile-bytecode as pip does: without .pyc files (and with PYTHONDONTWRITEBYTECODE
# set, as on CI) every process would compile torch and TensorFlow from source on import. The stamp is
# written last, once the packages import: an install cut short (an interrupted download) is redone
# by the next `make`, which uv resumes from its cache.
UV_VERSION := 0.13.9
TORCH_BACKEND ?=
COMPILE_BYTECODE ?= 1
$(STAMP): pyproject.toml requirements.lock
	@py="$(PYTHON)"; \
	if [ -n "$$py" ]; then \
	  command -v "$$py" >/dev/null 2>&1 || { echo "PYTHON=$$py: not found. $(UNSUPPORTED)."; exit 1; }; \
	  "$$py" -c '$(PY_SUPPORTED)' 2>/dev/null || { echo "PYTHON=$$py is Python $$("$$py" -c '$(PY_VERSION)' 2>/dev/null || echo '(does not run)'). $(UNSUPPORTED). Nothing was installed."; exit 1; }; \
	elif ! $(BIN)/python -c '$(PY_SUPPORTED)' 2>/dev/null; then \
	  for c in $(PYTHONS); do \
	    if "$$c" -c '$(PY_SUPPORTED)' >/dev/null 2>&1; then py=$$c; break; fi; \
	  done; \
	  [ -n "$$py" ] || { echo "No supported Python found. $(UNSUPPORTED)."; \
	    for c in $(PYTHONS); do v=$$("$$c" -c '$(PY_VERSION)' 2>/dev/null) && echo "  $$c is Python $$v"; done; \
	    echo "Install one (python.org, Homebrew, your package manager, pyenv or conda), then: make PYTHON=/path/to/python3.13"; exit 1; }; \
	fi; \
	if [ -e $(VENV) ] && [ -n "$$py" ] && [ "$$("$$py" -c '$(PY_VERSION)')" != "$$($(BIN)/python -c '$(PY_VERSION)' 2>/dev/null)" ]; then \
	  echo "replacing $(VENV) with one of Python $$("$$py" -c '$(PY_VERSION)') ($$py)"; rm -rf $(VENV); \
	elif [ -e $(VENV) ] && ! $(BIN)/python -m pip --version >/dev/null 2>&1; then \
	  echo "$(VENV) is incomplete (made by an interrupted venv?): making it again"; rm -rf $(VENV); \
	fi; \
	if [ ! -e $(VENV) ]; then echo "making $(VENV) with $$py (Python $$("$$py" -c '$(PY_VERSION)'))"; "$$py" -m venv $(VENV) || exit 1; fi; \
	rm -f $(STAMP)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	env $${PIP_FIND_LINKS:+UV_FIND_LINKS="$$PIP_FIND_LINKS"} $(BIN)/uv pip install --python $(BIN)/python \
	  --quiet $(if $(filter 1,$(COMPILE_BYTECODE)),--compile-bytecode) $(if $(TORCH_BACKEND),--torch-backend $(TORCH_BACKEND)) \
	  -c requirements.lock -e ".[dev]"
	@out=$$($(BIN)/python -c "import lib, numpy, torch, keras, jupyterlab, pytest" 2>&1) || { echo "$$out"; exit 1; }
	@$(LAB_SETTINGS)
	$(BIN)/python -c '$(PY_VERSION)' > $(STAMP)
	@echo "$(VENV): Python $$(cat $(STAMP)), the packages of requirements.lock"

FORCE:

# The universal lock: every package pinned once for every supported platform and Python, platform-only
# packages behind environment markers (uv's universal resolution; never edit requirements.lock by hand).
# Pins already in the lock are kept where they still satisfy pyproject.toml: edit pyproject.toml, then
# `make lock`; `make lock UPGRADE=1` moves every pin to its newest allowed version.
lock: env
	$(BIN)/python tests/platform_grid.py --make-lock $(if $(UPGRADE),--upgrade)

# The lock against pyproject.toml (fresh?) and on the 12 cells of the platform grid (Linux x86_64 and
# aarch64, macOS arm64, Windows x64; Python 3.11.5, 3.12, 3.13), binary wheels only. Needs the index.
check-lock: env
	@$(TIMED) $(BIN)/python tests/platform_grid.py

# The test session is pytest's, with the options in pyproject.toml ([tool.pytest.ini_options]) and the
# environment set by tests/session.py, so that `make test` and a plain `python -m pytest` (Windows,
# conda) run the same session: on two workers, every notebook at smoke (first: CI builds the book from
# them while the rest runs), the negative control, then the unit tests filling the gaps, each part
# longest first. `make unit`, `make notebooks` and `make negative-control` run one part each.
test: env
	@test -n "$(NOTEBOOKS)" || { echo "no notebooks/NN_*.ipynb found"; exit 1; }
	@$(TIMED) $(BIN)/python -m pytest

# Each phase prints how long it took (CI's log shows where the minutes go).
TIMED = start=$$(date +%s); trap 'echo "== $@ took $$(( $$(date +%s) - start )) s"' EXIT;

unit: env
	@$(TIMED) $(BIN)/python -m pytest -o python_files='test_*.py' tests

notebooks: env
	@test -n "$(NOTEBOOKS)" || { echo "no notebooks/NN_*.ipynb found"; exit 1; }
	@$(TIMED) $(BIN)/python -m pytest notebooks

# Each lecture at COURSE_SCALE=untrained: its learning-check cells must fail, all others pass.
negative-control: env
	@$(TIMED) $(BIN)/python -m pytest tests/negative_control.py

# Students work in workspace/ (never committed): the release's notebooks, copied there when missing,
# so that a new release never overwrites an answer. Instructors edit the lectures themselves.
LAB = $(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)
lab: env
	$(BIN)/python book/student.py --out $(BUILD)/student --workspace workspace
	$(LAB) workspace/

lab-solutions: env
	$(LAB) notebooks/

# The student release (book/student.py, with otter-grader's Otter Assign): each lecture with its
# exercises' solutions removed, the checks kept, in $(BUILD)/student/; Otter's autograders beside them.
student: env
	$(BIN)/python book/student.py --out $(BUILD)/student

# Grade a folder of submitted notebooks (book/grade.py: Otter's autograder, run without Docker):
# one row per submission, one column per checked exercise, written to SUBMISSIONS/grades.csv.
grade: env
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=path/to/folder/of/notebooks"; exit 1; }
	@test -d $(BUILD)/student/autograder || $(MAKE) --no-print-directory student
	$(BIN)/python book/grade.py "$(SUBMISSIONS)" --release $(BUILD)/student

# book/run.py (every lecture, JOBS at a time, each with its share of the cores; most lectures train on
# one thread anyway) clears the last run's results, executes into build/ and writes build/results.md.
# It drops MPLBACKEND for the kernels, so that figures render inline (CI sets it to Agg). ipykernel
# prints one warning per notebook that its kernel talks TCP on 127.0.0.1 without encryption:
# harmless for a local, single-user run.
JOBS ?= 2
run: env
	$(BIN)/python book/run.py --jobs $(JOBS) --build $(BUILD)
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
