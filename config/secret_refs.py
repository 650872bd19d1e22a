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
# What the operator supplies for Langfuse (config/langfuse_access.py), only when configured:
# ssoClientSecret, eeLicenseKey.
LANGFUSE_EXTERNAL = "langfuse-external"
DOCKER_HUB = "docker-hub"  # username, password: ECS's private registry format (from stack config)


def team_keys(team: str) -> str:
    """The secret holding one team's Langfuse key pair: publicKey, secretKey."""
    return f"langfuse-keys/teams/{team}"


@dataclass(frozen=True, order=True)
class SecretRef:
    secret: str  # logical secret name, one of the above
    key: str  # JSON key inside that secret
