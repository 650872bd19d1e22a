"""A long-running Fargate service: rolling deploys that roll back on failure, optional load
balancer target, service discovery name and CPU autoscaling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent
from components.ecs_task import create_task_definition
from services.specs import ServiceSpec

CPU_TARGET_PERCENT = 60


@dataclass(frozen=True)
class EcsServiceArgs:
    family: str
    spec: ServiceSpec
    container_definitions: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    execution_role_arn: pulumi.Input[str]
    task_role_arn: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    desired_count: int
    max_count: int | None = None  # autoscaling ceiling; None: fixed count
    target_group_arn: pulumi.Input[str] | None = None
    # The listener or rule that forwards to the target group: ECS refuses a target group no load
    # balancer uses yet, so the service is created after (and deleted before) them.
    target_group_forwarders: Sequence[pulumi.Resource] = ()
    registry_arn: pulumi.Input[str] | None = None  # Cloud Map service: a private DNS name
    health_check_grace_seconds: int | None = None
    # Secret versions the containers read at start: a new value (a rotated key) restarts the tasks.
    secret_versions: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


class EcsService(GatewayComponent):
    def __init__(self, name: str, args: EcsServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        spec = args.spec
        self.task_definition = create_task_definition(
            self, f"{name}-task",
            family=args.family, spec=spec, container_definitions=args.container_definitions,
            execution_role_arn=args.execution_role_arn, task_role_arn=args.task_role_arn,
        )
        autoscaled = args.max_count is not None and args.max_count > args.desired_count
        self.service = aws.ecs.Service(
            f"{name}-service",
            name=spec.name,
            cluster=args.cluster_arn,
            task_definition=self.task_definition.arn,
            desired_count=args.desired_count,
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration={
                "subnets": list(args.subnet_ids),
                "security_groups": [args.security_group_id],
                "assign_public_ip": False,
            },
            deployment_circuit_breaker={"enable": True, "rollback": True},
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            load_balancers=[{
                "target_group_arn": args.target_group_arn, "container_name": spec.name, "container_port": spec.port,
            }] if args.target_group_arn else None,
            service_registries={"registry_arn": args.registry_arn} if args.registry_arn else None,
            health_check_grace_period_seconds=args.health_check_grace_seconds,
            force_new_deployment=bool(args.secret_versions),
            triggers=dict(args.secret_versions) or None,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            # `pulumi up` fails (and the circuit breaker rolls back) when tasks never get healthy.
            wait_for_steady_state=True,
            # Autoscaling owns the running count between deploys.
            opts=self.child(ignore_changes=["desiredCount"] if autoscaled else None,
                            depends_on=list(args.target_group_forwarders)),
        )
        if autoscaled:
            target = aws.appautoscaling.Target(
                f"{name}-scaling",
                service_namespace="ecs",
                scalable_dimension="ecs:service:DesiredCount",
                resource_id=pulumi.Output.concat("service/", args.cluster_name, "/", self.service.name),
                min_capacity=args.desired_count,
                max_capacity=args.max_count,
                opts=self.child(),
            )
            aws.appautoscaling.Policy(
                f"{name}-cpu",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration={
                    "target_value": CPU_TARGET_PERCENT,
                    "predefined_metric_specification": {"predefined_metric_type": "ECSServiceAverageCPUUtilization"},
                    "scale_in_cooldown": 300,
                    "scale_out_cooldown": 60,
                },
                opts=self.child(),
            )
        self.register_outputs({"serviceName": self.service.name, "taskDefinitionArn": self.task_definition.arn})
