"""The one place that reads Pulumi stack config: hands the raw map to the pure loader."""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from config.loader import load_settings
from config.settings import Settings


def read_settings() -> Settings:
    """Every key of the running stack's config, validated into Settings (raises on bad input)."""
    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = {key for key in raw if runtime_config.is_config_secret(key)}
    secret_keys |= set(runtime_config.get_config_secret_keys_env())
    return load_settings(raw, secret_keys, stack=pulumi.get_stack(), project=pulumi.get_project())
