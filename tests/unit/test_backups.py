"""Backups and restores under recording mocks: the snapshot policy, the database's stable name."""

from __future__ import annotations

import json

import pytest

from reference import names
from config.loader import SettingsError
from tests.support.program import run_shipped
from tests.support.pulumi_mocks import plain_strings, unwrap
from tests.support.settings import make_settings
from tests.support.variants import (COPY_KEY, EU_ECS, LONGEST_ECS, PROD_ECS, SNAPSHOT_OVERRIDES, STG_EC2,
                                    STG_ECS, Variant, restored_instance)
from tests.unit.test_foundation import secret_values

VOLUME = "aws:ebs/volume:Volume"
POLICY = "aws:dlm/lifecyclePolicy:LifecyclePolicy"
RDS = "aws:rds/instance:Instance"
RECORD = "aws:route53/record:Record"
ZONE = "aws:route53/zone:Zone"


def policy_details(run) -> dict:
    (policy,) = run.of_type(POLICY)
    return unwrap(policy.inputs["policyDetails"])


@pytest.mark.parametrize(("stack", "run", "data_volume"), [
    ("stg", lambda: run_shipped("stg"), "gateway-host-data"), ("prod", lambda: run_shipped("prod"), "clickhouse-host-data"),
    ("stg", STG_ECS.run, "clickhouse-host-data"),
], ids=["stg-ec2", "prod-ecs", "stg-ecs"])
def test_the_snapshot_policy_targets_exactly_the_data_volumes(stack, run, data_volume):
    run = run()
    details = policy_details(run)
    assert details["resourceTypes"] == ["VOLUME"]
    target = details["targetTags"]
    assert target == {names.SNAPSHOT_TAG_KEY: f"llm-gateway-{stack}"}
    tagged = [v.name for v in run.of_type(VOLUME) if target.items() <= (v.input("tags") or {}).items()]
    assert tagged == [data_volume]
    # Root volumes are the instance's own (root_block_device): never tagged, never snapshotted.
    for instance in run.of_type("aws:ec2/instance:Instance"):
        assert "tags" not in (instance.input("rootBlockDevice") or {})


def test_no_snapshot_policy_without_a_compose_host():
    run = EU_ECS.run()  # ECS with an external ClickHouse
    assert EU_ECS.config["clickhouse"]["externalUrl"]
    assert run.of_type(VOLUME) == [] and run.of_type(POLICY) == []


@pytest.mark.parametrize(("stack", "days", "overriding"), [("stg", 7, STG_EC2), ("prod", 30, PROD_ECS)])
def test_snapshots_are_daily_and_kept_per_environment(stack, days, overriding):
    (rule,) = policy_details(run_shipped(stack))["schedules"]
    assert rule["createRule"] == {"interval": 24, "intervalUnit": "HOURS", "times": "03:00"}
    assert rule["retainRule"] == {"interval": days, "intervalUnit": "DAYS"}
    assert rule["copyTags"] is True and "crossRegionCopyRules" not in rule
    assert overriding.stack == stack and SNAPSHOT_OVERRIDES.items() <= overriding.config["backup"].items()
    overridden = policy_details(overriding.run())
    assert overridden["schedules"][0]["retainRule"]["interval"] == 3
    assert overridden["schedules"][0]["createRule"]["times"] == "22:30"


def role_and_key_use(run):
    (policy,) = run.of_type(POLICY)
    (role,) = [r for r in run.of_type("aws:iam/role:Role") if r.outputs["arn"] == policy.input("executionRoleArn")]
    (inline,) = [p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.input("role") == role.id]
    return role, json.loads(inline.input("policy"))


def test_the_policy_role_is_dlm_s_and_may_use_the_volume_key_only():
    run = run_shipped("prod")
    role, key_use = role_and_key_use(run)
    trust = json.loads(role.input("assumeRolePolicy"))
    assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "dlm.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    assert role.input("namePrefix") == "llm-gateway-prod-snapshots-"
    attached = {a.input("policyArn") for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if a.input("role") == role.outputs["name"]}
    assert attached == {"arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole"}
    (key,) = run.of_type("aws:kms/key:Key")
    (statement,) = key_use["Statement"]
    assert statement["Resource"] == [key.outputs["arn"]]
    assert {"kms:Decrypt", "kms:CreateGrant", "kms:ReEncrypt*"} <= set(statement["Action"])


@pytest.mark.parametrize(("variant", "copy_key"), [(PROD_ECS, COPY_KEY), (STG_ECS, None)], ids=["in a given key", "no key"])
def test_copies_go_to_another_region_in_its_key(variant: Variant, copy_key):
    assert variant.config["backup"].get("copyKmsKeyArn") == copy_key
    run = variant.run()
    (rule,) = policy_details(run)["schedules"]
    (copy,) = rule["crossRegionCopyRules"]
    assert copy["target"] == "us-west-2" and copy["encrypted"] is True and copy["copyTags"] is True
    assert copy["retainRule"] == rule["retainRule"]  # as long as the snapshots it copies
    assert copy.get("cmkArn") == copy_key
    (key,) = run.of_type("aws:kms/key:Key")
    _, key_use = role_and_key_use(run)
    assert key_use["Statement"][0]["Resource"] == [key.outputs["arn"], *([copy_key] if copy_key else [])]


@pytest.mark.parametrize(("backup", "database", "problems"), [
    ({"copyToRegion": "us-east-1"}, {}, ["backup.copyToRegion 'us-east-1' must be another Region"]),
    ({"copyKmsKeyArn": COPY_KEY}, {}, ["backup.copyKmsKeyArn", "needs backup.copyToRegion"]),
    ({"copyToRegion": "eu-west-1", "copyKmsKeyArn": COPY_KEY}, {}, ["must be a key in backup.copyToRegion (eu-west-1)"]),
    ({"snapshotTime": "3:00"}, {}, ["backup.snapshotTime"]),
    ({"snapshotRetentionDays": 0}, {}, ["backup.snapshotRetentionDays"]),
    ({}, {"restoredInstance": "llm-gateway-prod-postgres"}, ["must be llm-gateway-prod-postgres-<suffix>"]),
    ({}, {"restoredInstance": "other-prod-postgres-r1"}, ["must be llm-gateway-prod-postgres-<suffix>"]),
    ({}, {"restoredInstance": "llm-gateway-prod-postgres-" + "a" * 40}, ["at most 63 characters"]),
])
def test_the_loader_refuses_bad_backup_settings(backup, database, problems):
    with pytest.raises(SettingsError) as error:
        make_settings(stack="prod", backup=backup, database=database)
    for problem in problems:
        assert problem in str(error.value)


@pytest.mark.parametrize("stack", ["stg", "prod"])  # ec2, ecs
def test_every_database_client_uses_the_stable_name(stack):
    run = run_shipped(stack)
    (db,) = run.of_type(RDS)
    endpoint, name = db.outputs["address"], f"postgres.db.llm-gateway-{stack}.internal"
    (zone,) = run.of_type(ZONE)
    assert zone.input("name") == f"db.llm-gateway-{stack}.internal"
    (vpc,) = run.of_type("aws:ec2/vpc:Vpc")
    assert zone.input("vpcs") == [{"vpcId": vpc.id}]  # private to the stack's VPC
    (record,) = [r for r in run.of_type(RECORD) if r.input("zoneId") == zone.outputs["zoneId"]]
    assert (record.input("name"), record.input("type"), record.input("records")) == (name, "CNAME", [endpoint])
    # No client configuration holds the endpoint: not the secrets, task definitions or user data.
    holders = [r for r in run.resources if r.typ != RECORD and r.name != db.name]
    assert not [r.name for r in holders if any(endpoint in s for s in plain_strings(unwrap(r.inputs)))]
    assert run.outputs["databaseHost"] == name


def test_secrets_carry_the_stable_name():
    values = secret_values(STG_ECS.run())
    for app in ("litellm", "langfuse"):
        assert "@postgres.db.llm-gateway-stg.internal:5432/" in values[app]["databaseUrl"]


@pytest.mark.parametrize(("variant", "prod"), [(STG_EC2, False), (LONGEST_ECS, True)], ids=["stg", "prod"])
def test_a_restored_instance_takes_over_the_name_and_its_own_log_groups(variant: Variant, prod):
    restored = restored_instance(variant.stack)
    assert variant.config["database"] == {"restoredInstance": restored}
    run = variant.run()
    (db,) = run.of_type(RDS)
    assert db.name == "database-instance" and db.input("identifier") == restored  # same resource, adopted
    assert db.protect is prod
    (record,) = [r for r in run.of_type(RECORD) if r.input("type") == "CNAME" and r.input("name").startswith("postgres.")]
    assert record.input("records") == [db.outputs["address"]] and restored in db.outputs["address"]
    groups = {g.input("name"): g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for log in ("postgresql", "upgrade"):
        group = groups[f"/aws/rds/instance/{restored}/{log}"]
        assert group.retain_on_delete is prod  # the replaced instance's logs outlive it in prod
    # The database's alarms watch it, not the replaced instance (which keeps running until deleted).
    database_alarms = [a for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if a.input("namespace") == "AWS/RDS"]
    assert {a.input("dimensions")["DBInstanceIdentifier"] for a in database_alarms} == {restored}
    # The apps' configuration does not change: their secrets still name the stable host.
    if not prod:
        assert "@postgres.db.llm-gateway-stg.internal:5432/" in secret_values(run)["litellm"]["databaseUrl"]
