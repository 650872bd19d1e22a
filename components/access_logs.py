"""The stack's access-log archive: load balancer access logs and S3 server access logs."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent
from components.secure_bucket import create_secure_bucket, expire_noncurrent


@dataclass(frozen=True)
class AccessLogsArgs:
    name_prefix: str
    region: str
    account_id: pulumi.Input[str]
    retention_days: int
    protect: bool


class AccessLogs(GatewayComponent):
    def __init__(self, name: str, args: AccessLogsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        elb_account = aws.elb.get_service_account_output(region=args.region).arn
        account = pulumi.Output.from_input(args.account_id)

        def delivery(arn: str) -> list[dict]:
            return pulumi.Output.all(elb_account, account).apply(lambda values: [
                {
                    "Sid": "LoadBalancerLogDelivery",
                    "Effect": "Allow",
                    # Older Regions deliver as the regional ELB account, newer ones as the service.
                    "Principal": {"AWS": values[0], "Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/alb/AWSLogs/{values[1]}/*",
                },
                {
                    "Sid": "S3ServerAccessLogDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/s3/*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": values[1]}},
                },
            ])

        self.bucket = create_secure_bucket(
            self, f"{name}-bucket",
            bucket_prefix=f"{args.name_prefix}-access-logs-",
            protect=args.protect,
            kms_key_arn=None,  # ALB log delivery supports SSE-S3 only
            lifecycle_rules=[
                {"id": "expire-logs", "status": "Enabled", "filter": {}, "expiration": {"days": args.retention_days}},
                expire_noncurrent(7),
            ],
            access_log_bucket=None,  # a log bucket does not log into itself
            extra_statements=delivery,
        )
        self.bucket_name = self.bucket.bucket
        self.register_outputs({"bucket": self.bucket_name})
