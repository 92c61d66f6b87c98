# Quick start: `make demo` and `make test` on a fresh machine with only Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/aigw-policy lint examples/
	$(BIN)/aigw-policy fmt --check examples/*.aigw
	$(BIN)/aigw-policy convert examples/team-model-access.aigw --to yaml
	$(BIN)/aigw-policy explain examples/requests/acme-research-near-limit.json --policy examples/acme-gateway.aigw

# Conformance data and services live beside the checkout (../shared, local Redis/PostgreSQL):
# without them the tests that need them skip with their reason (-rs lists them); under
# CI=true a missing one is a failure.
test: $(STAMP)
	$(BIN)/python tests/conformance/run.py
	$(BIN)/python -m pytest -rs

clean:
	rm -rf $(VENV) build *.egg-info
