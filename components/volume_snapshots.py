"""Scheduled snapshots of the compose hosts' data volumes, by Amazon Data Lifecycle Manager.

One policy per stack targets the volumes tagged `names.snapshot_target_tags(prefix)` (the
ClickHouse host's and the EC2 host's data volumes carry it): a daily snapshot at
`backup.snapshotTime` UTC, kept `backup.snapshotRetentionDays` days, and with
`backup.copyToRegion` a copy in that Region kept as long, encrypted with `backup.copyKmsKeyArn`
(or that Region's default EBS key). Snapshots are crash-consistent: what the disk held at that
instant, as after a power loss, which ClickHouse's parts (written then renamed) and Valkey's
append-only file recover from.

The volumes are encrypted with the stack key, so the policy's role may use it, and the copy key:
"If the source volume is encrypted, ensure that the Amazon Data Lifecycle Manager default roles
... have permission to use the KMS keys used to encrypt the source volume"; for cross-Region
copies, also the destination key (docs.aws.amazon.com/ebs/latest/userguide/dlm-prerequisites.html,
"Permissions for encryption").
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent, after
from reference import names
from config.settings import BackupSettings

# AWS's policy for the DLM default role (create, copy, tag and delete snapshots).
DLM_SERVICE_POLICY = "arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole"
# What EBS does with a key on the role's behalf: decrypt the source, re-encrypt and grant for the copy.
KEY_ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"]


@dataclass(frozen=True)
class VolumeSnapshotsArgs:
    name_prefix: str
    settings: BackupSettings
    kms_key_arn: pulumi.Input[str]  # the data volumes' key


def schedule(settings: BackupSettings) -> dict:
    """The policy's one schedule: daily, age-based retention, the optional cross-Region copy."""
    keep = {"interval": settings.snapshot_retention_days, "interval_unit": "DAYS"}
    rule: dict = {
        "name": f"daily, {settings.snapshot_retention_days}-day retention",
        "create_rule": {"interval": 24, "interval_unit": "HOURS", "times": settings.snapshot_time},
        "retain_rule": {"interval": keep["interval"], "interval_unit": keep["interval_unit"]},
        "copy_tags": True,
        "tags_to_add": {"SnapshotCreator": "DLM"},
    }
    if settings.copy_to_region:
        copy = {
            "target": settings.copy_to_region,
            "encrypted": True,  # "Copies of encrypted snapshots are encrypted" anyway (API CrossRegionCopyRule)
            "copy_tags": True,
            "retain_rule": keep,
        }
        if settings.copy_kms_key_arn:  # else "the default KMS key for the account is used" (same page)
            copy["cmk_arn"] = settings.copy_kms_key_arn
        rule["cross_region_copy_rules"] = [copy]
    return rule


class VolumeSnapshots(GatewayComponent):
    def __init__(self, name: str, args: VolumeSnapshotsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        role = aws.iam.Role(
            f"{name}-role", name_prefix=names.snapshot_role_prefix(args.name_prefix),
            assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "dlm.amazonaws.com"}, "Action": "sts:AssumeRole"}],
            }),
            opts=self.child(),
        )
        service = aws.iam.RolePolicyAttachment(f"{name}-service", role=role.name, policy_arn=DLM_SERVICE_POLICY, opts=self.child())
        keys = [args.kms_key_arn, *([args.settings.copy_kms_key_arn] if args.settings.copy_kms_key_arn else [])]
        key_use = aws.iam.RolePolicy(
            f"{name}-keys", role=role.id,
            policy=pulumi.Output.all(*keys).apply(lambda arns: json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": KEY_ACTIONS, "Resource": list(arns)}],
            })),
            opts=self.child(),
        )
        self.policy = aws.dlm.LifecyclePolicy(
            f"{name}-policy",
            description=f"{args.name_prefix}: data volumes, daily",
            execution_role_arn=after(role.arn, [service, key_use]),
            state="ENABLED",
            policy_details={
                "resource_types": ["VOLUME"],
                "target_tags": names.snapshot_target_tags(args.name_prefix),
                "schedules": [schedule(args.settings)],
            },
            opts=self.child(),
        )
        self.role_arn = role.arn
        self.register_outputs({"policyArn": self.policy.arn})
