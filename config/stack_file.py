"""Read a `Pulumi.<stack>.yaml` file into the form the Pulumi runtime hands the program.

Used where no Pulumi engine runs: the offline renderer (`make render`) and the tests. Encrypted
(`secure:`) values cannot be decrypted here, so they are replaced by a placeholder and their
keys are reported as secret, exactly as the engine would report them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from config.loader import load_settings
from config.settings import NAMESPACE, Settings

SECURE_PLACEHOLDER = "secure-value-not-decrypted"


def _contains_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_contains_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secure(v) for v in value)
    return False


def _stub_secure(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECURE_PLACEHOLDER
        return {k: _stub_secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stub_secure(v) for v in value]
    return value


def to_runtime(config: dict[str, Any], project: str = NAMESPACE) -> tuple[dict[str, str], set[str]]:
    """Stack-file config -> (runtime config map of text values, secret keys)."""
    runtime, secret_keys = {}, set()
    for key, value in config.items():
        full_key = key if ":" in key else f"{project}:{key}"
        if _contains_secure(value):
            secret_keys.add(full_key)
            value = _stub_secure(value)
        if isinstance(value, (dict, list)):
            runtime[full_key] = json.dumps(value)
        elif isinstance(value, bool):
            runtime[full_key] = "true" if value else "false"
        else:
            runtime[full_key] = str(value)
    return runtime, secret_keys


def stack_file_config(root: Path, stack: str) -> dict[str, Any]:
    # libyaml's parser (PyYAML's wheels carry it): the same document, read several times faster.
    return yaml.load((root / f"Pulumi.{stack}.yaml").read_text(), Loader=yaml.CSafeLoader).get("config", {})


def settings_from_stack_file(root: Path, stack: str) -> Settings:
    raw, secret_keys = to_runtime(stack_file_config(root, stack))
    return load_settings(raw, secret_keys, stack=stack)
