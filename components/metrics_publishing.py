"""The permission to publish the gateway's own metrics: the hosts' disk usage into the stack's
namespace, and Langfuse's queue metrics into "Langfuse" (its namespace is fixed)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent
from renderers.alarms import LANGFUSE_NAMESPACE, metrics_namespace, put_metric_data_policy


@dataclass(frozen=True)
class MetricsPublishingArgs:
    name_prefix: str


class MetricsPublishing(GatewayComponent):
    def __init__(self, name: str, args: MetricsPublishingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self.policy = aws.iam.Policy(
            f"{name}-put",
            name_prefix=f"{args.name_prefix}-put-metrics-",
            description="Publish metrics into the gateway's namespaces only",
            policy=put_metric_data_policy((metrics_namespace(args.name_prefix), LANGFUSE_NAMESPACE)),
            opts=self.child(),
        )
        self.policy_arn = self.policy.arn
        self.register_outputs({"policyArn": self.policy_arn})
