# Two commands set everything up on a fresh machine with Python 3.11+ and make:
#   make run   - create .venv, install, start `conductor serve` on the embedded defaults
#   make test  - install dev dependencies, lint, type-check, run the whole test suite

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: run test lint lint-deploy typecheck pytest install install-dev bench clean

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

test: lint lint-deploy typecheck pytest

bench: install-dev
	$(BIN)/python benchmarks/ingest_storm.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info
