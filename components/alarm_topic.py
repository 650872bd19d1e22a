"""Where alarms go: one SNS topic, encrypted with the stack key, and its email subscribers.

Created before everything that alarms (the hosts' status checks notify it too). CloudWatch may
publish to it because the key policy lets the CloudWatch service use the key for this account's
alarms (components/encryption_key.py). Each address receives a confirmation mail from AWS and gets
nothing until someone follows its link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent


@dataclass(frozen=True)
class AlarmTopicArgs:
    name_prefix: str
    kms_key_arn: pulumi.Input[str]
    emails: Sequence[str]


class AlarmTopic(GatewayComponent):
    def __init__(self, name: str, args: AlarmTopicArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self.topic = aws.sns.Topic(
            f"{name}-topic", name=f"{args.name_prefix}-alarms", kms_master_key_id=args.kms_key_arn, opts=self.child(),
        )
        for email in args.emails:
            aws.sns.TopicSubscription(
                f"{name}-{email.lower()}", topic=self.topic.arn, protocol="email", endpoint=email, opts=self.child(),
            )
        self.arn = self.topic.arn
        self.register_outputs({"arn": self.arn})
