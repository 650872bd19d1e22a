# One entry point for people and CI. `make test` sets up everything it needs on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
STACK ?= stg
INSTALLED := $(VENV)/.installed

.PHONY: test unit integration render bench clean

$(INSTALLED): requirements.txt requirements-dev.txt constraints.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

## Every test: config and renderers, Pulumi mocks, and the real tools (LiteLLM proxy, ...).
test: $(INSTALLED)
	$(PYTHON) -m pytest

## The fast tier only: no real tools started.
unit: $(INSTALLED)
	$(PYTHON) -m pytest -m "not integration"

integration: $(INSTALLED)
	$(PYTHON) -m pytest -m integration

## Write every generated artifact of STACK under build/STACK/ (no cloud credentials needed).
render: $(INSTALLED)
	$(PYTHON) scripts/render.py $(STACK)

## Print wall times of the unit tier and of one mocked program run.
bench: $(INSTALLED)
	$(PYTHON) scripts/bench.py

clean:
	rm -rf build .pytest_cache
