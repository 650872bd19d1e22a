"""AWS names: built from the stack name, each within AWS's limit, the stack name bounded by the
tightest of them; and mocks that refuse what AWS would refuse."""

from __future__ import annotations

import re
import uuid

import pytest
from pulumi.runtime.mocks import MockResourceArgs

from reference import names
from config.loader import SettingsError
from tests.support.pulumi_mocks import NAMING, PREFIX_SUFFIX_LENGTH, AwsWouldRefuse, RecordingMocks, run_program
from tests.support.settings import make_settings, runtime_with_secrets, settings_config
from tests.support.variants import LONGEST_EC2, LONGEST_ECS, LONGEST_KEY, LONGEST_STACK, LONGEST_TEAM, STG_ECS

PROJECT = "llm-gateway"
LONGEST = names.max_stack_length(PROJECT)


def aws_names(run) -> list[tuple[str, str, str, str]]:
    """(type, resource, key, name) of every name AWS gives a registration the mocks know the rules of."""
    found = []
    for r in run.resources:
        naming = NAMING.get(r.typ)
        if naming and naming.key in r.outputs:
            found.append((r.typ, r.name, naming.key, r.outputs[naming.key]))
    return found


@pytest.mark.parametrize("variant", [LONGEST_ECS, LONGEST_EC2], ids=["ecs", "ec2"])
def test_the_longest_accepted_stack_name_fits_every_aws_limit(variant):
    # Every feature that adds a name: a team with the longest name and a key of the longest name,
    # interface endpoints, ClickHouse host, a restored database instance.
    assert variant.stack == LONGEST_STACK == "p" * LONGEST
    assert variant.teams == [{"name": LONGEST_TEAM, "keys": [{"name": LONGEST_KEY}]}]
    assert variant.config["network"] == {"interfaceEndpoints": True} and variant.config["database"]["restoredInstance"]
    compute = variant.config["compute"]
    run = variant.run()
    checked = aws_names(run)
    for typ, resource, key, value in checked:
        naming = NAMING[typ]
        assert len(value) <= naming.max_length and re.fullmatch(naming.pattern, value), (typ, resource, key, value)
    for r in run.resources:  # prefixes leave room for the provider's 26 characters
        naming = NAMING.get(r.typ)
        if naming and naming.prefix_key and r.input(naming.prefix_key):
            assert len(r.input(naming.prefix_key)) <= naming.max_length - PREFIX_SUFFIX_LENGTH, (r.typ, r.name)
    kinds = {typ for typ, *_ in checked}
    assert {"aws:lb/loadBalancer:LoadBalancer", "aws:s3/bucket:Bucket", "aws:iam/role:Role",
            "aws:rds/instance:Instance"} <= kinds
    if compute == "ecs":
        assert "aws:elasticache/replicationGroup:ReplicationGroup" in kinds
    assert names.violations(names.prefix(PROJECT, LONGEST_STACK)) == []


def test_the_bound_is_the_tightest_derived_name():
    # One character more and some name built in reference/names.py passes its limit.
    assert names.violations(names.prefix(PROJECT, LONGEST_STACK + "p"))


@pytest.mark.parametrize(
    "stack, expected",
    [
        (LONGEST_STACK + "p", f"stack '{LONGEST_STACK}p' name must have at most {LONGEST} characters"),
        ("Prod", "stack 'Prod' name must match ^[a-z0-9]+(-[a-z0-9]+)*$"),
        ("prod_eu", "stack 'prod_eu' name must match"),
        ("prod.eu", "stack 'prod.eu' name must match"),
        ("prod--eu", "stack 'prod--eu' name must match"),
        ("prod-", "stack 'prod-' name must match"),
    ],
)
def test_stack_names_aws_cannot_carry_are_refused(stack, expected):
    with pytest.raises(SettingsError) as raised:
        make_settings(stack=stack, environment="stg")
    assert any(p.startswith(expected) for p in raised.value.problems), raised.value.problems


def test_a_stack_name_too_long_for_aws_fails_in_the_loader_not_at_aws():
    # Today's main accepted it and built an access-log bucket_prefix S3 refuses (> 37 characters).
    config, secret_keys = runtime_with_secrets(settings_config(stack="staging-eu-west", environment="stg"), None)
    with pytest.raises(SettingsError):
        run_program("staging-eu-west", config, secret_keys)


def test_mocks_complete_names_and_ids_as_aws_does():
    run = STG_ECS.run()
    bucket = run.named("access-logs-bucket", "aws:s3/bucket:Bucket")
    prefix = bucket.input("bucketPrefix")
    assert re.fullmatch(re.escape(prefix) + r"\d{18}[0-9a-f]{8}", bucket.outputs["bucket"])
    (secret, *_) = run.of_type("aws:secretsmanager/secret:Secret")
    assert re.fullmatch(r"arn:aws:secretsmanager:us-east-1:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}", secret.outputs["arn"])
    for version in run.of_type("aws:secretsmanager/secretVersion:SecretVersion"):
        assert uuid.UUID(version.outputs["versionId"]).version == 4
    assert re.fullmatch(r"vpc-[0-9a-f]{17}", run.outputs["vpcId"])
    assert all(re.fullmatch(r"subnet-[0-9a-f]{17}", s) for s in run.subnet_ids("private"))
    (role, *_) = [r for r in run.of_type("aws:iam/role:Role") if not r.input("namePrefix")]
    assert re.fullmatch(re.escape(role.name) + "-[0-9a-f]{7}", role.outputs["name"])  # Pulumi's auto-name


@pytest.mark.parametrize(
    "typ, inputs",
    [
        ("aws:lb/loadBalancer:LoadBalancer", {"name": "llm-gateway-stg-"}),  # a truncation that ends in '-'
        ("aws:lb/loadBalancer:LoadBalancer", {"name": "x" * 33}),
        ("aws:lb/loadBalancer:LoadBalancer", {"name": "internal-gateway"}),
        ("aws:lb/targetGroup:TargetGroup", {"namePrefix": "litellm"}),
        ("aws:elasticache/replicationGroup:ReplicationGroup", {"replicationGroupId": "llm-gateway-Prod-valkey"}),
        ("aws:elasticache/replicationGroup:ReplicationGroup", {"replicationGroupId": "llm--valkey"}),
        ("aws:elasticache/replicationGroup:ReplicationGroup", {"replicationGroupId": "valkey-"}),
        ("aws:elasticache/replicationGroup:ReplicationGroup", {"replicationGroupId": "v" * 41}),
        ("aws:rds/instance:Instance", {"identifier": "d" * 64}),
        ("aws:rds/instance:Instance", {"identifier": "llm_gateway"}),
        ("aws:s3/bucket:Bucket", {"bucket": "Upper-Case"}),
        ("aws:s3/bucket:Bucket", {"bucket": "ab"}),
        ("aws:s3/bucket:Bucket", {"bucketPrefix": "b" * 38}),
        ("aws:iam/role:Role", {"namePrefix": "r" * 39}),
        ("aws:iam/instanceProfile:InstanceProfile", {"namePrefix": "p" * 103}),
        ("aws:iam/policy:Policy", {"namePrefix": "p" * 103}),
    ],
)
def test_mocks_refuse_names_aws_refuses(typ, inputs):
    with pytest.raises(AwsWouldRefuse):
        RecordingMocks().new_resource(MockResourceArgs(typ, "resource", inputs))


@pytest.mark.parametrize(
    "typ, inputs",
    [
        ("aws:lb/loadBalancer:LoadBalancer", {"name": "x" * 32}),
        ("aws:lb/targetGroup:TargetGroup", {"namePrefix": "litell"}),
        ("aws:elasticache/replicationGroup:ReplicationGroup", {"replicationGroupId": "v" * 40}),
        ("aws:s3/bucket:Bucket", {"bucketPrefix": "b" * 37}),
        ("aws:iam/role:Role", {"namePrefix": "r" * 38}),
    ],
)
def test_mocks_accept_names_at_the_limit(typ, inputs):
    RecordingMocks().new_resource(MockResourceArgs(typ, "resource", inputs))
