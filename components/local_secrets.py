"""The local platform's own secrets, generated at deploy time (what AWS's managed stores keep on the
other platforms): the PostgreSQL superuser's password (RDS's master user) and the S3-compatible
store's static keys (a task role's on S3). Each value stays a Pulumi secret, encrypted in the stack's
state: the platform hands them to its containers' environment. (PostgreSQL's TLS key never leaves its
data volume: services/local.py POSTGRES_START.)

| secret (logical name) | keys | format |
| --- | --- | --- |
| postgres | username, password | `gateway_admin`; 32 alphanumerics (pasted into URLs) |
| object-store | accessKeyId, secretAccessKey | 20 upper-case alphanumerics; 40 alphanumerics (AWS's lengths) |
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.base import GatewayComponent
from services import secret_refs
from services.local import OBJECT_STORE_KEYS
from services.specs import DATABASE_ADMIN_USER


@dataclass(frozen=True)
class LocalSecretsArgs:
    protect: bool


class LocalSecrets(GatewayComponent):
    def __init__(self, name: str, args: LocalSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self.values: dict[str, dict[str, pulumi.Input[str]]] = {
            secret_refs.POSTGRES: {"username": DATABASE_ADMIN_USER,
                                   "password": self._password(f"{name}-postgres-password", 32, args.protect)},
            OBJECT_STORE_KEYS: {
                "accessKeyId": self._password(f"{name}-object-store-access-key-id", 20, args.protect, lower=False),
                "secretAccessKey": self._password(f"{name}-object-store-secret-access-key", 40, args.protect),
            },
        }
        self.register_outputs({})

    def _password(self, name: str, length: int, protect: bool, lower: bool = True) -> pulumi.Output[str]:
        return random.RandomPassword(
            name, length=length, special=False, lower=lower, min_upper=1, min_numeric=1,
            **({"min_lower": 1} if lower else {}), opts=self.child(protect=protect),
        ).result
