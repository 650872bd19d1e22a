"""Run the whole program under recording mocks for a config built in the test."""

from __future__ import annotations

import json
from typing import Any

from tests.support.pulumi_mocks import ProgramRun, run_program
from tests.support.settings import settings_config
from tests.support.stacks import runtime_config, to_runtime


def run_config(stack: str = "stg", existing_keys: dict | None = None, **overrides: Any) -> ProgramRun:
    """The program for a valid config with `overrides` (see tests.support.settings.settings_config)."""
    config, secret_keys = to_runtime(settings_config(stack=stack, existing_keys=existing_keys, **overrides))
    if existing_keys:
        config["llm-gateway:existingLangfuseKeys"] = json.dumps(existing_keys)
    return run_program(stack, config, secret_keys)


def run_shipped(stack: str) -> ProgramRun:
    config, secret_keys = runtime_config(stack)
    return run_program(stack, config, secret_keys)
