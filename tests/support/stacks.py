"""Shipped stack files, read into the form the Pulumi runtime hands the program."""

from __future__ import annotations

from pathlib import Path

from config.stack_file import stack_file_config, to_runtime

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_STACKS = ("stg", "prod")

__all__ = ["ROOT", "SHIPPED_STACKS", "runtime_config", "to_runtime"]


def runtime_config(stack: str) -> tuple[dict[str, str], set[str]]:
    return to_runtime(stack_file_config(ROOT, stack))
