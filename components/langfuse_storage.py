"""Langfuse's blob storage: one bucket with events/, media/ and exports/ prefixes.

Encrypted with the stack key, versioned, private, TLS-only, access-logged; the Langfuse
workload reads and writes it through its IAM identity (no static keys anywhere).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent
from components.secure_bucket import create_secure_bucket, expire_noncurrent
from reference import names
from services.specs import EVENTS_PREFIX

EVENTS_RETENTION_DAYS = 30


@dataclass(frozen=True)
class LangfuseStorageArgs:
    name_prefix: str
    kms_key_arn: pulumi.Input[str]
    access_log_bucket: pulumi.Input[str]
    protect: bool


def access_policy(bucket_arn: str, kms_key_arn: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": f"{bucket_arn}/*",
            },
            {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": kms_key_arn},
        ],
    }, indent=1)


class LangfuseStorage(GatewayComponent):
    def __init__(self, name: str, args: LangfuseStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self.bucket = create_secure_bucket(
            self, f"{name}-bucket",
            bucket_prefix=names.bucket_prefix(args.name_prefix, "langfuse"),
            protect=args.protect,
            kms_key_arn=args.kms_key_arn,
            lifecycle_rules=[
                expire_noncurrent(30),
                # Batch exports are downloads for people, not records: a week is plenty.
                {"id": "expire-exports", "status": "Enabled", "filter": {"prefix": "exports/"}, "expiration": {"days": 7}},
                # Raw ingestion events: the worker has written them to ClickHouse within minutes; Langfuse's
                # blob-storage guide suggests 30 days (late updates of older traces, rare with OTEL, would
                # lose their merge base). Never media/: traces reference those objects for good.
                {"id": "expire-events", "status": "Enabled", "filter": {"prefix": EVENTS_PREFIX},
                 "expiration": {"days": EVENTS_RETENTION_DAYS}},
            ],
            access_log_bucket=args.access_log_bucket,
        )
        self.policy = aws.iam.Policy(
            f"{name}-access",
            name_prefix=f"{args.name_prefix}-langfuse-storage-",
            description="Langfuse reads and writes its bucket",
            policy=pulumi.Output.all(self.bucket.arn, args.kms_key_arn).apply(lambda v: access_policy(*v)),
            opts=self.child(),
        )
        self.bucket_name = self.bucket.bucket
        self.policy_arn = self.policy.arn
        self.register_outputs({"bucket": self.bucket_name, "policyArn": self.policy_arn})
