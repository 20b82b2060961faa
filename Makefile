# The course's two commands:
#   make lab    create .venv when missing, install the course (editable), open JupyterLab on notebooks/
#   make test   same environment; unit tests, then every notebook executed with nbval in quick mode
# Both print what they do. A second run with nothing changed does not reinstall.
# Measuring (README "Results"): make bench, make bench-quick, make full, make results.

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.labs-installed
SITE_STAMP := $(VENV)/.labs-site-installed
FULL     ?=
LAB_ARGS ?=
# Jupyter refuses to run as root (containers, CI) unless told to.
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=

export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.PHONY: lab test test-gpu-shape test-site site unit notebooks install browser-deps lint clean-notebooks doctor help bench bench-quick full results

help:
	@echo "make lab    - install (first time) and open JupyterLab on the course"
	@echo "make test   - every test; every notebook executed once in quick mode (graded with the solutions)"
	@echo "make unit   - the fast tier of the tests (no kernels, browsers or training subprocesses)"
	@echo "make notebooks - every notebook in quick mode with nbval"
	@echo "make test-gpu-shape - every notebook in quick mode as a GPU machine runs it: mixed_float16, then also 2 replicas"
	@echo "make site   - the course website from freshly executed notebooks: build/site/html (FULL=1: full settings)"
	@echo "make test-site - the built website in headless Chromium: every page, its figures, links and search"
	@echo "make doctor - versions, device profile, data sets"
	@echo "make bench  - every benchmark: a table and benchmarks/results/*.json (about 15 min on 2 cores)"
	@echo "make bench-quick - the benchmarks at small sizes (under 5 min); fails only if a figure is missing"
	@echo "make full   - every notebook with full settings: benchmarks/results/course-full.json"
	@echo "make results - write the README's results section from benchmarks/results/"
	@echo "make clean-notebooks - strip outputs and execution counts from notebooks/"

$(PY):
	@echo "==> creating the virtual environment $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml | $(PY)
	@echo "==> installing the course (labs_lib, editable, with test tools) into $(VENV)"
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)
	@echo "==> installed"

# The website's tools (Sphinx, MyST-NB, sphinx-book-theme): only make site needs them.
$(SITE_STAMP): pyproject.toml $(STAMP)
	@echo "==> installing the website's tools (the site extra: Sphinx, MyST-NB, sphinx-book-theme)"
	$(PY) -m pip install --quiet -e '.[dev,site]'
	@touch $(SITE_STAMP)

install: $(STAMP)
	@echo "==> environment $(VENV) is up to date"

lab: install
	@echo "==> starting JupyterLab on notebooks/ (stop it with Ctrl-C)"
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ROOT_ARGS) $(LAB_ARGS)

doctor: install
	$(VENV)/bin/labs doctor

# The browser test (tests/test_browser.py) drives JupyterLab with Playwright (a dev dependency) and the
# system's Chromium, never `playwright install`. On Debian/Ubuntu the Chromium package is installed when
# missing (as root, or with password-less sudo); when it cannot be, the test is skipped and says why.
APT_INSTALL := env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq
browser-deps:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
		echo "==> Chromium for the browser test: $$(command -v chromium || command -v chromium-browser)"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "==> Chromium not found and no apt-get here: the browser test will be SKIPPED (install Chromium or set LABS_CHROMIUM)"; \
	else \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi; \
		if [ "$$SUDO" = none ]; then \
			echo "==> Chromium not found; installing it needs root: run 'sudo apt-get install chromium'. The browser test will be SKIPPED"; \
		else \
			echo "==> installing Chromium for the browser test (apt-get install chromium)"; \
			$$SUDO $(APT_INSTALL) chromium >/dev/null 2>&1 \
			|| ($$SUDO apt-get update -qq >/dev/null 2>&1 && $$SUDO $(APT_INSTALL) chromium >/dev/null 2>&1) \
			|| $$SUDO $(APT_INSTALL) chromium-browser >/dev/null 2>&1 \
			|| echo "==> could not install Chromium with apt-get: the browser test will be SKIPPED"; \
		fi; \
	fi

# One pytest run: every test. The course is executed once, in tests/test_grading_roundtrip.py: every notebook,
# released and filled with the solutions, is graded, and any cell that raises fails it (as nbval would).
test: install browser-deps
	@echo "==> running every test, two test modules at a time; every notebook runs once in quick mode (LABS_QUICK=1, offline-safe), graded"
	LABS_QUICK=1 $(PY) -m pytest tests -m "not site" -n 2 --dist loadscope --durations=15 $(PYTEST_ARGS)

# The fast tier: no kernels, no browsers, no subprocess training (pytest -m "not kernel and not slow").
unit: install
	LABS_QUICK=1 $(PY) -m pytest tests -m "not kernel and not slow and not site" $(PYTEST_ARGS)

# Two notebooks at a time (pytest-xdist, one kernel per worker; --dist loadfile keeps a notebook's cells in one
# kernel): a quick notebook is mostly start-up and small ops, so two at once take about 0.6 of the time on 2 cores.
NBVAL := $(PY) -m pytest notebooks --nbval-lax --nbval-current-env --nbval-cell-timeout=300 -n 2 --dist loadfile $(PYTEST_ARGS)

# nbval on every notebook, as it runs for a student (make test executes them through the grader instead).
notebooks: install
	LABS_QUICK=1 $(NBVAL)

# What a GPU machine runs, simulated on the CPU (labs_lib.device reads LABS_PRECISION and LABS_REPLICAS): every
# notebook in quick mode under the mixed_float16 policy setup() picks on tensor-core GPUs, then again with two
# replicas under MirroredStrategy (logical CPU devices), as on a machine with two GPUs.
test-gpu-shape: install
	@echo "==> every notebook in quick mode as on one GPU (LABS_PRECISION=mixed_float16)"
	LABS_QUICK=1 LABS_PRECISION=mixed_float16 $(NBVAL)
	@echo "==> every notebook in quick mode as on two GPUs (LABS_PRECISION=mixed_float16 LABS_REPLICAS=2)"
	LABS_QUICK=1 LABS_PRECISION=mixed_float16 LABS_REPLICAS=2 $(NBVAL)

# The course website (labs_lib/site.py, site/conf.py): every lesson executed for the purpose (two at a time, quick
# mode unless FULL=1; a cell that raises fails the build), then Sphinx with MyST-NB. Output in build/site/html.
site: $(SITE_STAMP)
	$(VENV)/bin/labs site $(if $(FULL),--full,)

# The built site in headless Chromium, served on 127.0.0.1 (tests/test_site.py, marker site).
test-site: $(SITE_STAMP) browser-deps
	$(PY) -m pytest tests/test_site.py -m site -q $(PYTEST_ARGS)

# Benchmarks (benchmarks/): figures printed and written to benchmarks/results/ (quick: results/quick/).
bench: install
	$(VENV)/bin/labs bench

bench-quick: install
	$(VENV)/bin/labs bench --quick

# Every notebook with full settings; the figures they record go to benchmarks/results/course-full.json.
full: install
	$(VENV)/bin/labs run --full

results: install
	$(VENV)/bin/labs results --write-readme

lint: install
	$(VENV)/bin/ruff check labs_lib tests benchmarks

clean-notebooks: install
	$(VENV)/bin/labs clean notebooks
