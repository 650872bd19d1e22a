"""The local platform's own secrets, generated at deploy time (what AWS's managed stores keep on the
other platforms): the PostgreSQL superuser's password (RDS's master user), the S3-compatible store's
static keys (a task role's on S3), and the key and self-signed certificate PostgreSQL serves TLS with
(RDS's own certificate), so the apps' `sslmode=require` holds (services/local.py). Each value stays a
Pulumi secret, encrypted in the stack's state: the platform hands them to its containers' environment.

| secret (logical name) | keys | format |
| --- | --- | --- |
| postgres | username, password | `gateway_admin`; 32 alphanumerics (pasted into URLs) |
| object-store | accessKeyId, secretAccessKey | 20 upper-case alphanumerics; 40 alphanumerics (AWS's lengths) |
| postgres-tls | certificate, privateKey | ECDSA P-256, self-signed for the name `postgres`, valid 10 years (no client verifies it: `require` encrypts without checking the server, as against RDS) |
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random
import pulumi_tls as tls

from components.base import GatewayComponent
from services import secret_refs
from services.local import OBJECT_STORE_KEYS, POSTGRES, POSTGRES_TLS
from services.specs import DATABASE_ADMIN_USER

CERTIFICATE_HOURS = 10 * 365 * 24


@dataclass(frozen=True)
class LocalSecretsArgs:
    protect: bool


class LocalSecrets(GatewayComponent):
    def __init__(self, name: str, args: LocalSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        key = tls.PrivateKey(f"{name}-postgres-tls-key", algorithm="ECDSA", ecdsa_curve="P256",
                             opts=self.child(protect=args.protect))
        certificate = tls.SelfSignedCert(
            f"{name}-postgres-tls-certificate", private_key_pem=key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=POSTGRES), dns_names=[POSTGRES],
            validity_period_hours=CERTIFICATE_HOURS, allowed_uses=["digital_signature", "server_auth"],
            opts=self.child(protect=args.protect),
        )
        self.values: dict[str, dict[str, pulumi.Input[str]]] = {
            secret_refs.POSTGRES: {"username": DATABASE_ADMIN_USER,
                                   "password": self._password(f"{name}-postgres-password", 32, args.protect)},
            OBJECT_STORE_KEYS: {
                "accessKeyId": self._password(f"{name}-object-store-access-key-id", 20, args.protect, lower=False),
                "secretAccessKey": self._password(f"{name}-object-store-secret-access-key", 40, args.protect),
            },
            POSTGRES_TLS: {"certificate": certificate.cert_pem, "privateKey": key.private_key_pem},
        }
        self.register_outputs({})

    def _password(self, name: str, length: int, protect: bool, lower: bool = True) -> pulumi.Output[str]:
        return random.RandomPassword(
            name, length=length, special=False, lower=lower, min_upper=1, min_numeric=1,
            **({"min_lower": 1} if lower else {}), opts=self.child(protect=protect),
        ).result
