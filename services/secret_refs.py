"""Logical names of the secrets the platform generates, and the JSON keys inside them.

Renderers and service specs refer to secrets only through `SecretRef`; each platform maps the
logical name to a Secrets Manager ARN (`arn:...:secret:<name>:<key>::` in ECS `valueFrom`, or a
boot-time fetch on the EC2 host). One JSON secret per consumer keeps every reference narrow.
"""

from __future__ import annotations

from dataclasses import dataclass

LITELLM = "litellm"  # masterKey, saltKey, databasePassword, databaseUrl
LANGFUSE = "langfuse"  # nextauthSecret, salt, encryptionKey, databasePassword, adminPassword
POSTGRES = "postgres"  # username, password (RDS master user)
CLICKHOUSE = "clickhouse"  # user, password
REDIS = "redis"  # authToken
PLATFORM_KEYS = "langfuse-keys/platform"  # publicKey, secretKey
# What the operator supplies for Langfuse (services/langfuse_access.py), only when configured:
# ssoClientSecret, eeLicenseKey.
LANGFUSE_EXTERNAL = "langfuse-external"
DOCKER_HUB = "docker-hub"  # username, password: ECS's private registry format (from stack config)
# What the operator supplies for LiteLLM, only when configured: licenseKey (LITELLM_LICENSE).
LITELLM_EXTERNAL = "litellm-external"


TEAM_KEYS_PREFIX = "langfuse-keys/teams/"
# Every team's key secret at once, for IAM only: one name-prefix wildcard ARN
# (`arn:aws:secretsmanager:<region>:<account>:secret:<stack prefix>/langfuse-keys/teams/*`) keeps
# each policy the same size for 1 team or 200.
TEAM_KEYS = f"{TEAM_KEYS_PREFIX}*"


def team_keys(team: str) -> str:
    """The secret holding one team's Langfuse key pair: publicKey, secretKey."""
    return f"{TEAM_KEYS_PREFIX}{team}"


TEAM_LITELLM_KEYS_PREFIX = "litellm-keys/teams/"
# Every team's LiteLLM virtual keys at once, for IAM only (the team plane reads them): one wildcard.
TEAM_LITELLM_KEYS = f"{TEAM_LITELLM_KEYS_PREFIX}*"


def team_litellm_key(team: str, key: str) -> str:
    """The secret holding one of a team's LiteLLM virtual keys: apiKey."""
    return f"{TEAM_LITELLM_KEYS_PREFIX}{team}/{key}"


def granted(secret: str) -> str:
    """The name an IAM policy grants `secret` under: a team's pair through TEAM_KEYS."""
    return TEAM_KEYS if secret.startswith(TEAM_KEYS_PREFIX) else secret


@dataclass(frozen=True, order=True)
class SecretRef:
    secret: str  # logical secret name, one of the above
    key: str  # JSON key inside that secret
