# Three commands set everything up on a fresh machine with Python 3.11+ and make:
#   make run   - create .venv, install, start `conductor serve` on the embedded defaults
#   make demo  - the same plus a local AWS (moto): alerts -> incidents -> decisions -> runs -> KPIs
#   make test  - install dev dependencies, lint, type-check, run the whole test suite

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: run demo test lint lint-deploy typecheck pytest browser install install-dev bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@echo "==> creating a virtual environment in $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "==> installing Cloud Conductor and its dependencies into $(VENV)"
	@echo "    (the first time takes a few minutes: the cloud SDKs, numba, matplotlib; pip's own output follows)"
	$(BIN)/pip install --progress-bar on -e .
	@touch $@
	@echo "==> installed: $(BIN)/conductor (try $(BIN)/conductor --help)"

$(VENV)/.installed-demo: pyproject.toml | $(VENV)/.installed
	@echo "==> installing the demo's local AWS (moto)"
	$(BIN)/pip install --quiet -e '.[demo]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	@echo "==> starting conductor serve on the embedded defaults (store: ./var; Ctrl-C stops it)"
	@echo "    next: the web console at http://127.0.0.1:8080/ui/ (sign in with an API token: README, Web console)"
	@echo "          send an alert: curl -XPOST localhost:8080/webhooks/generic -H 'content-type: application/json' -d '{\"name\":\"DiskFull\",\"status\":\"firing\"}'"
	@echo "          then: $(BIN)/conductor incidents list · make demo shows the whole loop with a local AWS"
	$(BIN)/conductor serve $(ARGS)

# A walk-through with no cloud account: a local AWS (moto), config.demo.toml, two alerts, a scale-out
# that runs on its own, a reboot that waits for you in the console, and the KPIs.
demo: $(VENV)/.installed-demo
	$(BIN)/python -m bot.demo $(ARGS)

lint: install-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/python .ci/import_cycles.py

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
