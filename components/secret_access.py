"""Read access to exactly the secrets a workload's containers reference, one policy per workload."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent


def secret_read_policy(secret_arns: list[str], kms_key_arn: str, region: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": sorted(secret_arns)},
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
            },
        ],
    }, indent=1)


@dataclass(frozen=True)
class SecretAccessArgs:
    name_prefix: str
    region: str
    kms_key_arn: pulumi.Input[str]
    secret_arns: Mapping[str, pulumi.Input[str]]  # logical secret name -> ARN
    workload_secrets: Mapping[str, frozenset[str]]  # workload -> logical secret names it reads


class SecretAccess(GatewayComponent):
    def __init__(self, name: str, args: SecretAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self.policy_arns: dict[str, pulumi.Output[str]] = {}
        for workload, names in args.workload_secrets.items():
            arns = [args.secret_arns[n] for n in sorted(names)]
            policy = aws.iam.Policy(
                f"{name}-{workload}",
                name_prefix=f"{args.name_prefix}-{workload}-secrets-",
                description=f"Read the secrets of {workload}: {', '.join(sorted(names))}",
                policy=pulumi.Output.all(args.kms_key_arn, *arns).apply(
                    lambda values: secret_read_policy(list(values[1:]), values[0], args.region)
                ),
                opts=self.child(),
            )
            self.policy_arns[workload] = policy.arn
        self.register_outputs({"policyArns": self.policy_arns})
