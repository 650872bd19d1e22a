"""A one-off Fargate job (database setup, schema migrations) run to completion on every deploy
that changes it, before the services that depend on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.base import GatewayComponent
from components.ecs_task import create_task_definition
from components.one_off_task import OneOffTask, OneOffTaskArgs
from services.jobs import JobSpec


@dataclass(frozen=True)
class EcsJobArgs:
    family: str
    job: JobSpec
    container_definitions: pulumi.Input[str]
    region: str
    cluster_arn: pulumi.Input[str]
    execution_role_arn: pulumi.Input[str]
    task_role_arn: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    credentials: Mapping[str, Any]  # who starts the task: the stack's AWS provider identity (DeployCredentials.as_input)
    # Beyond the task definition itself, what the job's result depends on (e.g. secret versions).
    trigger: pulumi.Input[str] = ""
    # False: the task definition only, run on demand (`make smoke`); every_deploy: run whatever changed.
    runs: bool = True
    every_deploy: bool = False


class EcsJob(GatewayComponent):
    def __init__(self, name: str, args: EcsJobArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self.task_definition = create_task_definition(
            self, f"{name}-task",
            family=args.family, spec=args.job, container_definitions=args.container_definitions,
            execution_role_arn=args.execution_role_arn, task_role_arn=args.task_role_arn,
        )
        run = OneOffTaskArgs(
            region=args.region,
            cluster_arn=args.cluster_arn,
            task_definition_arn=self.task_definition.arn,
            container_name=args.job.last.name,  # the job's exit code
            subnet_ids=list(args.subnet_ids),
            security_group_ids=[args.security_group_id],
            trigger=args.trigger,
            credentials=args.credentials,
            timeout_seconds=args.job.timeout_seconds,  # the steps' own deadlines fit inside it
            every_deploy=args.every_deploy,
        )
        self.run = OneOffTask(f"{name}-run", run, opts=self.child()) if args.runs else None
        # How to start it as the deploy does, from outside the stack (scripts/smoke.py): the runner's inputs.
        self.run_inputs = pulumi.Output.all(
            region=run.region, cluster_arn=run.cluster_arn, task_definition_arn=run.task_definition_arn,
            container_name=run.container_name, subnet_ids=run.subnet_ids, security_group_ids=run.security_group_ids,
        ).apply(lambda v: {"runner": "ecs", **v, "timeout_seconds": run.timeout_seconds})
        self.register_outputs({"taskDefinitionArn": self.task_definition.arn})
