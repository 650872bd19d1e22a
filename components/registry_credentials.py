"""A registry's pull credentials in their own secret, from secret stack config.

The secret holds exactly {"username", "password"}: the format ECS private registry authentication
reads through `repositoryCredentials` (AWS, Amazon ECS Developer Guide, "Private registry
authentication for tasks"); the compose hosts' fetcher turns the same secret into a docker config.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.base import GatewayComponent
from components.secret_json import create_json_secret
from config.settings import RegistryCredentials as Credentials


@dataclass(frozen=True)
class RegistryCredentialsArgs:
    secret_name: str  # e.g. llm-gateway-prod/docker-hub
    registry: str  # for the description: Docker Hub
    credentials: Credentials
    kms_key_arn: pulumi.Input[str]
    protect: bool


class RegistryCredentials(GatewayComponent):
    def __init__(self, name: str, args: RegistryCredentialsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        secret = create_json_secret(
            self, f"{name}-secret",
            secret_name=args.secret_name,
            description=f"{args.registry} pull credentials (username and access token)",
            values={
                "username": pulumi.Output.secret(args.credentials.username.reveal()),
                "password": pulumi.Output.secret(args.credentials.access_token.reveal()),
            },
            kms_key_arn=args.kms_key_arn,
            protect=args.protect,
        )
        self.arn = secret.arn
        self.version = secret.version_id
        self.register_outputs({"arn": self.arn})
