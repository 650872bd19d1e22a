"""Run the whole program under recording mocks for a config built in the test."""

from __future__ import annotations

from typing import Any

from tests.support.pulumi_mocks import ProgramRun, run_program
from tests.support.settings import runtime_with_secrets, settings_config
from tests.support.stacks import runtime_config


def run_config(stack: str = "stg", secrets: dict | None = None, **overrides: Any) -> ProgramRun:
    """The program for a valid config with `overrides` (see tests.support.settings.settings_config)
    and secret config values `secrets`."""
    config, secret_keys = runtime_with_secrets(settings_config(stack=stack, **overrides), secrets)
    return run_program(stack, config, secret_keys)


def run_shipped(stack: str) -> ProgramRun:
    config, secret_keys = runtime_config(stack)
    return run_program(stack, config, secret_keys)
