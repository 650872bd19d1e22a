#!/usr/bin/env bash
# Regenerate the hash-pinned lock files that every Python install uses (`pip install --require-hashes`):
#   requirements.lock      what `pulumi up` and the policy pack need: requirements.txt + policy/requirements.txt
#   requirements-dev.lock  what `make test` needs: requirements-dev.txt (includes requirements.txt) + the pack
#   scripts/lock-tools.lock  pip-tools, which this script runs
# Versions come from requirements*.txt and constraints.txt (-c), so re-locking moves no pin; each
# lock lists the sha256 of every file PyPI has for each pinned release (pip picks one, checks it).
# To change a dependency: edit requirements*.txt (and constraints.txt for a transitive pin),
# run `make lock`, commit all of them; tests/unit/test_locks.py fails while they disagree.
set -euo pipefail
cd "$(dirname "$0")/.."

# pip-tools in a throwaway venv, installed hash-checked from its own lock like .venv (never in it).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --require-hashes --no-deps -r scripts/lock-tools.lock

# Resolve against PyPI alone: no pip config file, local index, find-links or global constraint
# of this machine may leak a file (or a hash) that the public index does not serve. The lock holds
# every transitive dependency (extras' too), so installs run with --no-deps (see the Makefile).
lock() {
  local output=$1
  shift
  env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT -u PIP_NO_INDEX \
    PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" \
    "$work/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --no-strip-extras \
    --index-url https://pypi.org/simple --no-emit-index-url --no-emit-find-links \
    --output-file "$output" "$@"
}

lock requirements.lock --constraint constraints.txt requirements.txt policy/requirements.txt
lock requirements-dev.lock --constraint constraints.txt requirements-dev.txt policy/requirements.txt
# The tool's own lock: pip-tools' dependencies are not the program's, so constraints.txt does not apply.
lock scripts/lock-tools.lock scripts/lock-tools.txt
