"""llm-gateway: compose the stack from validated settings. Nothing else happens here."""

import pulumi
import pulumi_aws as aws

from components.access_logs import AccessLogs, AccessLogsArgs
from components.bedrock_access import BedrockAccess, BedrockAccessArgs
from components.cache import Cache, CacheArgs
from components.compose_host import ComposeHost, ComposeHostArgs, user_data_from_specs
from components.database import Database, DatabaseArgs
from components.ecs_platform import EcsPlatform, EcsPlatformArgs
from components.encryption_key import EncryptionKey, EncryptionKeyArgs
from components.interface_endpoints import InterfaceEndpoints, InterfaceEndpointsArgs
from components.langfuse_key_pair import LangfuseKeyPair, LangfuseKeyPairArgs
from components.langfuse_storage import LangfuseStorage, LangfuseStorageArgs
from components.langfuse_project import LangfuseProject, LangfuseProjectArgs
from components.litellm_team import LiteLLMTeam, LiteLLMTeamArgs
from components.load_balancer import LoadBalancer, LoadBalancerArgs
from components.network import Network, NetworkArgs
from components.platform_secrets import PlatformSecrets, PlatformSecretsArgs
from components.registry_credentials import RegistryCredentials, RegistryCredentialsArgs
from components.secret_access import SecretAccess, SecretAccessArgs
from components.security_groups import SecurityGroups, SecurityGroupsArgs
from components.team_plane_store import TeamPlaneStore, TeamPlaneStoreArgs
from config import secret_refs
from config.images import pinned_images
from config.langfuse_access import external_secret_values
from config.litellm_config import PORT as LITELLM_PORT, render_proxy_config
from config.network import security_group_rules, security_groups
from config.services import (
    CLICKHOUSE_HOST_PUBLISHED,
    GATEWAY_HOST_PUBLISHED,
    LANGFUSE_WEB_PORT,
    Endpoints,
    clickhouse_host_specs,
    gateway_host_specs,
    project_init_name,
    stack_images,
    workload_secret_names,
)
from config.stack_config import read_settings
from config.team_plane import team_keys_arn_pattern

settings = read_settings()  # raises before any resource is registered when the config is bad
proxy_config = render_proxy_config(settings)
prefix = settings.name_prefix
account_id = aws.get_caller_identity_output().account_id
ecs_mode = settings.compute == "ecs"

# --- AWS foundation: key, network, database, secrets, IAM --------------------------------------
key = EncryptionKey("encryption", EncryptionKeyArgs(prefix, settings.region, account_id, settings.protect))
network = Network("network", NetworkArgs(prefix, settings.region, settings.network, key.arn))
firewall = SecurityGroups(
    "security-groups",
    SecurityGroupsArgs(prefix, network.vpc_id, security_groups(settings), security_group_rules(settings)),
)
if settings.network.interface_endpoints:
    InterfaceEndpoints(
        "endpoints",
        InterfaceEndpointsArgs(prefix, settings.region, network.vpc_id, network.private_subnet_ids, firewall.ids["endpoints"]),
    )
database = Database("database", DatabaseArgs(
    prefix, settings.database, network.private_subnet_ids, firewall.ids["database"], key.arn,
    master_secret_name=f"{prefix}/{secret_refs.POSTGRES}", protect=settings.protect,
    log_retention_days=settings.log_retention_days,
))
secrets = PlatformSecrets("secrets", PlatformSecretsArgs(
    prefix, key.arn, database.address, settings.protect, settings.clickhouse,
    external_secret_values(settings.langfuse_sso, settings.langfuse_ee_license_key),
))
platform_keys = LangfuseKeyPair("langfuse-keys-platform", LangfuseKeyPairArgs(
    f"{prefix}/{secret_refs.PLATFORM_KEYS}", "platform", key.arn, settings.protect,
))
team_keys = {
    team.name: LangfuseKeyPair(f"langfuse-keys-team-{team.name}", LangfuseKeyPairArgs(
        f"{prefix}/{secret_refs.team_keys(team.name)}", team.name, key.arn, settings.protect, team.existing_keys,
        retain_on_removal=settings.protect,
    ))
    for team in settings.teams
}
secret_versions = {
    **secrets.versions,
    secret_refs.POSTGRES: database.master_secret_version,
    secret_refs.PLATFORM_KEYS: platform_keys.version,
    **{secret_refs.team_keys(name): pair.version for name, pair in team_keys.items()},
}
secret_arns = {
    **secrets.arns,
    secret_refs.POSTGRES: database.master_secret_arn,
    secret_refs.PLATFORM_KEYS: platform_keys.arn,
    **{secret_refs.team_keys(name): pair.arn for name, pair in team_keys.items()},
}
if settings.docker_hub_credentials:
    docker_hub = RegistryCredentials("docker-hub", RegistryCredentialsArgs(
        f"{prefix}/{secret_refs.DOCKER_HUB}", "Docker Hub", settings.docker_hub_credentials, key.arn, settings.protect,
    ))
    secret_arns[secret_refs.DOCKER_HUB] = docker_hub.arn
secret_arns[secret_refs.TEAM_KEYS] = account_id.apply(lambda a: team_keys_arn_pattern(settings.region, a, prefix))
bedrock = BedrockAccess("bedrock", BedrockAccessArgs(prefix, settings.models, account_id))
secret_access = SecretAccess("secret-access", SecretAccessArgs(
    prefix, settings.region, key.arn, secret_arns, workload_secret_names(settings, proxy_config),
))

# --- Shared edge and storage: load balancer, access logs, Langfuse bucket ----------------------
access_logs = AccessLogs("access-logs", AccessLogsArgs(
    prefix, settings.region, account_id, retention_days=settings.log_retention_days, protect=settings.protect,
))
storage = LangfuseStorage("langfuse-storage", LangfuseStorageArgs(prefix, key.arn, access_logs.bucket_name, settings.protect))
team_plane = TeamPlaneStore("team-plane", TeamPlaneStoreArgs(
    settings, account_id, key.arn, access_logs.bucket_name,
    {name: (pair.arn, pair.version) for name, pair in team_keys.items()}, (platform_keys.arn, platform_keys.version),
))
load_balancer = LoadBalancer("load-balancer", LoadBalancerArgs(
    settings, network.vpc_id, network.public_subnet_ids, firewall.ids["load-balancer"], access_logs.bucket_name,
    target_type="ip" if ecs_mode else "instance",
))

# --- Compute: the same service specs on ECS Fargate, or on one EC2 host ------------------------
host_common = dict(
    name_prefix=prefix, region=settings.region, account_id=account_id, ubuntu_serial=settings.host.ubuntu_serial,
    subnet_id=network.private_subnet_ids[0],
    kms_key_arn=key.arn, protect=settings.protect, log_retention_days=settings.log_retention_days,
)
images = pinned_images(stack_images(settings, proxy_config))
if ecs_mode:
    cache = Cache("cache", CacheArgs(
        prefix, settings.redis, network.private_subnet_ids, firewall.ids["redis"], secrets.redis_auth_token,
        key.arn, settings.log_retention_days,
    ))
    clickhouse = ComposeHost("clickhouse-host", ComposeHostArgs(
        **host_common, role="clickhouse", instance_type=settings.clickhouse.instance_type,
        security_group_id=firewall.ids["clickhouse"], data_volume_gb=settings.clickhouse.data_volume_gb,
        root_volume_gb=30, policy_arns=[secret_access.policy_arns["clickhouse"]],
        user_data=user_data_from_specs(
            settings.region, clickhouse_host_specs(settings), images, secret_arns, CLICKHOUSE_HOST_PUBLISHED,
            secret_versions,
        ),
    )) if settings.clickhouse.hosted else None
    platform = EcsPlatform("ecs", EcsPlatformArgs(
        settings=settings, proxy=proxy_config, account_id=account_id, vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids, security_group_ids=firewall.ids, kms_key_arn=key.arn,
        secret_arns=secret_arns, secrets_policy_arns=secret_access.policy_arns,
        task_policy_arns={"litellm": [bedrock.policy_arn, team_plane.reader_policy_arn], "langfuse": [storage.policy_arn]},
        images=images,
        target_groups={"litellm": load_balancer.target_groups["litellm"].arn,
                       "langfuse-web": load_balancer.target_groups["langfuse"].arn},
        target_group_forwarders={"litellm": load_balancer.forwarders["litellm"],
                                 "langfuse-web": load_balancer.forwarders["langfuse"]},
        database_host=database.address, redis_host=cache.host,
        clickhouse_ip=clickhouse.private_ip if clickhouse else None,
        bucket=storage.bucket_name, langfuse_public_url=load_balancer.langfuse_url,
        secret_versions=secret_versions,
        team_document=team_plane.document_url, team_document_version=team_plane.version_id,
        job_triggers={
            "db-init": pulumi.Output.concat(
                database.master_secret_version, "/", secrets.versions[secret_refs.LITELLM], "/",
                secrets.versions[secret_refs.LANGFUSE],
            ),
            **{project_init_name(settings.team(name)): pair.version for name, pair in team_keys.items()},
            # A replaced ClickHouse host (new image or config) must answer before Langfuse is touched.
            **({"clickhouse-ready": clickhouse.instance_id} if clickhouse else {}),
        },
    ))
    litellm_ready = [platform.services["litellm"]]
    langfuse_ready = [platform.services["langfuse-web"]]
    pulumi.export("clusterName", platform.cluster_name)
    if clickhouse:
        pulumi.export("clickhouseInstanceId", clickhouse.instance_id)
else:
    endpoints = pulumi.Output.all(database.address, storage.bucket_name, load_balancer.langfuse_url, team_plane.document_url).apply(
        lambda v: Endpoints(
            region=settings.region, database_host=v[0], redis_host="redis", redis_tls=False,
            clickhouse_host="clickhouse", langfuse_internal_url=f"http://langfuse-web:{LANGFUSE_WEB_PORT}",
            langfuse_public_url=v[2], bucket=v[1], team_document=v[3],
        )
    )
    host = ComposeHost("gateway-host", ComposeHostArgs(
        **host_common, role="gateway", instance_type=settings.host.instance_type,
        security_group_id=firewall.ids["gateway-host"], data_volume_gb=settings.host.data_volume_gb,
        root_volume_gb=settings.host.root_volume_gb,
        policy_arns=[secret_access.policy_arns["gateway-host"], bedrock.policy_arn, storage.policy_arn,
                     team_plane.reader_policy_arn],
        user_data=user_data_from_specs(
            settings.region, endpoints.apply(lambda e: gateway_host_specs(settings, proxy_config, e)),
            images, secret_arns, GATEWAY_HOST_PUBLISHED, secret_versions,
        ),
        containers_use_instance_role=True,  # LiteLLM calls Bedrock and Langfuse S3 with the host's role
        load_balancer_targets=[
            (load_balancer.target_groups["litellm"].arn, LITELLM_PORT),
            (load_balancer.target_groups["langfuse"].arn, LANGFUSE_WEB_PORT),
        ],
    ))
    # Teams are created through the load balancer: after the host and what routes to it.
    litellm_ready = [host, *load_balancer.listeners, *load_balancer.forwarders["litellm"]]
    langfuse_ready = [host, *load_balancer.listeners, *load_balancer.forwarders["langfuse"]]
    pulumi.export("hostInstanceId", host.instance_id)

# --- Teams as code: each team exists in LiteLLM with exactly its name as team_id ---------------
for team in settings.teams:
    LiteLLMTeam(
        f"litellm-team-{team.name}",
        LiteLLMTeamArgs(
            proxy_url=load_balancer.litellm_url, master_key=secrets.litellm_master_key, team_id=team.name,
            models=team.models, max_budget=team.max_budget, budget_duration=team.budget_duration,
            rpm_limit=team.rpm_limit, tpm_limit=team.tpm_limit,
        ),
        opts=pulumi.ResourceOptions(depends_on=litellm_ready),
    )
    if settings.langfuse_organization_keys:  # enterprise Langfuse: projects through its API
        organization = settings.langfuse_organization_keys
        LangfuseProject(
            f"langfuse-project-{team.name}",
            LangfuseProjectArgs(
                langfuse_url=load_balancer.langfuse_url,
                organization_public_key=pulumi.Output.secret(organization.public_key.reveal()),
                organization_secret_key=pulumi.Output.secret(organization.secret_key.reveal()),
                project_name=team.name,
                public_key=team_keys[team.name].public_key,
                secret_key=team_keys[team.name].secret_key,
            ),
            # Deleting the project deletes its traces: in prod a removed team's project stays.
            opts=pulumi.ResourceOptions(depends_on=langfuse_ready, retain_on_delete=settings.protect),
        )

# --- Outputs: endpoints and ARNs only, never a secret value ------------------------------------
pulumi.export("environment", settings.environment)
pulumi.export("litellmUrl", load_balancer.litellm_url)
pulumi.export("langfuseUrl", load_balancer.langfuse_url)
pulumi.export("loadBalancerDnsName", load_balancer.dns_name)
if load_balancer.manual_dns_records is not None:
    pulumi.export("dnsRecordsToCreate", load_balancer.manual_dns_records)
pulumi.export("resolvedImages", images)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("databaseAddress", database.address)
pulumi.export("langfuseBucket", storage.bucket_name)
pulumi.export("kmsKeyArn", key.arn)
pulumi.export("masterKeySecretArn", secrets.arns[secret_refs.LITELLM])
pulumi.export("langfuseSecretArn", secrets.arns[secret_refs.LANGFUSE])
pulumi.export("platformLangfuseSecretArn", platform_keys.arn)
pulumi.export("teamPlaneDocument", team_plane.document_url)
pulumi.export("teamLangfuseSecretArns", {name: pair.arn for name, pair in team_keys.items()})
pulumi.export("bedrockPolicyArn", bedrock.policy_arn)
