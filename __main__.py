"""llm-gateway: wire the foundation, the platform and the team plane; export. Nothing else happens here."""

import pulumi

from services import secret_refs
from config.stack_config import read_settings
from program.foundation import build_foundation
from program.monitoring import build_monitoring
from program.platform import TARGET_TYPES, build_platform
from program.team_plane import declare_team_plane

settings = read_settings()  # raises before any resource is registered when the config is bad
foundation = build_foundation(settings, target_type=TARGET_TYPES[settings.compute])
team_plane = declare_team_plane(foundation)
platform = build_platform(settings, foundation, team_plane.platform_inputs())
monitoring = build_monitoring(foundation, platform)

# --- Outputs: endpoints and ARNs only, never a secret value ------------------------------------
load_balancer = foundation.load_balancer
pulumi.export("environment", settings.environment)
pulumi.export("litellmUrl", load_balancer.litellm_url)
pulumi.export("langfuseUrl", load_balancer.langfuse_url)
pulumi.export("loadBalancerDnsName", load_balancer.dns_name)
if load_balancer.manual_dns_records is not None:
    pulumi.export("dnsRecordsToCreate", load_balancer.manual_dns_records)
pulumi.export("resolvedImages", platform.images)
for name, value in platform.exports.items():
    pulumi.export(name, value)
pulumi.export("vpcId", foundation.network.vpc_id)
pulumi.export("databaseAddress", foundation.database.address)
pulumi.export("databaseHost", foundation.database_host)
pulumi.export("langfuseBucket", foundation.storage.bucket_name)
pulumi.export("kmsKeyArn", foundation.key.arn)
pulumi.export("masterKeySecretArn", foundation.secrets.arns[secret_refs.LITELLM])
pulumi.export("langfuseSecretArn", foundation.secrets.arns[secret_refs.LANGFUSE])
pulumi.export("platformLangfuseSecretArn", foundation.platform_keys.arn)
pulumi.export("teamPlaneDocument", team_plane.store.document_url)
pulumi.export("teamLangfuseSecretArns", team_plane.exports)
pulumi.export("teamLitellmKeySecretArns", team_plane.litellm_key_exports)
pulumi.export("bedrockPolicyArn", foundation.bedrock.policy_arn)
pulumi.export("alarmTopicArn", foundation.alarm_topic.arn)
pulumi.export("dashboardName", monitoring.dashboard.dashboard_name)
