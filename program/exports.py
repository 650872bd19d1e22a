"""What an AWS stack exports: endpoints and ARNs only, never a secret value."""

from __future__ import annotations

from typing import Any

from components.monitoring import Monitoring
from program.foundation import Foundation
from program.platform import Platform
from program.team_plane import TeamPlane
from services import secret_refs


def aws_exports(foundation: Foundation, team_plane: TeamPlane, platform: Platform, monitoring: Monitoring) -> dict[str, Any]:
    load_balancer = foundation.load_balancer
    exports: dict[str, Any] = {
        "environment": foundation.settings.environment,
        "litellmUrl": load_balancer.litellm_url,
        "langfuseUrl": load_balancer.langfuse_url,
        "loadBalancerDnsName": load_balancer.dns_name,
    }
    if load_balancer.manual_dns_records is not None:
        exports["dnsRecordsToCreate"] = load_balancer.manual_dns_records
    exports["resolvedImages"] = platform.images
    exports.update(platform.exports)
    exports.update({
        "vpcId": foundation.network.vpc_id,
        "databaseAddress": foundation.database.address,
        "databaseHost": foundation.database_host,
        "langfuseBucket": foundation.storage.bucket_name,
        "kmsKeyArn": foundation.key.arn,
        "masterKeySecretArn": foundation.secrets.arns[secret_refs.LITELLM],
        "langfuseSecretArn": foundation.secrets.arns[secret_refs.LANGFUSE],
        "platformLangfuseSecretArn": foundation.platform_keys.arn,
        "teamPlaneDocument": team_plane.store.document_url,
        "teamLangfuseSecretArns": team_plane.exports,
        "teamLitellmKeySecretArns": team_plane.litellm_key_exports,
        "bedrockPolicyArn": foundation.bedrock.policy_arn,
        "alarmTopicArn": foundation.alarm_topic.arn,
        "dashboardName": monitoring.dashboard.dashboard_name,
    })
    return exports
