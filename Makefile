# Two commands set everything up on a fresh machine with Python 3.11+ and make:
#   make run   - create .venv, install, start `conductor serve` on the embedded defaults
#   make test  - install dev dependencies, lint, type-check, run the whole test suite

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: run demo test lint lint-deploy typecheck pytest browser install install-dev bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/conductor serve $(ARGS)

lint: install-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

# Deploy recipes: the Dockerfile (hadolint), the compose files (the Compose specification's JSON
# schema) and the Kubernetes manifests (their OpenAPI schemas, strict). All offline.
lint-deploy: install-dev
	$(BIN)/hadolint Dockerfile
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec deploy/compose/compose.yaml deploy/compose/compose.socket-mode.yaml
	$(BIN)/kubernetes-validate --strict --quiet $(filter-out deploy/kubernetes/kustomization.yaml,$(wildcard deploy/kubernetes/*.yaml))

typecheck: install-dev
	$(BIN)/mypy bot detectors runbooks integrations

pytest: install-dev
	$(BIN)/pytest $(ARGS)

# The web console's browser test drives Debian's chromium (Playwright, no browser download).
# Installed here when missing (root or sudo); without it the test skips locally and fails in CI.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	echo "installing Debian's chromium for the web console's browser test (apt-get install chromium)"; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=none; fi; \
	if [ "$$SUDO" != none ] && command -v apt-get >/dev/null 2>&1; then \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; \
	else \
	  echo "cannot install chromium here (no apt-get, or not root and no sudo): the browser test will be skipped"; \
	  [ "$${CI:-}" != true ]; \
	fi

test: lint lint-deploy typecheck browser pytest

bench: install-dev
	$(BIN)/python benchmarks/ingest_storm.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info
