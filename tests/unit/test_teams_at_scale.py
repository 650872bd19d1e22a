"""Issue 12: O(1) in the number of teams. The whole program under the AWS-shaped mocks, for 1, 2,
30 and 200 teams in both compute modes: every payload stays within AWS's limit, and a team adds
only its key secret (a handful of resources), whatever the count.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from renderers.team_document import DOCUMENT_KEY

from renderers.compose_host.user_data import USER_DATA_LIMIT
from tests.support.pulumi_mocks import ProgramRun, unwrap
from tests.support.variants import STG_EC2, STG_ECS

# One process takes the whole module (make test: --dist loadgroup; make unit: a group is claimed whole):
# its 30- and 200-team runs are the tier's longest, and two processes would wait on each other for them.
pytestmark = pytest.mark.xdist_group("teams-at-scale")

# Largest first: the 2- and 30-team runs are shared with other modules, which another process has
# usually made (tests/support/program.py) by the time this group needs them.
TEAM_COUNTS = (200, 30, 1, 2)
MODES = ("ecs", "ec2")
# EC2 User Guide, "Instance user data": "User data is limited to 16 KB, in raw form, before it is
# base64-encoded".
assert USER_DATA_LIMIT == 16384
# Amazon ECS Developer Guide, "Amazon ECS service quotas": "Task definition size: 64 KiB" (the
# containerDefinitions JSON is what grows).
TASK_DEFINITION_LIMIT = 65536
# IAM User Guide, "IAM and AWS STS quotas": "Managed policy size: 6,144 characters"; "IAM doesn't
# count white space when calculating the size of a policy against this limit". Role inline policies:
# "Role policy size cannot exceed 10,240 characters" (aggregate, whitespace likewise not counted).
MANAGED_POLICY_LIMIT = 6144
INLINE_ROLE_POLICY_LIMIT = 10240
# Secrets Manager User Guide, "Secrets Manager quotas": "Secret value size: 65,536 bytes".
SECRET_VALUE_LIMIT = 65536
# What one more team adds: its Langfuse key pair (two generated UUIDs, the secret and its value);
# and each LiteLLM key of it, its own (a generated value, the secret and its value).
PER_TEAM = {
    "random:index/randomUuid:RandomUuid": 2,
    "aws:secretsmanager/secret:Secret": 1,
    "aws:secretsmanager/secretVersion:SecretVersion": 1,
}
PER_KEY = {
    "random:index/randomId:RandomId": 1,
    "aws:secretsmanager/secret:Secret": 1,
    "aws:secretsmanager/secretVersion:SecretVersion": 1,
}
VARIANTS = {"ecs": STG_ECS, "ec2": STG_EC2}


def program(compute: str, team_count: int) -> ProgramRun:
    """The stg variant of that compute mode with `team_count` teams (for 2, the variant itself)."""
    return VARIANTS[compute].with_teams(team_count).run()


def key_count(compute: str, team_count: int) -> int:
    return sum(len(team.get("keys", ())) for team in VARIANTS[compute].with_teams(team_count).teams)


def iam_size(document: str) -> int:
    return len(re.sub(r"\s", "", document))


def payloads(run: ProgramRun) -> dict[str, tuple[int, int]]:
    """Every size-limited AWS payload of the run: name -> (size, AWS's limit)."""
    sizes = {}
    for instance in run.of_type("aws:ec2/instance:Instance"):
        sizes[f"user data of {instance.name}"] = (len(unwrap(instance.input("userData")).encode()), USER_DATA_LIMIT)
    for task in run.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        sizes[f"task definition {task.name}"] = (len(unwrap(task.input("containerDefinitions")).encode()), TASK_DEFINITION_LIMIT)
    for policy in run.of_type("aws:iam/policy:Policy"):
        sizes[f"managed policy {policy.name}"] = (iam_size(unwrap(policy.input("policy"))), MANAGED_POLICY_LIMIT)
    inline = Counter()
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        inline[policy.input("role")] += iam_size(unwrap(policy.input("policy")))
    sizes |= {f"inline policies of role {role}": (size, INLINE_ROLE_POLICY_LIMIT) for role, size in inline.items()}
    for version in run.of_type("aws:secretsmanager/secretVersion:SecretVersion"):
        sizes[f"secret value {version.name}"] = (len(unwrap(version.input("secretString")).encode()), SECRET_VALUE_LIMIT)
    return sizes


@pytest.mark.parametrize("compute", MODES)
@pytest.mark.parametrize("team_count", TEAM_COUNTS)
def test_every_payload_stays_within_its_aws_limit(compute, team_count):
    sizes = payloads(program(compute, team_count))
    assert any(name.startswith("user data") for name in sizes)
    assert any(name.startswith("task definition") for name in sizes) == (compute == "ecs")
    over = {name: size for name, size in sizes.items() if size[0] > size[1]}
    assert over == {}, f"{team_count} teams ({compute}): over AWS's limit (size, limit): {over}"


@pytest.mark.parametrize("compute", MODES)
def test_no_payload_grows_with_the_teams_but_the_document(compute):
    """Apart from the team-plane document, every payload is the same size for 2 teams and 200."""
    few, many = payloads(program(compute, 2)), payloads(program(compute, 200))
    grown = {name: (few[name][0], size) for name, (size, _) in many.items() if name in few and size != few[name][0]}
    assert grown == {}


def kinds(run: ProgramRun) -> Counter:
    """Custom resources by type."""
    return Counter(resource.typ for resource in run.resources if resource.custom)


@pytest.mark.parametrize("compute", MODES)
def test_a_team_adds_its_key_secrets_and_little_else(compute):
    counts = {n: kinds(program(compute, n)) for n in TEAM_COUNTS}
    for low, high in ((1, 2), (30, 200)):
        keys = key_count(compute, high) - key_count(compute, low)
        expected = Counter({kind: count * (high - low) for kind, count in PER_TEAM.items()})
        expected.update({kind: count * keys for kind, count in PER_KEY.items()})
        assert counts[high] - counts[low] == expected, f"{compute}, {low} -> {high} teams ({keys} keys more)"
    assert key_count(compute, 2) - key_count(compute, 1) == 1  # the second team has a key: both counts are proven
    assert sum(PER_TEAM.values()) <= 4 and sum(PER_KEY.values()) <= 3


@pytest.mark.parametrize("compute", MODES)
def test_the_document_carries_every_team_and_no_secret_value(compute):
    run = program(compute, 200)
    document = team_document_object(run)
    assert document.input("key") == "team-plane/desired.json" and document.input("contentType") == "application/json"
    content = json.loads(unwrap(document.input("content")))
    assert [team["name"] for team in content["teams"]] == sorted(["mle", "home-rentals", *(f"team-{i:03d}" for i in range(198))])
    arns = {secret.outputs["arn"] for secret in run.of_type("aws:secretsmanager/secret:Secret")}
    assert {team["keySecretArn"] for team in content["teams"]} <= arns
    assert "sk-lf-" not in unwrap(document.input("content"))


def test_a_new_document_rolls_litellm_on_ecs_and_never_replaces_the_host():
    """Adding a team: one new document version. LiteLLM's task definition pins it, so ECS rolls
    LiteLLM onto it, and a rollback (the previous revision) or a scale-out starts on the document
    its revision was deployed with; the host's user data (whose change replaces the host) never
    carries it: the host's LiteLLM reads the latest."""
    ecs, ec2 = program("ecs", 2), program("ec2", 2)
    document = team_document_object(ecs)
    (task,) = [t for t in ecs.of_type("aws:ecs/taskDefinition:TaskDefinition") if t.input("family").endswith("-litellm")]
    (litellm,) = json.loads(task.input("containerDefinitions"))
    environment = {e["name"]: e["value"] for e in litellm["environment"]}
    assert environment["LLM_GATEWAY_TEAM_DOCUMENT_VERSION"] == document.outputs["versionId"]
    (service,) = [s for s in ecs.of_type("aws:ecs/service:Service") if s.input("name") == "litellm"]
    assert document.outputs["versionId"] not in json.dumps(service.input("triggers"))  # the revision rolls it
    others = [t for t in ecs.of_type("aws:ecs/taskDefinition:TaskDefinition") if t is not task]
    assert not [t.input("family") for t in others if document.outputs["versionId"] in t.input("containerDefinitions")]
    host_document = team_document_object(ec2)
    (host,) = ec2.of_type("aws:ec2/instance:Instance")
    assert host_document.outputs["versionId"] not in unwrap(host.input("userData"))
    (more,) = program("ec2", 30).of_type("aws:ec2/instance:Instance")
    # 28 teams more: the same host. The secret versions' ids differ between two runs (each run
    # generates new passwords), so that line is compared by the secrets it names.
    assert without_version_ids(unwrap(more.input("userData"))) == without_version_ids(unwrap(host.input("userData")))


def team_document_object(run):
    """The store's document (the other object is the code, named by its SHA-256)."""
    (document,) = [o for o in run.of_type("aws:s3/bucketObjectv2:BucketObjectv2") if o.input("key") == DOCUMENT_KEY]
    return document


def without_version_ids(user_data: str) -> str:
    return re.sub(r"=[0-9a-f-]{36}", "=<version>", user_data)
