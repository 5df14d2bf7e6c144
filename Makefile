# CivicPulse: the two commands users need are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv system-deps lint typecheck unit integration test demo demo-down bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tests drive for real: Prometheus, Alertmanager (promtool, amtool) and kcat.
system-deps:
	@bash deploy/install-system-deps.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests/unit -q

integration: venv system-deps
	$(BIN)/pytest tests/integration -q

test: venv system-deps lint typecheck
	$(BIN)/pytest -q

demo: venv
	@bash deploy/demo.sh

demo-down:
	@bash deploy/demo-down.sh

bench: venv
	$(BIN)/python benchmarks/worker_throughput.py

clean:
	rm -rf $(VENV) var build *.egg-info
