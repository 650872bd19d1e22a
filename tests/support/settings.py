"""Build Settings for tests through the real loader, so tests never bypass validation."""

from __future__ import annotations

import json
from typing import Any

from config.loader import load_settings
from config.settings import Settings
from tests.support.stacks import to_runtime

DEFAULT_MODELS = [
    {"name": "sonnet", "bedrockModel": "us.anthropic.claude-sonnet-4-20250514-v1:0"},
    {"name": "titan", "bedrockModel": "amazon.titan-embed-text-v2:0"},
]


def settings_config(
    *, stack: str = "stg", compute: str = "ecs", models: list | None = None,
    teams: list | None = None, existing_keys: dict | None = None, region: str = "us-east-1",
    **extra: Any,
) -> dict[str, Any]:
    """A valid stack-file config with the given overrides (camelCase keys in `extra`)."""
    config: dict[str, Any] = {
        "aws:region": region,
        "compute": compute,
        "domain": "llm.example.com",
        "allowedCidrs": ["10.0.0.0/8"],
        "models": DEFAULT_MODELS if models is None else models,
        "teams": [] if teams is None else teams,
    }
    if existing_keys is not None:
        config["existingLangfuseKeys"] = {
            team: {key: {"secure": "x"} for key in pair} for team, pair in existing_keys.items()
        }
    config.update(extra)
    return {key: value for key, value in config.items() if value is not None}  # None: leave the key out


def make_settings(*, stack: str = "stg", existing_keys: dict | None = None, **kwargs: Any) -> Settings:
    config = settings_config(stack=stack, existing_keys=existing_keys, **kwargs)
    raw, secret_keys = to_runtime(config)
    if existing_keys:  # the stubbed secure values stand in for these real test values
        raw["llm-gateway:existingLangfuseKeys"] = json.dumps(existing_keys)
    return load_settings(raw, secret_keys, stack=stack)
