"""Where the services run, behind one interface: ECS Fargate (+ ElastiCache and a ClickHouse host),
or one EC2 host running every container with docker compose. Both render the same service specs
(services/specs.py); what differs between them lives here and in their components, nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.cache import Cache, CacheArgs
from components.compose_host import ComposeHost, ComposeHostArgs, user_data_from_specs
from components.host_command import HostCommand, HostCommandArgs
from components.ecs_platform import SMOKE_JOB, TEAM_PLANE_JOB, EcsPlatform, EcsPlatformArgs
from components.secret_access import SecretAccess, SecretAccessArgs
from components.volume_snapshots import VolumeSnapshots, VolumeSnapshotsArgs
from services import secret_refs
from renderers.alarms import Host, host_dimension, metrics_namespace
from renderers.compose_host.jobs import host_job_commands, host_job_seconds, job_scratch_dirs
from renderers.compose_host.layout import DiskMetrics, HostPaths
from reference.images import pinned_images
from services.jobs import on_demand_jobs
from services.specs import (
    CLICKHOUSE_HOST_PUBLISHED,
    GATEWAY_HOST_PUBLISHED,
    LANGFUSE_WEB_PORT,
    LITELLM_PORT,
    PLACEHOLDER_ENDPOINTS,
    Endpoints,
    clickhouse_host_specs,
    gateway_host_specs,
    stack_images,
    workload_secret_names,
)
from config.settings import Settings
from program.foundation import Foundation

# How the load balancer reaches each platform's apps.
TARGET_TYPES = {"ecs": "ip", "ec2": "instance"}


@dataclass(frozen=True)
class Platform:
    """What the rest of the stack needs from wherever the services run."""

    images: Mapping[str, pulumi.Output[str]]  # image reference -> what runs (name@sha256:...)
    # What the alarms watch here: the compose hosts, ElastiCache nodes, LiteLLM's log group, ECS services.
    hosts: tuple[Host, ...]
    cache_nodes: tuple[pulumi.Output[str], ...]
    litellm_log_group: pulumi.Output[str] | None  # None: no CloudWatch (compute: local)
    ecs: bool
    exports: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlatformInputs:
    """What a platform gets besides the foundation: the team plane's document and job triggers."""

    team_document: pulumi.Input[str]  # s3://<bucket>/<key>: where LiteLLM's start reads the teams
    team_document_version: pulumi.Input[str]  # pinned in LiteLLM's task definition (ECS); the host reads the latest
    reader_policy_arn: pulumi.Input[str]  # may read the document and the teams' key secrets
    key_policy_arn: pulumi.Input[str]  # may read the teams' LiteLLM virtual keys (the team plane only)
    job_triggers: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # job -> what reruns it


def _secrets(foundation: Foundation) -> tuple[dict, dict]:
    """Every secret's ARN and version the platform's containers may reference."""
    return dict(foundation.secret_arns), dict(foundation.secret_versions)


def _secret_access(foundation: Foundation, secret_arns: Mapping[str, pulumi.Input[str]]) -> SecretAccess:
    settings = foundation.settings
    return SecretAccess("secret-access", SecretAccessArgs(
        settings.name_prefix, settings.region, foundation.key.arn, dict(secret_arns),
        workload_secret_names(settings, foundation.proxy),
    ))


def _host_common(foundation: Foundation, boot_reaches: Sequence[pulumi.Resource] = ()) -> dict[str, Any]:
    """What both compose hosts share; `boot_reaches`: what else the host's first boot needs to exist."""
    settings = foundation.settings
    return dict(
        name_prefix=settings.name_prefix, region=settings.region, account_id=foundation.account_id,
        ubuntu_serial=settings.host.ubuntu_serial, subnet_id=foundation.network.private_subnet_ids[0],
        boot_after=[*foundation.network.private_egress[0], *boot_reaches],
        kms_key_arn=foundation.key.arn, protect=settings.protect, log_retention_days=settings.log_retention_days,
        alarm_topic_arn=foundation.alarm_topic.arn,
    )


def _disk_metrics(foundation: Foundation, role: str) -> DiskMetrics:
    """What a compose host publishes about its disks (the CloudWatch agent is not in Ubuntu's archive)."""
    prefix = foundation.settings.name_prefix
    return DiskMetrics(metrics_namespace(prefix), host_dimension(prefix, role))


WATCHED_PATHS = (HostPaths().data_dir, "/")


def build_ecs(foundation: Foundation, inputs: PlatformInputs) -> Platform:
    """LiteLLM and Langfuse on Fargate, Valkey on ElastiCache, ClickHouse on its own host (or external)."""
    settings, network, firewall, lb = foundation.settings, foundation.network, foundation.firewall, foundation.load_balancer
    prefix = settings.name_prefix
    secret_arns, secret_versions = _secrets(foundation)
    secret_access = _secret_access(foundation, secret_arns)
    images = pinned_images(stack_images(settings, foundation.proxy))
    cache = Cache("cache", CacheArgs(
        prefix, settings.redis, network.private_subnet_ids, firewall.ids["redis"], foundation.secrets.redis_auth_token,
        foundation.key.arn, settings.log_retention_days,
    ))
    clickhouse = ComposeHost("clickhouse-host", ComposeHostArgs(
        **_host_common(foundation), role="clickhouse", instance_type=settings.clickhouse.instance_type,
        security_group_id=firewall.ids["clickhouse"], data_volume_gb=settings.clickhouse.data_volume_gb,
        root_volume_gb=30, policy_arns=[secret_access.policy_arns["clickhouse"], foundation.metrics_publishing.policy_arn],
        user_data=user_data_from_specs(
            settings.region, clickhouse_host_specs(settings), images, secret_arns, CLICKHOUSE_HOST_PUBLISHED, secret_versions,
            _disk_metrics(foundation, "clickhouse"),
        ),
    )) if settings.clickhouse.hosted else None
    secrets = foundation.secrets
    platform = EcsPlatform("ecs", EcsPlatformArgs(
        settings=settings, proxy=foundation.proxy, account_id=foundation.account_id, vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids, security_group_ids=firewall.ids, kms_key_arn=foundation.key.arn,
        secret_arns=secret_arns, secrets_policy_arns=secret_access.policy_arns,
        task_policy_arns={
            "litellm": [foundation.bedrock.policy_arn, inputs.reader_policy_arn],
            "langfuse": [foundation.storage.policy_arn, foundation.metrics_publishing.policy_arn],
            # The team plane's identity (its job, the smoke): the document, the teams' Langfuse and LiteLLM keys.
            "teams": [inputs.reader_policy_arn, inputs.key_policy_arn],
        },
        images=images,
        target_groups={"litellm": lb.target_groups["litellm"].arn, "langfuse-web": lb.target_groups["langfuse"].arn},
        target_group_forwarders={"litellm": lb.forwarders["litellm"], "langfuse-web": lb.forwarders["langfuse"]},
        database_host=foundation.database_host, database_ready=foundation.database_ready, redis_host=cache.host,
        clickhouse_ip=clickhouse.private_ip if clickhouse else None,
        bucket=foundation.storage.bucket_name, langfuse_public_url=lb.langfuse_url,
        secret_versions=secret_versions,
        team_document=inputs.team_document, team_document_version=inputs.team_document_version,
        job_triggers={
            "db-init": pulumi.Output.concat(
                foundation.database.master_secret_version, "/", secrets.versions[secret_refs.LITELLM], "/",
                secrets.versions[secret_refs.LANGFUSE],
            ),
            # A replaced ClickHouse host (new image or config) must answer before Langfuse is touched.
            **({"clickhouse-ready": clickhouse.instance_id} if clickhouse else {}),
            **inputs.job_triggers,
        },
    ))
    exports = {"clusterName": platform.cluster_name, "smokeRun": platform.smoke.run_inputs}
    if clickhouse:
        exports["clickhouseInstanceId"] = clickhouse.instance_id
        _snapshots(foundation)
    return Platform(
        images=images, hosts=(Host("clickhouse", WATCHED_PATHS),) if clickhouse else (), cache_nodes=tuple(cache.node_ids),
        litellm_log_group=platform.log_group_names["litellm"], ecs=True, exports=exports,
    )


def build_host(foundation: Foundation, inputs: PlatformInputs) -> Platform:
    """Every container on one Graviton host with docker compose; Postgres stays on RDS."""
    settings, lb = foundation.settings, foundation.load_balancer
    secret_arns, secret_versions = _secrets(foundation)
    secret_access = _secret_access(foundation, secret_arns)
    images = pinned_images(stack_images(settings, foundation.proxy))
    endpoints = pulumi.Output.all(
        foundation.database_host, foundation.storage.bucket_name, lb.langfuse_url, inputs.team_document,
    ).apply(
        lambda v: Endpoints(
            region=settings.region, database_host=v[0], redis_host="redis", redis_tls=False,
            clickhouse_host="clickhouse", langfuse_internal_url=f"http://langfuse-web:{LANGFUSE_WEB_PORT}",
            litellm_internal_url=f"http://litellm:{LITELLM_PORT}", langfuse_public_url=v[2], bucket=v[1],
            team_document=v[3],
        )
    )
    host = ComposeHost("gateway-host", ComposeHostArgs(
        # Its boot runs db-init and the migrators: PostgreSQL by its name.
        **_host_common(foundation, boot_reaches=foundation.database_ready), role="gateway", instance_type=settings.host.instance_type,
        security_group_id=foundation.firewall.ids["gateway-host"], data_volume_gb=settings.host.data_volume_gb,
        root_volume_gb=settings.host.root_volume_gb,
        policy_arns=[secret_access.policy_arns["gateway-host"], foundation.bedrock.policy_arn, foundation.storage.policy_arn,
                     foundation.metrics_publishing.policy_arn, inputs.reader_policy_arn, inputs.key_policy_arn],
        user_data=user_data_from_specs(
            settings.region, endpoints.apply(lambda e: gateway_host_specs(settings, foundation.proxy, e)),
            images, secret_arns, GATEWAY_HOST_PUBLISHED, secret_versions, _disk_metrics(foundation, "gateway"),
        ),
        containers_use_instance_role=True,  # LiteLLM calls Bedrock and Langfuse S3 with the host's role
        load_balancer_targets=[
            (lb.target_groups["litellm"].arn, LITELLM_PORT),
            (lb.target_groups["langfuse"].arn, LANGFUSE_WEB_PORT),
        ],
    ))
    _snapshots(foundation)
    # The team plane, inside the VPC: the host runs the job's steps when the deploy asks (SSM), then
    # recreates LiteLLM, which reads the teams at its start. Never a new host for a team change.
    jobs = on_demand_jobs(gateway_host_specs(settings, foundation.proxy, PLACEHOLDER_ENDPOINTS))
    team_plane, recreated = jobs[TEAM_PLANE_JOB], ("litellm",)
    team_plane_run = HostCommand(f"{TEAM_PLANE_JOB}-run", HostCommandArgs(
        region=settings.region, instance_id=host.instance_id,
        commands=host_job_commands(team_plane, restart_after=recreated, scratch=job_scratch_dirs(team_plane)),
        trigger=inputs.job_triggers.get(TEAM_PLANE_JOB, ""), comment="llm-gateway team plane",
        credentials=settings.deploy_credentials.as_input(), timeout_seconds=host_job_seconds(team_plane, recreated),
    ), opts=pulumi.ResourceOptions(depends_on=[host]))
    # The smoke, once LiteLLM was recreated on the new teams: every deploy with smokeTest, else `make smoke`
    # sends the same command (the stack's smokeRun output).
    smoke = HostCommandArgs(
        region=settings.region, instance_id=host.instance_id, commands=host_job_commands(jobs[SMOKE_JOB]),
        trigger="", comment="llm-gateway smoke", credentials=settings.deploy_credentials.as_input(),
        timeout_seconds=host_job_seconds(jobs[SMOKE_JOB]), every_deploy=True,
    )
    if settings.smoke_test:
        HostCommand(f"{SMOKE_JOB}-run", smoke, opts=pulumi.ResourceOptions(depends_on=[team_plane_run]))
    smoke_run = pulumi.Output.from_input(host.instance_id).apply(lambda instance: {
        "runner": "ssm", "region": smoke.region, "instance_id": instance, "commands": smoke.commands,
        "timeout_seconds": smoke.timeout_seconds, "comment": smoke.comment,
    })
    return Platform(
        images=images,
        hosts=(Host("gateway", WATCHED_PATHS),), cache_nodes=(), litellm_log_group=host.log_group.name, ecs=False,
        exports={"hostInstanceId": host.instance_id, "smokeRun": smoke_run},
    )


def _snapshots(foundation: Foundation) -> None:
    """Daily snapshots of the compose hosts' data volumes (ClickHouse's, and Valkey's on the EC2 host)."""
    settings = foundation.settings
    VolumeSnapshots("snapshots", VolumeSnapshotsArgs(settings.name_prefix, settings.backup, foundation.key.arn))


PLATFORMS: dict[str, Callable[[Foundation, PlatformInputs], Platform]] = {"ecs": build_ecs, "ec2": build_host}


def build_platform(settings: Settings, foundation: Foundation, inputs: PlatformInputs) -> Platform:
    return PLATFORMS[settings.compute](foundation, inputs)
