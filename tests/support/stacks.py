"""Shipped stack files, read into the form the Pulumi runtime hands the program.

A stack file cannot ship a secret (only its own stack's key decrypts one), so the tests add what an
operator sets with `pulumi config set --secret` before the first deploy, encrypted like Pulumi
stores it: `secure` leaves, which the reader reports as secret keys.
"""

from __future__ import annotations

from pathlib import Path

from config.loader import load_settings
from config.settings import Settings
from config.stack_file import stack_file_config, to_runtime

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_STACKS = ("stg", "prod")
# What the README's deploy prerequisites have the operator set, per stack.
OPERATOR_SECRETS: dict[str, dict] = {
    "prod": {"llm-gateway:dockerHubCredentials": {"username": {"secure": "v1:AAAA"}, "accessToken": {"secure": "v1:BBBB"}}},
}

__all__ = ["OPERATOR_SECRETS", "ROOT", "SHIPPED_STACKS", "runtime_config", "shipped_settings", "to_runtime"]


def runtime_config(stack: str) -> tuple[dict[str, str], set[str]]:
    return to_runtime({**stack_file_config(ROOT, stack), **OPERATOR_SECRETS.get(stack, {})})


def shipped_settings(stack: str) -> Settings:
    return load_settings(*runtime_config(stack), stack=stack)
