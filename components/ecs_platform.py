"""ECS mode: the service specs rendered onto one Fargate (ARM64) cluster.

Jobs (`db-init`, `litellm-migrator`, `clickhouse-ready`, `langfuse-migrator`) run to completion before the services
that depend on them; services (LiteLLM, Langfuse web and worker) roll out with circuit-breaker
rollback, sit behind the load balancer's target groups, and autoscale on CPU. Langfuse web and
the ClickHouse host get private DNS names so LiteLLM and Langfuse find them without the internet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent
from components.ecs_job import EcsJob, EcsJobArgs
from components.ecs_service import EcsService, EcsServiceArgs
from components.workload_identity import WorkloadIdentity, WorkloadIdentityArgs
from reference import names
from renderers.ecs import container_definition, job_container_definitions
from services.jobs import JobSpec, on_demand_jobs, single
from renderers.litellm_proxy import ProxyConfig
from services.specs import (
    LANGFUSE_WEB_PORT,
    LITELLM_PORT,
    PLACEHOLDER_ENDPOINTS,
    SMOKE_JOB,
    TEAM_PLANE_JOB,
    Endpoints,
    ServiceSpec,
    ecs_specs,
    workload_of,
)
from config.settings import Settings

# Jobs first, then services in dependency order (spec.depends_on names resolve through this order);
# the team plane's job comes last, once LiteLLM and Langfuse web serve (EcsPlatform._team_plane).
ECS_ORDER = (
    "db-init", "litellm-migrator", "clickhouse-ready", "langfuse-migrator", "langfuse-web", "langfuse-worker", "litellm",
)
# The first to connect to PostgreSQL: whatever else does waits for it, so only it waits for the database.
DATABASE_FIRST = "db-init"
# On ECS, "ClickHouse is healthy" is the clickhouse-ready job; Redis is ElastiCache, ready once created.
DEPENDENCY_STANDS_IN = {"clickhouse": "clickhouse-ready", "redis": None}
SECURITY_GROUP_OF = {
    "db-init": "db-init", "litellm-migrator": "litellm", "clickhouse-ready": "langfuse-worker",
    "langfuse-migrator": "langfuse-worker",  # reaches Postgres and both ClickHouse ports, takes no traffic
    "langfuse-web": "langfuse-web", "langfuse-worker": "langfuse-worker", "litellm": "litellm",
}
__all__ = ["TEAM_PLANE_JOB", "SMOKE_JOB", "EcsPlatform", "EcsPlatformArgs"]


@dataclass(frozen=True)
class EcsPlatformArgs:
    settings: Settings
    proxy: ProxyConfig
    account_id: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_ids: Mapping[str, pulumi.Input[str]]
    kms_key_arn: pulumi.Input[str]
    secret_arns: Mapping[str, pulumi.Input[str]]  # logical secret -> ARN
    secrets_policy_arns: Mapping[str, pulumi.Input[str]]  # workload -> its secrets-read policy
    task_policy_arns: Mapping[str, Sequence[pulumi.Input[str]]]  # workload -> its own permissions
    images: Mapping[str, pulumi.Input[str]]  # image reference -> pinned name@sha256
    target_groups: Mapping[str, pulumi.Input[str]]  # service -> target group ARN
    target_group_forwarders: Mapping[str, Sequence[pulumi.Resource]]  # service -> what forwards to its group
    database_host: pulumi.Input[str]
    database_ready: Sequence[pulumi.Resource]  # what a job connecting to PostgreSQL first waits for
    redis_host: pulumi.Input[str]
    clickhouse_ip: pulumi.Input[str] | None  # the stack's ClickHouse host; None: external ClickHouse
    bucket: pulumi.Input[str]
    langfuse_public_url: pulumi.Input[str]
    # Job name -> what re-runs it besides its task definition (e.g. the secret versions it applies).
    job_triggers: Mapping[str, pulumi.Input[str]]
    secret_versions: Mapping[str, pulumi.Input[str]]  # logical secret -> current version id
    team_document: pulumi.Input[str]  # s3://<bucket>/<key>: what LiteLLM's start reads the teams from
    # Its object version, pinned in LiteLLM's task definition: a new one is a new revision (LiteLLM
    # rolls), and a rollback or a scale-out starts on the document its revision was deployed with.
    team_document_version: pulumi.Input[str]


class EcsPlatform(GatewayComponent):
    def __init__(self, name: str, args: EcsPlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        settings = args.settings
        prefix = settings.name_prefix
        # Container Insights writes /aws/ecs/containerinsights/<cluster>/performance (CloudWatch User
        # Guide, "Container Insights performance log events for Amazon ECS") and would create it
        # itself; created first, the group is ours: encrypted, with the stack's retention.
        insights_logs = aws.cloudwatch.LogGroup(
            f"{name}-insights-logs", name=f"/aws/ecs/containerinsights/{names.cluster(prefix)}/performance",
            retention_in_days=settings.log_retention_days, kms_key_id=args.kms_key_arn, opts=self.child(),
        )
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster", name=names.cluster(prefix), settings=[{"name": "containerInsights", "value": "enabled"}],
            opts=self.child(depends_on=[insights_logs]),
        )
        namespace = aws.servicediscovery.PrivateDnsNamespace(
            f"{name}-namespace", name=names.namespace(prefix), vpc=args.vpc_id, opts=self.child()
        )
        # Private names: LiteLLM reaches Langfuse web, the team-plane job reaches both.
        registries = {service: self._dns_name(name, service, namespace) for service in ("langfuse-web", "litellm")}
        clickhouse_name = None
        if args.clickhouse_ip is not None:
            clickhouse_name = aws.servicediscovery.Instance(
                f"{name}-clickhouse", instance_id="clickhouse",
                service_id=self._dns_name(name, "clickhouse", namespace).id,
                attributes={"AWS_INSTANCE_IPV4": args.clickhouse_ip}, opts=self.child(),
            )
        domain = names.namespace(prefix)
        endpoints = pulumi.Output.all(
            args.database_host, args.redis_host, args.bucket, args.langfuse_public_url, args.team_document,
            args.team_document_version,
        ).apply(
            lambda v: Endpoints(
                region=settings.region, database_host=v[0], redis_host=v[1], redis_tls=True,
                clickhouse_host=f"clickhouse.{domain}",
                langfuse_internal_url=f"http://langfuse-web.{domain}:{LANGFUSE_WEB_PORT}",
                litellm_internal_url=f"http://litellm.{domain}:{LITELLM_PORT}",
                langfuse_public_url=v[3], bucket=v[2], team_document=v[4], team_document_version=v[5],
            )
        )

        shapes = ecs_specs(settings, args.proxy, PLACEHOLDER_ENDPOINTS)  # names, sizes, ports: endpoint-free
        jobs = on_demand_jobs(shapes.values())
        workloads = workload_of(settings, args.proxy)
        # A log group per service or one-off, and one for the team plane's steps and its smoke (a stream each).
        log_groups = {
            group: aws.cloudwatch.LogGroup(
                f"{name}-{group}-logs", name=f"/{prefix}/{group}",
                retention_in_days=settings.log_retention_days, kms_key_id=args.kms_key_arn, opts=self.child(),
            )
            for group in {TEAM_PLANE_JOB if spec.on_demand else spec.name for spec in shapes.values()}
        }
        group_of = {n: TEAM_PLANE_JOB if shapes[n].on_demand else n for n in shapes}
        identities = {
            workload: WorkloadIdentity(f"{name}-{workload}-identity", WorkloadIdentityArgs(
                name_prefix=prefix, workload=workload, account_id=args.account_id,
                secrets_policy_arn=args.secrets_policy_arns[workload],
                log_group_arns=[log_groups[g].arn for g in sorted({group_of[n] for n in shapes if workloads[n] == workload})],
                task_policy_arns=list(args.task_policy_arns.get(workload, ())),
            ), opts=self.child())
            for workload in sorted({workloads[n] for n in shapes})
        }

        def definitions(spec_name: str) -> pulumi.Output[str]:
            return pulumi.Output.all(
                endpoints=endpoints, images=dict(args.images), arns=dict(args.secret_arns), group=log_groups[spec_name].name,
            ).apply(lambda v: json.dumps([container_definition(
                ecs_specs(settings, args.proxy, v["endpoints"])[spec_name],
                image=v["images"][shapes[spec_name].image], secret_arns=v["arns"], log_group=v["group"], region=settings.region,
            )], indent=1))

        ran: dict[str, pulumi.Resource] = {}
        self.services: dict[str, EcsService] = {}
        for spec_name in (n for n in ECS_ORDER if n in shapes):
            spec = shapes[spec_name]
            identity = identities[workloads[spec_name]]
            depends_on = [ran[d] for d in _dependencies(spec) if d in ran]
            if spec_name == "clickhouse-ready":
                depends_on.append(clickhouse_name)  # probe the host's name once it resolves
            if spec_name == DATABASE_FIRST:
                depends_on.extend(args.database_ready)
            common = dict(
                family=f"{prefix}-{spec_name}", spec=spec, container_definitions=definitions(spec_name),
                execution_role_arn=identity.execution_role_arn, task_role_arn=identity.task_role_arn,
                subnet_ids=args.subnet_ids,
                security_group_id=args.security_group_ids[SECURITY_GROUP_OF[spec_name]],
            )
            if spec.one_off:
                job = EcsJob(f"{name}-{spec_name}", EcsJobArgs(
                    **{key: value for key, value in common.items() if key != "spec"}, job=single(spec),
                    region=settings.region, cluster_arn=self.cluster.arn,
                    trigger=args.job_triggers.get(spec_name, ""), credentials=settings.deploy_credentials.as_input(),
                ), opts=self.child(depends_on=depends_on))
                ran[spec_name] = job.run
            else:
                ran[spec_name] = service = EcsService(f"{name}-{spec_name}", EcsServiceArgs(
                    **common, cluster_arn=self.cluster.arn, cluster_name=self.cluster.name,
                    secret_versions={n: args.secret_versions[n] for n in sorted(spec.secret_names)},
                    **self._scaling(spec_name, settings),
                    target_group_arn=args.target_groups.get(spec_name),
                    target_group_forwarders=args.target_group_forwarders.get(spec_name, ()),
                    registry_arn=registries[spec_name].arn if spec_name in registries else None,
                ), opts=self.child(depends_on=depends_on))

                self.services[spec_name] = service
        if jobs:
            identity, log_group = identities[workloads[jobs[TEAM_PLANE_JOB].last.name]], log_groups[TEAM_PLANE_JOB]
            # The team plane once LiteLLM and Langfuse serve, again whenever the team document (or the job)
            # changes; then, with smokeTest, the smoke on every deploy. Its task definition exists either
            # way: `make smoke` runs it.
            self.team_plane = self._on_demand(name, args, jobs[TEAM_PLANE_JOB], endpoints, identity, log_group,
                                              [self.services["litellm"], self.services["langfuse-web"]],
                                              trigger=args.job_triggers.get(TEAM_PLANE_JOB, ""))
            self.smoke = self._on_demand(name, args, jobs[SMOKE_JOB], endpoints, identity, log_group,
                                         [self.team_plane.run], runs=settings.smoke_test, every_deploy=True)
        self.cluster_name = self.cluster.name
        self.log_group_names = {spec_name: group.name for spec_name, group in log_groups.items()}
        self.register_outputs({"clusterName": self.cluster_name})

    def _on_demand(self, name: str, args: EcsPlatformArgs, job: JobSpec, endpoints: pulumi.Output[Endpoints],
                   identity: WorkloadIdentity, log_group: aws.cloudwatch.LogGroup, after: list[pulumi.Resource],
                   **run: object) -> EcsJob:
        """An on-demand job (the team plane's steps, the smoke step) as one task of the team plane's identity
        and security group, run after `after`."""
        settings = args.settings

        def definitions(v: dict) -> str:
            steps = ecs_specs(settings, args.proxy, v["endpoints"])
            resolved = JobSpec(job.name, tuple(steps[step.name] for step in job.steps))
            return json.dumps(job_container_definitions(
                resolved, images=v["images"], secret_arns=v["arns"], log_group=v["group"], region=settings.region,
            ), indent=1)

        return EcsJob(f"{name}-{job.name}", EcsJobArgs(
            family=f"{settings.name_prefix}-{job.name}", job=job,
            container_definitions=pulumi.Output.all(
                endpoints=endpoints, images=dict(args.images), arns=dict(args.secret_arns), group=log_group.name,
            ).apply(definitions),
            region=settings.region, cluster_arn=self.cluster.arn,
            execution_role_arn=identity.execution_role_arn, task_role_arn=identity.task_role_arn,
            subnet_ids=args.subnet_ids, security_group_id=args.security_group_ids[TEAM_PLANE_JOB],
            credentials=settings.deploy_credentials.as_input(), **run,
        ), opts=self.child(depends_on=after))

    def _dns_name(self, name: str, service: str, namespace: aws.servicediscovery.PrivateDnsNamespace):
        return aws.servicediscovery.Service(
            f"{name}-{service}-dns",
            name=service,
            dns_config={
                "namespace_id": namespace.id,
                "dns_records": [{"ttl": 10, "type": "A"}],
                "routing_policy": "MULTIVALUE",
            },
            health_check_custom_config={"failure_threshold": 1} if service != "clickhouse" else None,
            force_destroy=True,
            opts=self.child(),
        )

    @staticmethod
    def _scaling(spec_name: str, settings: Settings) -> dict:
        litellm, langfuse = settings.litellm, settings.langfuse
        return {
            "litellm": {"desired_count": litellm.desired_count, "max_count": litellm.max_count, "health_check_grace_seconds": 120},
            "langfuse-web": {"desired_count": langfuse.web_desired_count, "max_count": langfuse.web_max_count,
                             "health_check_grace_seconds": 300},
            "langfuse-worker": {"desired_count": langfuse.worker_desired_count},
        }[spec_name]


def _dependencies(spec: ServiceSpec) -> list[str]:
    return [DEPENDENCY_STANDS_IN.get(d, d) for d in spec.depends_on if DEPENDENCY_STANDS_IN.get(d, d)]
