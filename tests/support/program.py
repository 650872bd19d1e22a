"""Run the whole program under recording mocks for a config built in the test.

A run is a pure function of its config (the mocks answer deterministically, apart from the random
values they generate), so runs are shared between the tests that ask for the same config: treat
a ProgramRun as read-only. The processes of a session share them too (pytest-xdist's workers, `make
unit`'s processes): the first to need a config runs it and leaves it pickled in a directory of the
session (tests/conftest.py) for the others.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pickle
from functools import cache
from pathlib import Path
from typing import Any

from tests.support.pulumi_mocks import ProgramRun, RecordingMocks, run_program
from tests.support.settings import runtime_with_secrets, settings_config
from tests.support.stacks import runtime_config

_shared: list[Path] = []  # where workers of this session leave their runs (set by tests/conftest.py)


def share_runs_in(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    _shared[:] = [directory]


def run_config(stack: str = "stg", secrets: dict | None = None, **overrides: Any) -> ProgramRun:
    """The program for a valid config with `overrides` (see tests.support.settings.settings_config)
    and secret config values `secrets`."""
    config, secret_keys = runtime_with_secrets(settings_config(stack=stack, **overrides), secrets, stack)
    return _run(stack, json.dumps(config, sort_keys=True), tuple(sorted(secret_keys)))


def run_shipped(stack: str, ssm_parameters: dict[str, str] | None = None) -> ProgramRun:
    """A shipped stack; `ssm_parameters` (name -> value) answer those SSM lookups otherwise, e.g. a
    newer Ubuntu image."""
    config, secret_keys = runtime_config(stack)
    return _run(stack, json.dumps(config, sort_keys=True), tuple(sorted(secret_keys)),
                tuple(sorted((ssm_parameters or {}).items())))


@cache
def _run(stack: str, config: str, secret_keys: tuple[str, ...],
         ssm_parameters: tuple[tuple[str, str], ...] = ()) -> ProgramRun:
    if not _shared:
        return _program(stack, config, secret_keys, ssm_parameters)
    key = hashlib.sha256(json.dumps([stack, config, secret_keys, ssm_parameters]).encode()).hexdigest()
    path = _shared[0] / f"{key}.pickle"
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a worker needing a run another one is making waits for it
        if path.exists():
            return pickle.loads(path.read_bytes())
        run = _program(stack, config, secret_keys, ssm_parameters)
        partial = path.with_suffix(f".{os.getpid()}")
        partial.write_bytes(pickle.dumps(run))
        partial.replace(path)
        return run


def _program(stack: str, config: str, secret_keys: tuple[str, ...],
             ssm_parameters: tuple[tuple[str, str], ...]) -> ProgramRun:
    values = json.loads(config)
    mocks = RecordingMocks(region=values.get("aws:region", "us-east-1"), ssm_parameters=dict(ssm_parameters))
    return run_program(stack, values, set(secret_keys), mocks=mocks)
