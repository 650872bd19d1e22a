"""The stack's access-log archive: load balancer access logs and S3 server access logs."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.base import GatewayComponent
from components.secure_bucket import create_secure_bucket, expire_noncurrent
from reference import names
from reference.regions import elb_log_principal


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
        account = pulumi.Output.from_input(args.account_id)
        # The regional ELB account or the log-delivery service: AWS accepts one per Region (reference/regions.py).
        load_balancer = elb_log_principal(args.region)

        def delivery(arn: str) -> pulumi.Output[list[dict]]:
            return account.apply(lambda account_id: [
                {
                    "Sid": "LoadBalancerLogDelivery",
                    "Effect": "Allow",
                    "Principal": load_balancer,
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/alb/AWSLogs/{account_id}/*",
                },
                {
                    "Sid": "S3ServerAccessLogDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/s3/*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                },
            ])

        self.bucket = create_secure_bucket(
            self, f"{name}-bucket",
            bucket_prefix=names.bucket_prefix(args.name_prefix, "access-logs"),
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
