"""IAM before use: whatever runs with (or hands AWS) an IAM role is created and updated only after the
role's permissions exist. Pulumi orders steps by the dependencies a registration declares; a consumer
that depends on the role alone may start while a replaced policy attachment is not yet created (a new
task's AccessDenied, counted by ECS's circuit breaker). The test walks the dependency closure the whole
program registers under the mocks."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest

from policy.rules import strings_in
from tests.support.program import run_shipped
from tests.support.pulumi_mocks import ProgramRun, Registration, unwrap
from tests.support.variants import STG_EC2, STG_ECS

ROLE = "aws:iam/role:Role"
GRANTS = ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/rolePolicy:RolePolicy")
PROFILE = "aws:iam/instanceProfile:InstanceProfile"


def strings(value) -> Iterator[str]:
    """Every string in a value, and in JSON text inside it (ECS container definitions, policies)."""
    for text in strings_in(value):
        yield text
        if text[:1] in "[{":
            with contextlib.suppress(ValueError):
                yield from strings(json.loads(text))


def consumers_and_grants(run: ProgramRun) -> list[tuple[Registration, Registration, list[Registration]]]:
    """(consumer, role, the role's grants) for every resource that names a role's ARN, or an instance
    profile of the role, in its inputs."""
    found = []
    for role in run.of_type(ROLE):
        grants = [g for g in run.resources if g.typ in GRANTS and g.input("role") in (role.outputs["name"], role.id)]
        names = {role.outputs["arn"]} | {p.outputs["name"] for p in run.of_type(PROFILE) if p.input("role") == role.outputs["name"]}
        for consumer in run.resources:
            if consumer.typ in (*GRANTS, PROFILE, ROLE):
                continue
            if names & set(strings(unwrap(consumer.inputs))):
                found.append((consumer, role, grants))
    return found


@pytest.mark.parametrize("run", [
    pytest.param(lambda: run_shipped("prod"), id="prod-ecs"),
    pytest.param(lambda: run_shipped("stg"), id="stg-ec2"),
    pytest.param(STG_ECS.run, id="stg-ecs"),
    pytest.param(STG_EC2.run, id="stg-ec2-variant"),
])
def test_whatever_uses_a_role_waits_for_its_permissions(run):
    run = run()
    found = consumers_and_grants(run)
    assert {"aws:ec2/instance:Instance", "aws:rds/instance:Instance", "aws:ec2/flowLog:FlowLog"} <= {c.typ for c, _, _ in found}
    missing = [
        f"{consumer.typ} {consumer.name} does not wait for {grant.name} (of role {role.name})"
        for consumer, role, grants in found
        for grant in grants
        if grant.urn not in run.waits_for(consumer)
    ]
    assert not missing, "\n".join(missing)


def test_services_and_jobs_start_after_their_tasks_permissions():
    run = run_shipped("prod")
    grants_of = {}
    for consumer, _, grants in consumers_and_grants(run):
        grants_of.setdefault(consumer.outputs.get("arn"), []).extend(grants)
    runners = [*run.of_type("aws:ecs/service:Service"),
               *(r for r in run.of_type("pulumi-python:dynamic:Resource") if r.input("task_definition_arn"))]
    assert len(runners) == 8  # three services; db-init, two migrators, clickhouse-ready, the team plane's job
    for runner in runners:
        task_definition = runner.input("taskDefinition") or runner.input("task_definition_arn")
        grants = grants_of[task_definition]
        assert len(grants) >= 2 and {g.urn for g in grants} <= run.waits_for(runner), runner.name
