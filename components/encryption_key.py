"""One customer-managed KMS key for the stack's secrets, logs and data stores."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent


@dataclass(frozen=True)
class EncryptionKeyArgs:
    name_prefix: str
    region: str
    account_id: pulumi.Input[str]
    protect: bool


def key_policy(account_id: str, region: str) -> str:
    """The account administers the key (IAM policies grant use); CloudWatch Logs may use it
    for this account's log groups only; CloudWatch may use it to publish this account's alarms to
    the encrypted alarm topic."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsEncrypt",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:log-group:*"}},
            },
            {
                # Without it CloudWatch cannot publish to a topic encrypted with this key and every
                # notification is dropped (SNS Developer Guide, "Enable compatibility between event
                # sources from AWS services and encrypted topics": principal cloudwatch.amazonaws.com,
                # kms:Decrypt and kms:GenerateDataKey*).
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id},
                              "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account_id}:alarm:*"}},
            },
        ],
    })


class EncryptionKey(GatewayComponent):
    def __init__(self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.name_prefix}: secrets, logs and data stores",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.from_input(args.account_id).apply(lambda account: key_policy(account, args.region)),
            opts=self.child(protect=args.protect),
        )
        aws.kms.Alias(f"{name}-alias", name=f"alias/{args.name_prefix}", target_key_id=self.key.key_id, opts=self.child())
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn})
