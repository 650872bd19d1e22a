"""scripts/restore.py against moto's EC2, RDS, ECS and SSM: what it creates, and the steps it prints.
Integration tier: moto emulates those services in process (its EC2 backend alone takes seconds to
start), the way the unit tier never runs a tool."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from scripts import restore

REGION = "us-east-1"
STACK = "prod"

# One worker takes the module (make test: --dist loadgroup): moto builds its EC2, RDS, ECS and SSM
# backends once per process, a second or more of CPU each.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("restore")]


@pytest.fixture
def aws(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def test_a_data_volume_comes_back_in_the_host_s_az_with_its_key_and_tags(aws):
    ec2 = boto3.client("ec2", region_name=REGION)
    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    tags = [{"Key": "Name", "Value": "llm-gateway-prod-clickhouse-data"},
            {"Key": "llm-gateway-snapshots", "Value": "llm-gateway-prod"}]
    current = ec2.create_volume(AvailabilityZone="us-east-1b", Size=100, VolumeType="gp3", Encrypted=True, KmsKeyId=key,
                                TagSpecifications=[{"ResourceType": "volume", "Tags": tags}])["VolumeId"]
    # Another stack's volume of the same role is never picked.
    ec2.create_volume(AvailabilityZone="us-east-1a", Size=30, VolumeType="gp3", TagSpecifications=[{"ResourceType": "volume", "Tags": [
        {"Key": "Name", "Value": "llm-gateway-stg-clickhouse-data"}, {"Key": "llm-gateway-snapshots", "Value": "llm-gateway-stg"}]}])
    snapshot = ec2.create_snapshot(VolumeId=current)["SnapshotId"]

    result = restore.restore_volume(ec2, STACK, "clickhouse", snapshot)

    (volume,) = ec2.describe_volumes(VolumeIds=[result["volume"]])["Volumes"]
    assert result["replaces"] == current and result["volume"] != current
    assert (volume["AvailabilityZone"], volume["Size"], volume["VolumeType"]) == ("us-east-1b", 100, "gp3")
    assert volume["Encrypted"] and volume["KmsKeyId"] == key and volume["SnapshotId"] == snapshot
    assert {t["Key"]: t["Value"] for t in volume["Tags"]} == {
        **{t["Key"]: t["Value"] for t in tags}, "RestoredFrom": snapshot}  # still under the snapshot policy
    urn = "urn:pulumi:prod::llm-gateway::llm-gateway:index:ComposeHost$aws:ebs/volume:Volume::clickhouse-host-data"
    assert result["steps"] == [
        "pulumi stack export --stack prod --file prod-state.json",
        f".venv/bin/python scripts/restore.py adopt --state prod-state.json --urn '{urn}' --id {result['volume']}",
        "pulumi stack import --stack prod --file prod-state.json",
        f"pulumi refresh --stack prod --target '{urn}' --yes",
        "pulumi up --stack prod",
    ]


def make_database(rds, ec2) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.50.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in enumerate("ab")]
    group = ec2.create_security_group(GroupName="database", Description="db", VpcId=vpc)["GroupId"]
    rds.create_db_subnet_group(DBSubnetGroupName="database-subnets", DBSubnetGroupDescription="db", SubnetIds=subnets)
    rds.create_db_parameter_group(DBParameterGroupName="database-parameters", DBParameterGroupFamily="postgres17", Description="db")
    rds.create_db_instance(
        DBInstanceIdentifier="llm-gateway-prod-postgres", Engine="postgres", EngineVersion="17.4", DBInstanceClass="db.t4g.small",
        AllocatedStorage=20, MaxAllocatedStorage=200, StorageType="gp3", MasterUsername="gateway_admin", MasterUserPassword="x" * 40,
        DBSubnetGroupName="database-subnets", VpcSecurityGroupIds=[group], DBParameterGroupName="database-parameters",
        MultiAZ=True, BackupRetentionPeriod=14, DeletionProtection=True, CopyTagsToSnapshot=True,
        EnableIAMDatabaseAuthentication=True, StorageEncrypted=True, Tags=[{"Key": "team", "Value": "platform"}],
    )
    return group


def test_postgres_comes_back_at_a_time_as_a_clone_of_the_stack_s_instance(aws):
    rds, ec2 = boto3.client("rds", region_name=REGION), boto3.client("ec2", region_name=REGION)
    group = make_database(rds, ec2)
    at = datetime(2026, 10, 12, 10, 30, tzinfo=UTC)

    result = restore.restore_postgres(rds, STACK, at)

    assert result["instance"] == "llm-gateway-prod-postgres-r202610121030"
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=result["instance"])["DBInstances"]
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == "database-subnets"
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [group]
    assert db["DBParameterGroups"][0]["DBParameterGroupName"] == "database-parameters"
    assert (db["DBInstanceClass"], db["MultiAZ"], db["DeletionProtection"]) == ("db.t4g.small", True, True)
    assert db["IAMDatabaseAuthenticationEnabled"] and {"Key": "team", "Value": "platform"} in db["TagList"]
    assert result["address"] == db["Endpoint"]["Address"] and result["address"].startswith(result["instance"] + ".")
    # The original keeps running, protected: it is forgotten by the state, never deleted.
    (original,) = rds.describe_db_instances(DBInstanceIdentifier="llm-gateway-prod-postgres")["DBInstances"]
    assert original["DBInstanceStatus"] == "available" and original["DeletionProtection"]
    urn = "urn:pulumi:prod::llm-gateway::llm-gateway:index:Database$aws:rds/instance:Instance::database-instance"
    assert result["steps"][0] == f"pulumi config set --stack prod --path database.restoredInstance {result['instance']}"
    assert f"--urn '{urn}' --id {db['DbiResourceId']}" in result["steps"][2]
    assert result["steps"][-1].endswith("restore.py restart-apps --stack prod --compute <ecs|ec2>")


def test_the_latest_restorable_time_names_the_instance_after_now(aws):
    rds, ec2 = boto3.client("rds", region_name=REGION), boto3.client("ec2", region_name=REGION)
    make_database(rds, ec2)
    result = restore.restore_postgres(rds, STACK, None, now=datetime(2026, 10, 12, 11, 5, tzinfo=UTC))
    assert result["instance"] == "llm-gateway-prod-postgres-r202610121105"
    assert rds.describe_db_instances(DBInstanceIdentifier=result["instance"])["DBInstances"]


def test_restart_apps_on_ecs_redeploys_every_database_client(aws):
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="llm-gateway-prod")
    family = ecs.register_task_definition(family="x", containerDefinitions=[{"name": "x", "image": "x", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    for service in restore.DATABASE_CLIENTS:
        ecs.create_service(cluster="llm-gateway-prod", serviceName=service, taskDefinition=family, desiredCount=1)
    assert restore.restart_apps(STACK, "ecs", ecs=ecs) == [f"llm-gateway-prod/{s}" for s in ("litellm", "langfuse-web", "langfuse-worker")]


def test_restart_apps_on_the_host_restarts_its_unit(aws):
    ec2, ssm = boto3.client("ec2", region_name=REGION), boto3.client("ssm", region_name=REGION)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    (instance,) = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "llm-gateway-stg-gateway"}]}])["Instances"]
    assert restore.restart_apps("stg", "ec2", ec2=ec2, ssm=ssm) == [instance["InstanceId"]]
    (command,) = ssm.list_commands()["Commands"]
    assert command["Parameters"]["commands"] == ["systemctl restart llm-gateway.service"]
