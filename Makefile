# The two commands: `make run` serves the vault, `make test` runs the whole suite.
# Both set everything up first (venv with the worker's ML stack, Chromium and opencv-doc for the
# tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet

.PHONY: run test test-fast lint format chromium opencv-doc deploy-check lab

run: $(VENV)/.run-installed
	$(PY) -m vaultdev.run

test: $(VENV)/.dev-installed chromium opencv-doc
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

# The development loop: no browser, no real worker process, no notebooks or release restores
# (markers: pyproject.toml; set by tests/conftest.py from the fixtures a test uses).
test-fast: $(VENV)/.dev-installed
	$(PY) -m pytest -m "not browser and not worker and not slow"

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

$(PY):
	$(PYTHON) -m venv $(VENV)

# One venv for the web and the worker: the web process never imports the ML stack (a test
# proves it), the worker loads it once per process.
$(VENV)/.run-installed: $(PY) requirements/base.txt requirements/run.txt requirements/ml.txt
	$(PIP) -r requirements/run.txt -r requirements/ml.txt
	touch $@

# JupyterLab on the training notebooks (the data scientist's one command). LAB_ARGS passes
# options through, e.g. make lab LAB_ARGS="--no-browser --ip=0.0.0.0 --port=8890".
LAB_ARGS ?=
lab: $(VENV)/.training-installed
	$(PY) -m jupyterlab --ServerApp.root_dir=training/notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

$(VENV)/.training-installed: $(VENV)/.run-installed requirements/training.txt
	$(PIP) -r requirements/training.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed requirements/dev.txt requirements/notebooks.txt
	$(PIP) -r requirements/dev.txt
	touch $@

# Browser tests drive Debian's Chromium (Playwright's own browser download needs the internet).
# Real photos for the tagger's evaluation and tests (DESIGN §10): Debian's OpenCV samples.
opencv-doc:
	@if [ -d /usr/share/doc/opencv-doc/examples/data ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing opencv-doc from apt (sample photos for the tagger tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq opencv-doc >/dev/null; \
	else \
		echo "NOTE: opencv-doc is missing and you are not root: its photos are left out of the tests."; \
	fi

chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium from apt for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "NOTE: /usr/bin/chromium is missing and you are not root: browser tests will be skipped."; \
		echo "      Install it with: sudo apt-get install chromium"; \
	fi

# Outside CI (needs root and about 20 minutes): applies deploy/ansible to a disposable Debian 12
# machine (debootstrap + systemd-nspawn) and uses the vault it serves over HTTPS (deploy/check.py).
deploy-check: $(VENV)/.dev-installed
	$(PY) deploy/check.py
