"""Restore a stack's data from its backups, then hand the restored resource to Pulumi.

    restore.py volume --stack prod --role clickhouse --snapshot snap-0123...   a data volume from a DLM snapshot
    restore.py postgres-pitr --stack prod --time 2026-10-12T10:30:00Z           PostgreSQL at that time (or --latest)
    restore.py adopt --state state.json --urn URN --id ID                       point a resource of an exported state at the restored one
    restore.py restart-apps --stack prod --compute ecs                          reconnect the apps after a database restore

The AWS side (a new volume, a new instance) is created here with boto3; Pulumi stays the owner:
each restore prints the exact commands that move the stack's state onto the restored resource
(`pulumi stack export`, `adopt`, `pulumi stack import`, `pulumi refresh`, `pulumi up`). The
resource it replaces is only forgotten, never deleted: it stays in AWS (protected ones keep their
deletion protection) until the operator removes it. Credentials and Region come from the usual
AWS environment (AWS_PROFILE, AWS_REGION).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reference import names# noqa: E402
from renderers.compose_host.user_data import UNIT  # noqa: E402

PROJECT = "llm-gateway"
# The stack's resources whose state a restore moves (__main__.py: component names; their children).
VOLUME_URN = "urn:pulumi:{stack}::" + PROJECT + "::llm-gateway:index:ComposeHost$aws:ebs/volume:Volume::{role}-host-data"
DATABASE_URN = "urn:pulumi:{stack}::" + PROJECT + "::llm-gateway:index:Database$aws:rds/instance:Instance::database-instance"
# ECS services that hold database connections (services/specs.py); the EC2 host runs them all under UNIT.
DATABASE_CLIENTS = ("litellm", "langfuse-web", "langfuse-worker")


def prefix(stack: str) -> str:
    return names.prefix(PROJECT, stack)


def adoption_steps(stack: str, urn: str, new_id: str, config: tuple[str, str] | None = None) -> list[str]:
    """The commands that make Pulumi own the restored resource in place of the one at `urn`."""
    steps = []
    if config:
        steps.append(f"pulumi config set --stack {stack} --path {config[0]} {config[1]}")
    return [
        *steps,
        f"pulumi stack export --stack {stack} --file {stack}-state.json",
        f".venv/bin/python scripts/restore.py adopt --state {stack}-state.json --urn '{urn}' --id {new_id}",
        f"pulumi stack import --stack {stack} --file {stack}-state.json",
        f"pulumi refresh --stack {stack} --target '{urn}' --yes",
        f"pulumi up --stack {stack}",
    ]


# --- data volumes ----------------------------------------------------------------------------
def restore_volume(ec2: Any, stack: str, role: str, snapshot_id: str) -> dict:
    """A new data volume from `snapshot_id`, in the current volume's AZ, with its type, key and tags."""
    (current,) = ec2.describe_volumes(Filters=[
        {"Name": "tag:Name", "Values": [f"{prefix(stack)}-{role}-data"]},
        {"Name": f"tag:{names.SNAPSHOT_TAG_KEY}", "Values": [prefix(stack)]},
    ])["Volumes"]
    (snapshot,) = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
    extra = {key: current[key] for key in ("Iops", "Throughput") if key in current}
    created = ec2.create_volume(
        AvailabilityZone=current["AvailabilityZone"], SnapshotId=snapshot_id, VolumeType=current["VolumeType"],
        Size=max(current["Size"], snapshot["VolumeSize"]), Encrypted=True, KmsKeyId=current["KmsKeyId"],
        TagSpecifications=[{"ResourceType": "volume", "Tags": [
            *current.get("Tags", []), {"Key": "RestoredFrom", "Value": snapshot_id},
        ]}],
        **extra,
    )
    ec2.get_waiter("volume_available").wait(VolumeIds=[created["VolumeId"]])
    return {"volume": created["VolumeId"], "replaces": current["VolumeId"],
            "steps": adoption_steps(stack, VOLUME_URN.format(stack=stack, role=role), created["VolumeId"])}


# --- PostgreSQL ------------------------------------------------------------------------------
def restored_identifier(stack: str, at: datetime | None, now: datetime) -> str:
    """`<prefix>-postgres-r<YYYYmmddHHMM>` of the restore time (of now, for the latest)."""
    return f"{names.database(prefix(stack))}-r{(at or now).astimezone(UTC):%Y%m%d%H%M}"


def restore_postgres(rds: Any, stack: str, at: datetime | None, source: str | None = None,
                     now: datetime | None = None) -> dict:
    """Restore the stack's instance to `at` (None: the latest restorable time) as a new instance
    with the source's network, parameters, size, tags and protection. Monitoring, Performance
    Insights and the log exports follow on the `pulumi up` that adopts it (its log groups first)."""
    source = source or names.database(prefix(stack))
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=source)["DBInstances"]
    target = restored_identifier(stack, at, now or datetime.now(UTC))
    when = {"RestoreTime": at} if at else {"UseLatestRestorableTime": True}
    rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier=source, TargetDBInstanceIdentifier=target, **when,
        DBInstanceClass=db["DBInstanceClass"],
        DBSubnetGroupName=db["DBSubnetGroup"]["DBSubnetGroupName"],
        VpcSecurityGroupIds=[g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]],
        DBParameterGroupName=db["DBParameterGroups"][0]["DBParameterGroupName"],
        MultiAZ=db["MultiAZ"], PubliclyAccessible=False, StorageType=db["StorageType"],
        AutoMinorVersionUpgrade=db["AutoMinorVersionUpgrade"], CopyTagsToSnapshot=db["CopyTagsToSnapshot"],
        EnableIAMDatabaseAuthentication=db["IAMDatabaseAuthenticationEnabled"],
        DeletionProtection=db["DeletionProtection"], Tags=db.get("TagList", []),
        **({"MaxAllocatedStorage": db["MaxAllocatedStorage"]} if "MaxAllocatedStorage" in db else {}),
    )
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=target)
    (restored,) = rds.describe_db_instances(DBInstanceIdentifier=target)["DBInstances"]
    # The provider's id of an instance is its DbiResourceId (terraform-provider-aws v5+).
    steps = adoption_steps(stack, DATABASE_URN.format(stack=stack), restored["DbiResourceId"],
                           config=("database.restoredInstance", target))
    return {"instance": target, "address": restored["Endpoint"]["Address"], "replaces": source,
            "steps": [*steps, f".venv/bin/python scripts/restore.py restart-apps --stack {stack} --compute <ecs|ec2>"]}


# --- state and apps ----------------------------------------------------------------------------
def adopt(state: dict, urn: str, new_id: str) -> dict:
    """The exported state with the resource at `urn` pointing at `new_id` (refresh reads the rest)."""
    found = [r for r in state["deployment"]["resources"] if r["urn"] == urn]
    if len(found) != 1:
        raise SystemExit(f"{urn} is not in this state ({len(found)} matches)")
    found[0]["id"] = new_id
    return state


def restart_apps(stack: str, compute: str, ecs: Any = None, ec2: Any = None, ssm: Any = None) -> list[str]:
    """New connections for every database client: they keep the old instance's until restarted."""
    if compute == "ecs":
        cluster = names.cluster(prefix(stack))
        for service in DATABASE_CLIENTS:  # ECS services are named after their spec
            ecs.update_service(cluster=cluster, service=service, forceNewDeployment=True)
        return [f"{cluster}/{s}" for s in DATABASE_CLIENTS]
    reservations = ec2.describe_instances(Filters=[
        {"Name": "tag:Name", "Values": [f"{prefix(stack)}-gateway"]}, {"Name": "instance-state-name", "Values": ["running"]},
    ])["Reservations"]
    instances = [i["InstanceId"] for r in reservations for i in r["Instances"]]
    ssm.send_command(InstanceIds=instances, DocumentName="AWS-RunShellScript",
                     Parameters={"commands": [f"systemctl restart {UNIT}"]})
    return instances


def _time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give the time with its zone, e.g. 2026-10-12T10:30:00Z")
    return moment


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    volume = commands.add_parser("volume", help="a data volume from a snapshot")
    volume.add_argument("--stack", required=True)
    volume.add_argument("--role", choices=names.HOST_ROLES, required=True, help="clickhouse (ECS mode) or gateway (EC2 mode)")
    volume.add_argument("--snapshot", required=True)
    pitr = commands.add_parser("postgres-pitr", help="PostgreSQL at a point in time, as a new instance")
    pitr.add_argument("--stack", required=True)
    when = pitr.add_mutually_exclusive_group(required=True)
    when.add_argument("--time", type=_time)
    when.add_argument("--latest", action="store_true")
    pitr.add_argument("--source", help="the instance to restore from (default <prefix>-postgres; after a restore, the restored one)")
    adopting = commands.add_parser("adopt", help="point a resource of an exported state at a restored one")
    adopting.add_argument("--state", type=Path, required=True)
    adopting.add_argument("--urn", required=True)
    adopting.add_argument("--id", required=True)
    restart = commands.add_parser("restart-apps", help="reconnect the database clients")
    restart.add_argument("--stack", required=True)
    restart.add_argument("--compute", choices=("ecs", "ec2"), required=True)
    args = parser.parse_args(argv)

    if args.command == "adopt":
        args.state.write_text(json.dumps(adopt(json.loads(args.state.read_text()), args.urn, args.id), indent=4))
        print(f"{args.urn} -> {args.id} in {args.state}")
        return
    if args.command == "restart-apps":
        clients = restart_apps(args.stack, args.compute, ecs=boto3.client("ecs"), ec2=boto3.client("ec2"), ssm=boto3.client("ssm"))
        print("restarted: " + " ".join(clients))
        return
    if args.command == "volume":
        result = restore_volume(boto3.client("ec2"), args.stack, args.role, args.snapshot)
        print(f"restored {result['volume']} (replaces {result['replaces']}, which stays in AWS). Now:")
    else:
        result = restore_postgres(boto3.client("rds"), args.stack, args.time, args.source)
        print(f"restored {result['instance']} ({result['address']}; replaces {result['replaces']}, which keeps running). Now:")
    print("\n".join(f"  {step}" for step in result["steps"]))


if __name__ == "__main__":
    main()
