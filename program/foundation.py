"""The foundation both compute shapes share: key, network, database, secrets, IAM, and the edge
(access logs, the load balancer, Langfuse's bucket)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.access_logs import AccessLogs, AccessLogsArgs
from components.alarm_topic import AlarmTopic, AlarmTopicArgs
from components.bedrock_access import BedrockAccess, BedrockAccessArgs
from components.database import Database, DatabaseArgs
from components.database_dns import DatabaseDns, DatabaseDnsArgs
from components.encryption_key import EncryptionKey, EncryptionKeyArgs
from components.interface_endpoints import InterfaceEndpoints, InterfaceEndpointsArgs
from components.langfuse_key_pair import LangfuseKeyPair, LangfuseKeyPairArgs
from components.langfuse_storage import LangfuseStorage, LangfuseStorageArgs
from components.load_balancer import LoadBalancer, LoadBalancerArgs
from components.metrics_publishing import MetricsPublishing, MetricsPublishingArgs
from components.network import Network, NetworkArgs
from components.platform_secrets import PlatformSecrets, PlatformSecretsArgs
from components.registry_credentials import RegistryCredentials, RegistryCredentialsArgs
from components.security_groups import SecurityGroups, SecurityGroupsArgs
from services import secret_refs
from services.langfuse_access import external_secret_values
from renderers.litellm_proxy import LITELLM_LICENSE_KEY, ProxyConfig, render_proxy_config
from renderers.network import security_group_rules, security_groups
from config.settings import Settings
from renderers.team_document import team_keys_arn_pattern


@dataclass(frozen=True)
class Foundation:
    settings: Settings
    proxy: ProxyConfig  # the rendered LiteLLM proxy config and its environment contract
    account_id: pulumi.Output[str]
    key: EncryptionKey
    network: Network
    firewall: SecurityGroups
    database: Database
    database_host: str  # the one name every client connects to (a restore moves it)
    # What connects to PostgreSQL waits for: its name pointing at the instance. Nothing else waits
    # for the database (tests/unit/test_deploy_order.py).
    database_ready: list[pulumi.Resource]
    secrets: PlatformSecrets
    platform_keys: LangfuseKeyPair
    secret_arns: dict[str, pulumi.Output[str]]  # logical secret -> ARN (the platform-wide ones)
    secret_versions: dict[str, pulumi.Output[str]]  # logical secret -> current version id
    bedrock: BedrockAccess
    alarm_topic: AlarmTopic  # every alarm tells it
    metrics_publishing: MetricsPublishing  # may publish the stack's (and Langfuse's) custom metrics
    access_logs: AccessLogs
    storage: LangfuseStorage
    load_balancer: LoadBalancer


def build_foundation(settings: Settings, target_type: str) -> Foundation:
    """`target_type`: how the load balancer reaches the apps, "ip" (Fargate tasks) or "instance"."""
    prefix = settings.name_prefix
    account_id = aws.get_caller_identity_output().account_id
    key = EncryptionKey("encryption", EncryptionKeyArgs(prefix, settings.region, account_id, settings.protect))
    network = Network("network", NetworkArgs(prefix, settings.region, settings.network, key.arn))
    firewall = SecurityGroups(
        "security-groups",
        SecurityGroupsArgs(prefix, network.vpc_id, security_groups(settings), security_group_rules(settings)),
    )
    if settings.network.interface_endpoints:
        InterfaceEndpoints("endpoints", InterfaceEndpointsArgs(
            prefix, settings.region, network.vpc_id, network.private_subnet_ids, firewall.ids["endpoints"],
        ))
    database = Database("database", DatabaseArgs(
        prefix, settings.database, network.private_subnet_ids, firewall.ids["database"], key.arn,
        master_secret_name=f"{prefix}/{secret_refs.POSTGRES}", protect=settings.protect,
        log_retention_days=settings.log_retention_days,
    ))
    # Every client reaches PostgreSQL by this name: a restore moves it, and nothing else changes.
    database_dns = DatabaseDns("database-dns", DatabaseDnsArgs(prefix, network.vpc_id, database.address))
    secrets = PlatformSecrets("secrets", PlatformSecretsArgs(
        prefix, key.arn, database_dns.host, settings.protect, settings.clickhouse,
        external_secret_values(settings.langfuse_sso, settings.langfuse_ee_license_key),
        {LITELLM_LICENSE_KEY: settings.litellm_license_key} if settings.litellm_license_key else {},
    ))
    platform_keys = LangfuseKeyPair("langfuse-keys-platform", LangfuseKeyPairArgs(
        f"{prefix}/{secret_refs.PLATFORM_KEYS}", "platform", key.arn, settings.protect,
    ))
    secret_arns = {
        **secrets.arns,
        secret_refs.POSTGRES: database.master_secret_arn,
        secret_refs.PLATFORM_KEYS: platform_keys.arn,
    }
    secret_versions = {
        **secrets.versions,
        secret_refs.POSTGRES: database.master_secret_version,
        secret_refs.PLATFORM_KEYS: platform_keys.version,
    }
    # Every team's key secret, for IAM: one name-prefix wildcard, whatever the number of teams.
    secret_arns[secret_refs.TEAM_KEYS] = account_id.apply(lambda account: team_keys_arn_pattern(settings.region, account, prefix))
    if settings.docker_hub_credentials:
        docker_hub = RegistryCredentials("docker-hub", RegistryCredentialsArgs(
            f"{prefix}/{secret_refs.DOCKER_HUB}", "Docker Hub", settings.docker_hub_credentials, key.arn, settings.protect,
        ))
        secret_arns[secret_refs.DOCKER_HUB] = docker_hub.arn
    alarm_topic = AlarmTopic("alarms", AlarmTopicArgs(prefix, key.arn, settings.alarms.emails))
    metrics_publishing = MetricsPublishing("metrics", MetricsPublishingArgs(prefix))
    bedrock = BedrockAccess("bedrock", BedrockAccessArgs(prefix, settings.models, account_id))
    access_logs = AccessLogs("access-logs", AccessLogsArgs(
        prefix, settings.region, account_id, retention_days=settings.log_retention_days, protect=settings.protect,
    ))
    storage = LangfuseStorage("langfuse-storage", LangfuseStorageArgs(prefix, key.arn, access_logs.bucket_name, settings.protect))
    load_balancer = LoadBalancer("load-balancer", LoadBalancerArgs(
        settings, network.vpc_id, network.public_subnet_ids, network.private_subnet_ids, firewall.ids["load-balancer"],
        access_logs.bucket_name, target_type=target_type,
    ))
    return Foundation(
        settings=settings, proxy=render_proxy_config(settings), account_id=account_id, key=key, network=network,
        firewall=firewall, database=database, database_host=database_dns.host,
        database_ready=[database_dns.record], secrets=secrets, platform_keys=platform_keys, secret_arns=secret_arns,
        secret_versions=secret_versions, bedrock=bedrock, alarm_topic=alarm_topic,
        metrics_publishing=metrics_publishing, access_logs=access_logs, storage=storage,
        load_balancer=load_balancer,
    )
