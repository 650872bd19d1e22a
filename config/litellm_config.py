"""Render the LiteLLM proxy config (settings -> YAML text) and its environment contract.

The rendered file never holds a secret: every credential is an `os.environ/<VAR>` reference,
and `ProxyConfig.env` says which variables the container must receive (secret ones by
reference). Each team's traces go to that team's Langfuse project through
`default_team_settings`; calls without a team go to the platform project.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from config import secret_refs
from config.secret_refs import SecretRef
from config.settings import Settings, Team

PORT = 4000
LANGFUSE_HOST_VAR = "LANGFUSE_HOST"
REQUEST_TIMEOUT_SECONDS = 600  # long completions and streams; the load balancer idles out later


@dataclass(frozen=True)
class EnvContract:
    """What a container running this config must get: secret vars by reference, plain vars by name."""

    secrets: Mapping[str, SecretRef]
    plain: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted((*self.secrets, *self.plain)))


@dataclass(frozen=True)
class ProxyConfig:
    text: str
    env: EnvContract


def team_key_vars(team: Team) -> tuple[str, str]:
    """(public, secret) key variable names for a team, e.g. LANGFUSE_PUBLIC_KEY_HOME_RENTALS."""
    return f"LANGFUSE_PUBLIC_KEY_{team.env_suffix}", f"LANGFUSE_SECRET_KEY_{team.env_suffix}"


def _env(var: str) -> str:
    return f"os.environ/{var}"


def render_proxy_config(settings: Settings) -> ProxyConfig:
    secrets: dict[str, SecretRef] = {
        "LITELLM_MASTER_KEY": SecretRef(secret_refs.LITELLM, "masterKey"),
        "LITELLM_SALT_KEY": SecretRef(secret_refs.LITELLM, "saltKey"),
        "DATABASE_URL": SecretRef(secret_refs.LITELLM, "databaseUrl"),
        # The platform project: read by the Langfuse SDK itself for calls without a team.
        "LANGFUSE_PUBLIC_KEY": SecretRef(secret_refs.PLATFORM_KEYS, "publicKey"),
        "LANGFUSE_SECRET_KEY": SecretRef(secret_refs.PLATFORM_KEYS, "secretKey"),
    }
    team_settings = []
    for team in settings.teams:
        public_var, secret_var = team_key_vars(team)
        secrets[public_var] = SecretRef(secret_refs.team_keys(team.name), "publicKey")
        secrets[secret_var] = SecretRef(secret_refs.team_keys(team.name), "secretKey")
        team_settings.append({
            "team_id": team.name,
            "success_callback": ["langfuse"],
            "langfuse_public_key": _env(public_var),
            "langfuse_secret_key": _env(secret_var),
            "langfuse_host": _env(LANGFUSE_HOST_VAR),
        })

    document = {
        "model_list": [
            {
                "model_name": model.name,
                "litellm_params": {
                    "model": f"bedrock/{model.bedrock_model}",
                    "aws_region_name": model.region,
                },
            }
            for model in settings.models
        ],
        "router_settings": {
            "routing_strategy": "simple-shuffle",
            "num_retries": 2,
            "timeout": REQUEST_TIMEOUT_SECONDS,
            "allowed_fails": 3,
            "cooldown_time": 30,
        },
        "litellm_settings": {
            "drop_params": True,
            "request_timeout": REQUEST_TIMEOUT_SECONDS,
            "success_callback": ["langfuse"],
            "default_team_settings": team_settings,
        },
        "general_settings": {
            "master_key": _env("LITELLM_MASTER_KEY"),
            "database_url": _env("DATABASE_URL"),
            # Models live in this file only: nobody adds one through the UI behind code's back.
            "store_model_in_db": False,
        },
    }
    header = f"# LiteLLM proxy config for {settings.project}-{settings.stack}: rendered by config/litellm_config.py, do not edit.\n"
    text = header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=120)
    return ProxyConfig(text=text, env=EnvContract(secrets=secrets, plain=(LANGFUSE_HOST_VAR,)))
