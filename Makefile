# The two commands: `make run` serves the vault, `make test` runs the whole suite.
# Both set everything up first (venv, requirements, Chromium for browser tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet

.PHONY: run test lint format chromium

run: $(VENV)/.run-installed
	$(PY) -m vaultdev.run

test: $(VENV)/.dev-installed chromium
	$(PY) -m pytest

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-installed: $(PY) requirements/base.txt requirements/run.txt
	$(PIP) -r requirements/run.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed requirements/dev.txt
	$(PIP) -r requirements/dev.txt
	touch $@

# Browser tests drive Debian's Chromium (Playwright's own browser download needs the internet).
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium from apt for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "NOTE: /usr/bin/chromium is missing and you are not root: browser tests will be skipped."; \
		echo "      Install it with: sudo apt-get install chromium"; \
	fi
