"""Run the whole program under recording mocks for a config built in the test.

A run is a pure function of its config (the mocks answer deterministically, apart from the random
values they generate), so runs are shared between the tests that ask for the same config: treat
a ProgramRun as read-only.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from tests.support.pulumi_mocks import ProgramRun, run_program
from tests.support.settings import runtime_with_secrets, settings_config
from tests.support.stacks import runtime_config


def run_config(stack: str = "stg", secrets: dict | None = None, **overrides: Any) -> ProgramRun:
    """The program for a valid config with `overrides` (see tests.support.settings.settings_config)
    and secret config values `secrets`."""
    config, secret_keys = runtime_with_secrets(settings_config(stack=stack, **overrides), secrets, stack)
    return _run(stack, json.dumps(config, sort_keys=True), tuple(sorted(secret_keys)))


def run_shipped(stack: str) -> ProgramRun:
    config, secret_keys = runtime_config(stack)
    return _run(stack, json.dumps(config, sort_keys=True), tuple(sorted(secret_keys)))


@cache
def _run(stack: str, config: str, secret_keys: tuple[str, ...]) -> ProgramRun:
    return run_program(stack, json.loads(config), set(secret_keys))
