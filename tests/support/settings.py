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
    teams: list | None = None, region: str = "us-east-1", **extra: Any,
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
    config.update(extra)
    prod = extra.get("environment", stack) == "prod"
    if prod and "hostedZoneId" not in extra and config.get("domain"):
        config["hostedZoneId"] = "Z0123456789ABC"  # prod refuses a domain without its zone
    return {key: value for key, value in config.items() if value is not None}  # None: leave the key out


# What the README has an operator set before deploying prod (a value None leaves a key out).
OPERATOR_SECRETS: dict[str, dict[str, Any]] = {
    "prod": {"dockerHubCredentials": {"username": "gateway-pulls", "accessToken": "dckr_pat_FAKE-token"}},
}


def runtime_with_secrets(config: dict[str, Any], secrets: dict[str, Any] | None,
                         stack: str = "stg") -> tuple[dict[str, str], set[str]]:
    """The runtime config map plus `secrets` (key -> value) set as `pulumi config set --secret` would,
    over the stack's OPERATOR_SECRETS."""
    raw, secret_keys = to_runtime(config)
    environment = config.get("environment", stack)  # what an operator of that environment sets
    for key, value in {**OPERATOR_SECRETS.get(environment, {}), **(secrets or {})}.items():
        if value is None:
            continue
        raw[f"llm-gateway:{key}"] = value if isinstance(value, str) else json.dumps(value)
        secret_keys.add(f"llm-gateway:{key}")
    return raw, secret_keys


def make_settings(*, stack: str = "stg", secrets: dict[str, Any] | None = None, **kwargs: Any) -> Settings:
    raw, secret_keys = runtime_with_secrets(settings_config(stack=stack, **kwargs), secrets, stack)
    return load_settings(raw, secret_keys, stack=stack)


def stack_file_document(config: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    """A config (settings_config) and its secrets as the stack file holds them: namespaced keys,
    each secret leaf encrypted as `pulumi config set --secret [--path]` writes it."""
    def encrypted(value: Any) -> Any:
        return {k: encrypted(v) for k, v in value.items()} if isinstance(value, dict) else {"secure": "v1:AAAA"}
    plain = {key if ":" in key else f"llm-gateway:{key}": value for key, value in config.items()}
    return {"config": plain | {f"llm-gateway:{key}": encrypted(value) for key, value in secrets.items() if value is not None}}


def variant_documents() -> dict[str, dict[str, Any]]:
    """Every stack the unit tier runs (tests/support/variants.py), as its stack file, by variant name."""
    from tests.support import variants  # variants runs the program: only this needs it

    documents = {}
    for name, variant in vars(variants).items():
        if isinstance(variant, variants.Variant):
            environment = variant.config.get("environment", variant.stack)
            secrets = {**OPERATOR_SECRETS.get(environment, {}), **variant.secrets}
            documents[name] = stack_file_document(settings_config(stack=variant.stack, **variant.config), secrets)
    return documents
