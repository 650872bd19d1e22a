"""llm-gateway: compose the stack from validated settings. Nothing else happens here."""

import pulumi
import pulumi_aws as aws

from components.bedrock_access import BedrockAccess, BedrockAccessArgs
from components.database import Database, DatabaseArgs
from components.encryption_key import EncryptionKey, EncryptionKeyArgs
from components.interface_endpoints import InterfaceEndpoints, InterfaceEndpointsArgs
from components.langfuse_key_pair import LangfuseKeyPair, LangfuseKeyPairArgs
from components.network import Network, NetworkArgs
from components.platform_secrets import PlatformSecrets, PlatformSecretsArgs
from components.secret_access import SecretAccess, SecretAccessArgs
from components.security_groups import SecurityGroups, SecurityGroupsArgs
from config import secret_refs
from config.litellm_config import render_proxy_config
from config.network import security_group_rules, security_groups
from config.services import workload_secret_names
from config.stack_config import read_settings

settings = read_settings()  # raises before any resource is registered when the config is bad
proxy_config = render_proxy_config(settings)
prefix = settings.name_prefix
account_id = aws.get_caller_identity_output().account_id

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
))
secrets = PlatformSecrets("secrets", PlatformSecretsArgs(prefix, key.arn, database.address, settings.protect))
platform_keys = LangfuseKeyPair("langfuse-keys-platform", LangfuseKeyPairArgs(
    f"{prefix}/{secret_refs.PLATFORM_KEYS}", "platform", key.arn, settings.protect,
))
team_keys = {
    team.name: LangfuseKeyPair(f"langfuse-keys-team-{team.name}", LangfuseKeyPairArgs(
        f"{prefix}/{secret_refs.team_keys(team.name)}", team.name, key.arn, settings.protect, team.existing_keys,
    ))
    for team in settings.teams
}
secret_arns = {
    **secrets.arns,
    secret_refs.POSTGRES: database.master_secret_arn,
    secret_refs.PLATFORM_KEYS: platform_keys.arn,
    **{secret_refs.team_keys(name): pair.arn for name, pair in team_keys.items()},
}
bedrock = BedrockAccess("bedrock", BedrockAccessArgs(prefix, settings.models, account_id))
secret_access = SecretAccess("secret-access", SecretAccessArgs(
    prefix, settings.region, key.arn, secret_arns, workload_secret_names(settings, proxy_config),
))

# --- Outputs: endpoints and ARNs only, never a secret value ------------------------------------
pulumi.export("environment", settings.environment)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("databaseAddress", database.address)
pulumi.export("kmsKeyArn", key.arn)
pulumi.export("masterKeySecretArn", secrets.arns[secret_refs.LITELLM])
pulumi.export("langfuseSecretArn", secrets.arns[secret_refs.LANGFUSE])
pulumi.export("platformLangfuseSecretArn", platform_keys.arn)
pulumi.export("teamLangfuseSecretArns", {name: pair.arn for name, pair in team_keys.items()})
pulumi.export("bedrockPolicyArn", bedrock.policy_arn)
