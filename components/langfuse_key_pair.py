"""One Langfuse project key pair in its own secret: generated, or taken from secret stack config."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.base import GatewayComponent
from components.secret_json import keep_in_secret
from config.settings import LangfuseKeyPair as ExistingKeys


@dataclass(frozen=True)
class LangfuseKeyPairArgs:
    secret_name: str  # e.g. llm-gateway-stg/langfuse-keys/teams/mle
    project: str  # the Langfuse project the keys belong to
    kms_key_arn: pulumi.Input[str] | None  # None: no Secrets Manager (compute: local), the pair stays a Pulumi secret
    protect: bool
    existing: ExistingKeys | None = None  # keys of a project that already exists
    # A team's pair: removing the team keeps the secret (and the project's keys) instead of
    # stopping on protection after LiteLLM has already deleted the team.
    retain_on_removal: bool = False


class LangfuseKeyPair(GatewayComponent):
    def __init__(self, name: str, args: LangfuseKeyPairArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        if args.existing:
            public_key = pulumi.Output.secret(args.existing.public_key.reveal())
            secret_key = pulumi.Output.secret(args.existing.secret_key.reveal())
        else:
            # Langfuse's own format: pk-lf-<uuid> / sk-lf-<uuid>.
            public_key, secret_key = (
                pulumi.Output.secret(pulumi.Output.concat(
                    prefix,
                    random.RandomUuid(
                        f"{name}-{kind}",
                        opts=self.child(protect=args.protect and not args.retain_on_removal,
                                        retain_on_delete=args.retain_on_removal or None,
                                        additional_secret_outputs=["result"]),
                    ).result,
                ))
                for kind, prefix in (("public", "pk-lf-"), ("secret", "sk-lf-"))
            )
        self.public_key = public_key
        self.secret_key = secret_key
        keep_in_secret(
            self, f"{name}-secret",
            secret_name=args.secret_name,
            description=f"Langfuse key pair of project {args.project}",
            values={"publicKey": public_key, "secretKey": secret_key},
            kms_key_arn=args.kms_key_arn,
            protect=args.protect,
            retain_on_removal=args.retain_on_removal,
        )
