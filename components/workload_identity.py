"""The two IAM roles of an ECS workload: what ECS uses to start it, and what its code may do.

The execution role pulls secrets (exactly the workload's, through the foundation's policy) and
writes the workload's logs. The task role carries the workload's own permissions (Bedrock for
LiteLLM, the bucket for Langfuse) and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent, after
from reference import names


def ecs_trust_policy(account_id: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }],
    })


@dataclass(frozen=True)
class WorkloadIdentityArgs:
    name_prefix: str
    workload: str
    account_id: pulumi.Input[str]
    secrets_policy_arn: pulumi.Input[str]
    log_group_arns: Sequence[pulumi.Input[str]]
    task_policy_arns: Sequence[pulumi.Input[str]] = ()


class WorkloadIdentity(GatewayComponent):
    def __init__(self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        trust = pulumi.Output.from_input(args.account_id).apply(ecs_trust_policy)
        self.execution_role = aws.iam.Role(
            f"{name}-execution", name_prefix=names.workload_role_prefix(args.name_prefix, args.workload, "exec"),
            assume_role_policy=trust, opts=self.child(),
        )
        secrets = aws.iam.RolePolicyAttachment(
            f"{name}-execution-secrets", role=self.execution_role.name, policy_arn=args.secrets_policy_arn, opts=self.child()
        )
        logs = aws.iam.RolePolicy(
            f"{name}-execution-logs",
            role=self.execution_role.id,
            policy=pulumi.Output.all(*args.log_group_arns).apply(lambda arns: json.dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": sorted(f"{arn}:*" for arn in arns),
                }],
            })),
            opts=self.child(),
        )
        self.task_role = aws.iam.Role(
            f"{name}-task", name_prefix=names.workload_role_prefix(args.name_prefix, args.workload, "task"),
            assume_role_policy=trust, opts=self.child(),
        )
        task_grants = [
            aws.iam.RolePolicyAttachment(f"{name}-task-{i}", role=self.task_role.name, policy_arn=policy_arn, opts=self.child())
            for i, policy_arn in enumerate(args.task_policy_arns)
        ]
        # What runs as these roles (task definitions, so services and jobs) waits for their permissions.
        self.execution_role_arn = after(self.execution_role.arn, [secrets, logs])
        self.task_role_arn = after(self.task_role.arn, task_grants)
        self.register_outputs({"executionRoleArn": self.execution_role_arn, "taskRoleArn": self.task_role_arn})
