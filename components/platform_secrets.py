"""The applications' generated secrets, in the exact formats each one demands.

| secret (logical name) | keys | format |
| --- | --- | --- |
| litellm | masterKey | `sk-` + 48 hex chars (LiteLLM requires the `sk-` prefix) |
| litellm | saltKey | `sk-` + 64 hex chars; encrypts stored credentials, never rotated |
| litellm | uiUsername, uiPassword | `admin`, 32 alphanumerics: the admin UI's login, apart from the master key |
| litellm / langfuse | databasePassword | 32 alphanumerics (pasted into URLs) |
| litellm / langfuse | databaseUrl | `postgresql://<app>:<password>@<host>:5432/<app>?sslmode=require` |
| langfuse | nextauthSecret, salt | 32 random bytes, base64 (SALT hashes API keys: never rotated) |
| langfuse | encryptionKey | exactly 64 hex chars (256 bits) |
| langfuse | adminPassword | 32 alphanumerics |
| clickhouse | user, password, passwordForUrl | `langfuse`, 32 alphanumerics; or the external ClickHouse's, from secret config; the password percent-encoded (Langfuse's migration URL) |
| redis | authToken | 64 alphanumerics (ElastiCache allows 16-128) |
| langfuse-external | ssoClientSecret, eeLicenseKey | from secret config, only the configured ones; no secret without any |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_random as random

from components.base import GatewayComponent
from components.secret_json import create_json_secret
from services import secret_refs
from services.langfuse_schema import url_query_value
from services.specs import CLICKHOUSE_PASSWORD_FOR_URL, CLICKHOUSE_USER, POSTGRES_PORT
from config.settings import ClickhouseSettings, SecretText

LITELLM_UI_USERNAME = "admin"


@dataclass(frozen=True)
class PlatformSecretsArgs:
    name_prefix: str
    kms_key_arn: pulumi.Input[str]
    database_address: pulumi.Input[str]
    protect: bool
    clickhouse: ClickhouseSettings
    # Langfuse values the operator supplies (services.langfuse_access.external_secret_values).
    langfuse_external: Mapping[str, SecretText] = field(default_factory=dict)
    # LiteLLM values the operator supplies: its licence (renderers/litellm_proxy.py LITELLM_LICENSE_KEY).
    litellm_external: Mapping[str, SecretText] = field(default_factory=dict)


class PlatformSecrets(GatewayComponent):
    def __init__(self, name: str, args: PlatformSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self._args = args
        litellm_db_password = self._alphanumeric("litellm-db-password", 32)
        langfuse_db_password = self._alphanumeric("langfuse-db-password", 32)
        self.arns: dict[str, pulumi.Output[str]] = {}
        self.versions: dict[str, pulumi.Output[str]] = {}
        # The deploy itself uses the master key: LiteLLM teams are managed through the admin API.
        self.litellm_master_key = pulumi.Output.secret(
            pulumi.Output.concat("sk-", self._random_bytes("litellm-master-key", 24).hex)
        )
        self._store(secret_refs.LITELLM, "LiteLLM proxy: master key, salt key, database, admin UI login", {
            "masterKey": self.litellm_master_key,
            "uiUsername": LITELLM_UI_USERNAME,
            "uiPassword": self._alphanumeric("litellm-ui-password", 32),
            "saltKey": pulumi.Output.concat("sk-", self._random_bytes("litellm-salt-key", 32).hex),
            "databasePassword": litellm_db_password,
            "databaseUrl": self._database_url("litellm", litellm_db_password),
        })
        self._store(secret_refs.LANGFUSE, "Langfuse: auth, salt, encryption key, database, admin", {
            "nextauthSecret": self._random_bytes("langfuse-nextauth-secret", 32).b64_std,
            "salt": self._random_bytes("langfuse-salt", 32).b64_std,
            "encryptionKey": self._random_bytes("langfuse-encryption-key", 32).hex,
            "databasePassword": langfuse_db_password,
            "databaseUrl": self._database_url("langfuse", langfuse_db_password),
            "adminPassword": self._alphanumeric("langfuse-admin-password", 32),
        })
        clickhouse = args.clickhouse
        if clickhouse.hosted:
            password = self._alphanumeric("clickhouse-password", 32)
            # Alphanumerics: percent-encoding leaves them as they are.
            user, password_for_url = CLICKHOUSE_USER, password
        else:
            password = pulumi.Output.secret(clickhouse.external_password.reveal())
            user, password_for_url = clickhouse.external_user, password.apply(url_query_value)
        self._store(secret_refs.CLICKHOUSE, "ClickHouse user for Langfuse", {
            "user": user, "password": password, CLICKHOUSE_PASSWORD_FOR_URL: password_for_url,
        })
        self.redis_auth_token = self._alphanumeric("redis-auth-token", 64)  # ElastiCache takes it as an input
        self._store(secret_refs.REDIS, "Valkey/Redis auth token", {"authToken": self.redis_auth_token})
        for logical, description, values in (
            (secret_refs.LANGFUSE_EXTERNAL, "Langfuse: SSO client secret, enterprise licence", args.langfuse_external),
            (secret_refs.LITELLM_EXTERNAL, "LiteLLM: enterprise licence", args.litellm_external),
        ):
            if values:
                self._store(logical, description, {key: pulumi.Output.secret(value.reveal()) for key, value in values.items()})
        self.register_outputs({"arns": self.arns})

    def _alphanumeric(self, name: str, length: int) -> pulumi.Output[str]:
        password = random.RandomPassword(
            f"{self.name}-{name}", length=length, special=False, min_upper=1, min_lower=1, min_numeric=1,
            opts=self.child(protect=self._args.protect),
        )
        return password.result

    def _random_bytes(self, name: str, byte_length: int) -> random.RandomId:
        # RandomId's encodings are not secret by default: make them so, in state too.
        return random.RandomId(
            f"{self.name}-{name}", byte_length=byte_length,
            opts=self.child(protect=self._args.protect, additional_secret_outputs=["hex", "b64_std", "b64_url", "dec"]),
        )

    def _database_url(self, app: str, password: pulumi.Output[str]) -> pulumi.Output[str]:
        return pulumi.Output.secret(pulumi.Output.concat(
            f"postgresql://{app}:", password, "@", self._args.database_address, f":{POSTGRES_PORT}/{app}?sslmode=require"
        ))

    def _store(self, logical_name: str, description: str, values: dict) -> None:
        secret = create_json_secret(
            self, f"{self.name}-{logical_name}",
            secret_name=f"{self._args.name_prefix}/{logical_name}",
            description=description,
            values=values,
            kms_key_arn=self._args.kms_key_arn,
            protect=self._args.protect,
        )
        self.arns[logical_name] = secret.arn
        self.versions[logical_name] = secret.version_id
