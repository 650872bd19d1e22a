"""The only Bedrock permission the gateway has: invoke the configured models, nothing else.

`bedrock:InvokeModel` and `bedrock:InvokeModelWithResponseStream` (Converse and ConverseStream
use these) on each model's foundation-model ARN; for inference profiles, the profile ARN plus
the foundation-model ARNs of every Region the profile may route to, bound to that profile.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent
from reference.bedrock import invoke_grants, invoke_policy_document
from config.settings import Model


def bedrock_policy_json(models: Sequence[Model], account_id: str) -> str:
    grants = tuple(
        grant
        for model in models
        for grant in invoke_grants(model.bedrock_model, model.region, account_id, model.destination_regions)
    )
    return json.dumps(invoke_policy_document(grants), indent=1)


@dataclass(frozen=True)
class BedrockAccessArgs:
    name_prefix: str
    models: Sequence[Model]
    account_id: pulumi.Input[str]


class BedrockAccess(GatewayComponent):
    def __init__(self, name: str, args: BedrockAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self.policy = aws.iam.Policy(
            f"{name}-invoke",
            name_prefix=f"{args.name_prefix}-bedrock-invoke-",
            description="Invoke exactly the configured Bedrock models",
            policy=pulumi.Output.from_input(args.account_id).apply(lambda account: bedrock_policy_json(args.models, account)),
            opts=self.child(),
        )
        self.policy_arn = self.policy.arn
        self.register_outputs({"policyArn": self.policy_arn})
