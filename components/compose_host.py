"""A Graviton EC2 host that runs service specs with docker compose, its data on its own volume.

Used for the ClickHouse host (ECS mode) and for the whole staging platform (EC2 mode). The
host lives in a private subnet with no SSH key and no port 22 (Session Manager only), requires
IMDSv2, encrypts both volumes with the stack key, and fetches its secrets from Secrets Manager at
boot. Data lives on a separate gp3 volume (protected under `protect`): a new config, or a new
image when the operator moves `host.ubuntuSerial`, replaces the instance (the old one first: the
volume attaches to one instance at a time), and the replacement re-attaches the same volume. The
instance recovers itself when AWS's status check fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent, after
from reference import names
from services.specs import ServiceSpec
from renderers.compose_host.boot import boot
from renderers.compose_host.layout import ComposeHostPlan, DiskMetrics

UserData = Callable[[pulumi.Output[str], pulumi.Output[str]], pulumi.Input[str]]

# Canonical's public parameter per image serial; `current` follows each new image. "In place of
# `current`, the serial number given to an image can also be used" (canonical/ubuntu-cloud-docs,
# aws/aws-how-to/instances/find-ubuntu-images.rst).
UBUNTU_ARM64_AMI = "/aws/service/canonical/ubuntu/server/24.04/stable/{serial}/arm64/hvm/ebs-gp3/ami-id"
CURRENT = "current"
DATA_DEVICE = "/dev/sdf"


@dataclass(frozen=True)
class ComposeHostArgs:
    name_prefix: str
    role: str  # "clickhouse" or "gateway": names and tags
    region: str
    account_id: pulumi.Input[str]
    instance_type: str
    ubuntu_serial: str  # the pinned image (settings host.ubuntuSerial), never `current`
    subnet_id: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    data_volume_gb: int
    root_volume_gb: int
    protect: bool
    log_retention_days: int
    policy_arns: Sequence[pulumi.Input[str]]  # secrets read, and the workloads' own permissions
    user_data: UserData  # (volume id, log group name) -> cloud-config; see `user_data_from_specs`
    # Containers that call AWS through the instance role sit one network hop behind the host.
    containers_use_instance_role: bool = False
    load_balancer_targets: Sequence[tuple[pulumi.Input[str], int]] = ()  # (target group ARN, port)
    alarm_topic_arn: pulumi.Input[str] | None = None  # who is told when a status check fails
    # What its first boot reaches, so the instance is launched only once it exists: the subnet's route
    # to the internet (components/network.py `private_egress`; cloud-init's package module runs once
    # per instance and retries apt only while another process holds its lock, never on a network
    # error: cloud-init config/cc_package_update_upgrade_install.py PER_INSTANCE, distros/debian.py
    # `_wait_for_apt_command`), and for the gateway host PostgreSQL (its boot runs db-init).
    boot_after: Sequence[pulumi.Resource] = ()


def ec2_trust_policy() -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    })


class ComposeHost(GatewayComponent):
    def __init__(self, name: str, args: ComposeHostArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        prefix = f"{args.name_prefix}-{args.role}"
        subnet = aws.ec2.get_subnet_output(id=args.subnet_id)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/{args.name_prefix}/{args.role}-host",
            retention_in_days=args.log_retention_days, kms_key_id=args.kms_key_arn, opts=self.child(),
        )
        role = aws.iam.Role(f"{name}-role", name_prefix=names.host_role_prefix(args.name_prefix, args.role), assume_role_policy=ec2_trust_policy(), opts=self.child())
        managed = ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", *args.policy_arns]
        grants = [
            aws.iam.RolePolicyAttachment(f"{name}-policy-{i}", role=role.name, policy_arn=policy_arn, opts=self.child())
            for i, policy_arn in enumerate(managed)
        ]
        grants.append(aws.iam.RolePolicy(
            f"{name}-logs",
            role=role.id,
            policy=self.log_group.arn.apply(lambda arn: json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{arn}:*"}],
            })),
            opts=self.child(),
        ))
        profile = aws.iam.InstanceProfile(f"{name}-profile", name_prefix=names.host_role_prefix(args.name_prefix, args.role), role=role.name, opts=self.child())

        self.data_volume = aws.ebs.Volume(
            f"{name}-data",
            availability_zone=subnet.availability_zone,
            size=args.data_volume_gb,
            type="gp3",
            encrypted=True,
            kms_key_id=args.kms_key_arn,
            # The tag puts it under the stack's snapshot policy (components/volume_snapshots.py).
            tags={"Name": f"{prefix}-data", **names.snapshot_target_tags(args.name_prefix)},
            opts=self.child(protect=args.protect),
        )
        self.instance = aws.ec2.Instance(
            f"{name}-instance",
            ami=ubuntu_ami(args.ubuntu_serial),
            instance_type=args.instance_type,
            subnet_id=args.subnet_id,
            vpc_security_group_ids=[args.security_group_id],
            iam_instance_profile=after(profile.name, grants),  # the boot fetches secrets with these
            associate_public_ip_address=False,
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 2 if args.containers_use_instance_role else 1,
                # Containers reach the IMDS only by IPv4, where the host's firewall picks them (renderers/compose_host/imds.py).
                "http_protocol_ipv6": "disabled",
            },
            root_block_device={
                "volume_size": args.root_volume_gb, "volume_type": "gp3", "encrypted": True, "kms_key_id": args.kms_key_arn,
            },
            ebs_optimized=True,
            monitoring=True,
            user_data=args.user_data(self.data_volume.id, self.log_group.name),
            # A new config or a moved image means a new host; the data volume moves over to it.
            user_data_replace_on_change=True,
            tags={"Name": prefix},
            opts=self.child(delete_before_replace=True, depends_on=list(args.boot_after)),
        )
        aws.ec2.VolumeAttachment(
            f"{name}-data",
            device_name=DATA_DEVICE,
            volume_id=self.data_volume.id,
            instance_id=self.instance.id,
            stop_instance_before_detaching=True,
            opts=self.child(delete_before_replace=True),
        )
        notify = [args.alarm_topic_arn] if args.alarm_topic_arn else []
        for check, action in (("System", f"arn:aws:automate:{args.region}:ec2:recover"),
                              ("Instance", f"arn:aws:automate:{args.region}:ec2:reboot")):
            aws.cloudwatch.MetricAlarm(
                f"{name}-status-{check.lower()}",
                alarm_description=f"{prefix}: {check.lower()} status check failed",
                namespace="AWS/EC2",
                metric_name=f"StatusCheckFailed_{check}",
                dimensions={"InstanceId": self.instance.id},
                statistic="Maximum",
                period=60,
                evaluation_periods=2,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                alarm_actions=[action, *notify],
                ok_actions=notify or None,
                opts=self.child(),
            )
        for i, (target_group_arn, port) in enumerate(args.load_balancer_targets):
            aws.lb.TargetGroupAttachment(
                f"{name}-target-{i}", target_group_arn=target_group_arn, target_id=self.instance.id, port=port,
                opts=self.child(),
            )
        self.private_ip = self.instance.private_ip
        self.instance_id = self.instance.id
        self.register_outputs({"instanceId": self.instance_id, "privateIp": self.private_ip})


def ubuntu_ami(serial: str) -> pulumi.Output[str]:
    """The AMI of the pinned image serial; tells the operator when Canonical has a newer one."""
    pinned = aws.ssm.get_parameter_output(name=UBUNTU_ARM64_AMI.format(serial=serial)).value
    current = aws.ssm.get_parameter_output(name=UBUNTU_ARM64_AMI.format(serial=CURRENT)).value
    pulumi.Output.all(pinned, current).apply(lambda amis: _note_newer_image(serial, *amis))
    return pinned


def _note_newer_image(serial: str, pinned: str, current: str) -> None:
    if pinned != current:
        pulumi.log.info(
            f"Canonical's current Ubuntu 24.04 arm64 image is {current}; the hosts run serial {serial} ({pinned}). "
            "Moving host.ubuntuSerial replaces the hosts: see README, 'Moving the hosts to a new Ubuntu image'."
        )


def user_data_from_specs(
    region: str,
    specs: pulumi.Input[tuple[ServiceSpec, ...]],
    images: Mapping[str, pulumi.Input[str]],
    secret_arns: Mapping[str, pulumi.Input[str]],
    published: Mapping[str, Collection[int]],
    secret_versions: Mapping[str, pulumi.Input[str]],
    disk_metrics: DiskMetrics | None = None,
) -> UserData:
    """The host's cloud-config from its specs, joined with deploy-time values at the edge.

    The host reads its secrets when it boots, so the versions of the secrets its services use are
    part of the user data (renderers/compose_host/layout.py `ComposeHostPlan.secret_versions`).
    """

    def render(volume_id: pulumi.Output[str], log_group: pulumi.Output[str]) -> pulumi.Output[str]:
        resolved = pulumi.Output.all(
            images=dict(images), arns=dict(secret_arns), volume=volume_id, group=log_group,
            versions=dict(secret_versions),
        )
        return pulumi.Output.from_input(specs).apply(lambda host_specs: resolved.apply(lambda v: boot(
            ComposeHostPlan(
                specs=tuple(host_specs),
                images={spec.name: v["images"][spec.image] for spec in host_specs},
                secret_arns=v["arns"],
                region=region,
                data_volume_id=v["volume"],
                published=published,
                log_group=v["group"],
                disk_metrics=disk_metrics,
                secret_versions=v["versions"],
            )
        ).user_data))

    return render
