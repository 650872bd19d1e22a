"""RDS PostgreSQL shared by LiteLLM and Langfuse, each in its own database with its own user.

The instance is private (no public access, only the apps' security groups), encrypted with the
stack key, forces TLS (`rds.force_ssl`), exports its logs into log groups this component owns
(encrypted, with the stack's retention), keeps automated backups, and under `protect` has deletion
protection and a final snapshot named uniquely per instance, so a later create/delete cycle of the
stack does not collide with an earlier cycle's snapshot.

Application databases and users are not created here (RDS has no API for them). The plan, which
the compute modes implement through the `db-init` service spec (services/database_init.py):
on every deploy, before LiteLLM or Langfuse start, a one-off job connects with the master user
from this component's secret and, idempotently, creates roles `litellm` and `langfuse` when
missing, sets their passwords from the `litellm` / `langfuse` secrets, creates databases of the
same names owned by them, and revokes PUBLIC access so neither app can open the other's database.
ECS runs it as a one-off Fargate task; the EC2 host runs it as a compose job before the apps.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.base import GatewayComponent, after
from components.secret_json import create_json_secret
from reference import names
from services.specs import DATABASE_ADMIN_USER, POSTGRES_PORT
from config.settings import DatabaseSettings

EXPORTED_LOGS = ("postgresql", "upgrade")


@dataclass(frozen=True)
class DatabaseArgs:
    name_prefix: str
    settings: DatabaseSettings
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    master_secret_name: str
    protect: bool
    log_retention_days: int


class Database(GatewayComponent):
    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        settings = args.settings
        master_password = random.RandomPassword(
            f"{name}-master-password", length=40, special=False, opts=self.child(protect=args.protect)
        )
        self.master_secret = create_json_secret(
            self, f"{name}-master",
            secret_name=args.master_secret_name,
            description="PostgreSQL master user (used only by the db-init job)",
            values={"username": DATABASE_ADMIN_USER, "password": master_password.result},
            kms_key_arn=args.kms_key_arn,
            protect=args.protect,
        )
        subnets = aws.rds.SubnetGroup(f"{name}-subnets", subnet_ids=list(args.subnet_ids), opts=self.child())
        parameters = aws.rds.ParameterGroup(
            f"{name}-parameters",
            family=f"postgres{settings.engine_version}",
            parameters=[
                {"name": "rds.force_ssl", "value": "1"},
                {"name": "log_min_duration_statement", "value": "1000"},
            ],
            opts=self.child(),
        )
        monitoring_role = aws.iam.Role(
            f"{name}-monitoring",
            assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "monitoring.rds.amazonaws.com"}, "Action": "sts:AssumeRole"}],
            }),
            opts=self.child(),
        )
        monitoring_grant = aws.iam.RolePolicyAttachment(
            f"{name}-monitoring", role=monitoring_role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole", opts=self.child(),
        )
        identifier = names.database_instance(args.name_prefix, settings.restored_instance)
        # RDS would create these on first export, unencrypted and never expiring; created first, it
        # writes into ours. Named /aws/rds/instance/<identifier>/<log> ("Publishing ... logs to
        # Amazon CloudWatch Logs", RDS User Guide). A restore names new groups; under `protect` the
        # replaced instance's logs stay in CloudWatch.
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{log}-logs", name=f"/aws/rds/instance/{identifier}/{log}",
                retention_in_days=args.log_retention_days, kms_key_id=args.kms_key_arn,
                opts=self.child(retain_on_delete=args.protect or None),
            )
            for log in EXPORTED_LOGS
        ]
        final_snapshot = None
        if args.protect:
            # A snapshot name is taken until the snapshot is deleted: a fixed one would fail the next
            # delete after a destroy/create cycle. The suffix is created and destroyed with the instance.
            # The name must begin with a letter, hold letters, digits and single hyphens and not end
            # with one (terraform-provider-aws website/docs/r/db_instance: final_snapshot_identifier).
            suffix = random.RandomString(
                f"{name}-final-snapshot", length=names.FINAL_SNAPSHOT_SUFFIX_LENGTH, special=False, upper=False,
                opts=self.child(),
            )
            final_snapshot = suffix.result.apply(lambda value: names.final_snapshot(args.name_prefix, value))
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=identifier,
            engine="postgres",
            engine_version=settings.engine_version,
            auto_minor_version_upgrade=True,
            instance_class=settings.instance_class,
            allocated_storage=settings.allocated_storage_gb,
            max_allocated_storage=settings.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            username=DATABASE_ADMIN_USER,
            password=master_password.result,
            port=POSTGRES_PORT,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[args.security_group_id],
            publicly_accessible=False,
            multi_az=settings.multi_az,
            parameter_group_name=parameters.name,
            backup_retention_period=settings.backup_retention_days,
            backup_window="03:00-04:00",
            maintenance_window="sun:04:30-sun:05:30",
            copy_tags_to_snapshot=True,
            enabled_cloudwatch_logs_exports=list(EXPORTED_LOGS),
            iam_database_authentication_enabled=True,
            monitoring_interval=60,
            monitoring_role_arn=after(monitoring_role.arn, [monitoring_grant]),
            performance_insights_enabled=settings.performance_insights,
            performance_insights_kms_key_id=args.kms_key_arn if settings.performance_insights else None,
            performance_insights_retention_period=7 if settings.performance_insights else None,
            deletion_protection=args.protect,
            skip_final_snapshot=not args.protect,
            final_snapshot_identifier=final_snapshot,
            opts=self.child(protect=args.protect, depends_on=log_groups),
        )
        self.address = self.instance.address
        self.port = POSTGRES_PORT
        self.arn = self.instance.arn
        self.master_secret_arn = self.master_secret.arn
        self.master_secret_version = self.master_secret.version_id
        self.register_outputs({"address": self.address, "arn": self.arn, "masterSecretArn": self.master_secret_arn})
