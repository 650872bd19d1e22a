"""The Fargate task definition every ECS service and job of the stack is rendered into."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent
from renderers.ecs import RUNTIME_PLATFORM, task_size, task_volumes
from services.jobs import JobSpec
from services.specs import ServiceSpec


def create_task_definition(
    owner: GatewayComponent,
    name: str,
    *,
    family: str,
    spec: ServiceSpec | JobSpec,
    container_definitions: pulumi.Input[str],
    execution_role_arn: pulumi.Input[str],
    task_role_arn: pulumi.Input[str],
) -> aws.ecs.TaskDefinition:
    cpu, memory = task_size(spec)
    return aws.ecs.TaskDefinition(
        name,
        family=family,
        cpu=cpu,
        memory=memory,
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        runtime_platform=RUNTIME_PLATFORM,
        execution_role_arn=execution_role_arn,
        task_role_arn=task_role_arn,
        container_definitions=container_definitions,
        volumes=task_volumes(spec) if isinstance(spec, JobSpec) else None,
        opts=owner.child(),
    )
