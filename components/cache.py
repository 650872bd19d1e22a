"""ElastiCache Valkey for Langfuse's queues and caches (ECS mode).

Private (only the security groups of its users: Langfuse, LiteLLM, and the team plane, which empties
Langfuse's API-key cache), TLS in transit with an auth token from the
generated secrets, encrypted at rest with the stack key, `noeviction` so a full cache fails
loudly instead of silently dropping queued events, a replica with automatic failover per setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent
from reference import names
from services.specs import REDIS_PORT
from config.settings import RedisSettings


@dataclass(frozen=True)
class CacheArgs:
    name_prefix: str
    settings: RedisSettings
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    auth_token: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    log_retention_days: int


class Cache(GatewayComponent):
    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        settings = args.settings
        major = settings.engine_version.split(".")[0]
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets", name=names.cache(args.name_prefix), subnet_ids=list(args.subnet_ids), opts=self.child()
        )
        parameters = aws.elasticache.ParameterGroup(
            f"{name}-parameters",
            name=names.cache_parameters(args.name_prefix, major),
            family=f"valkey{major}",
            parameters=[{"name": "maxmemory-policy", "value": "noeviction"}],
            opts=self.child(),
        )
        slow_log = aws.cloudwatch.LogGroup(
            f"{name}-slow-log", name=f"/{args.name_prefix}/valkey-slow-log",
            retention_in_days=args.log_retention_days, kms_key_id=args.kms_key_arn, opts=self.child(),
        )
        failover = settings.replicas > 0
        self.group = aws.elasticache.ReplicationGroup(
            f"{name}-valkey",
            replication_group_id=names.cache(args.name_prefix),
            description=f"{args.name_prefix} Langfuse queues and cache",
            engine="valkey",
            engine_version=settings.engine_version,
            node_type=settings.node_type,
            num_cache_clusters=1 + settings.replicas,
            automatic_failover_enabled=failover,
            multi_az_enabled=failover,
            port=REDIS_PORT,
            parameter_group_name=parameters.name,
            subnet_group_name=subnets.name,
            security_group_ids=[args.security_group_id],
            at_rest_encryption_enabled=True,
            kms_key_id=args.kms_key_arn,
            transit_encryption_enabled=True,
            auth_token=args.auth_token,
            auto_minor_version_upgrade=True,
            snapshot_retention_limit=1,
            log_delivery_configurations=[{
                "destination": slow_log.name, "destination_type": "cloudwatch-logs",
                "log_format": "json", "log_type": "slow-log",
            }],
            opts=self.child(),
        )
        self.host = self.group.primary_endpoint_address
        # One id per node (ElastiCache publishes node metrics per CacheClusterId), in a stable order.
        self.node_ids = [
            self.group.member_clusters.apply(lambda nodes, i=i: sorted(nodes)[i]) for i in range(1 + settings.replicas)
        ]
        self.register_outputs({"host": self.host})
