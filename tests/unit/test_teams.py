"""Teams as code in the program: each team is a LiteLLM team and a Langfuse project, wired to the
deployed proxy and its own keys; adding one is one config entry."""

from __future__ import annotations

import json

import pytest

from tests.support.program import run_config
from tests.support.pulumi_mocks import is_secret

DYNAMIC = "pulumi-python:dynamic:Resource"
LICENSE = "langfuse_ee_0123456789abcdef"
TEAMS = [
    {"name": "mle", "maxBudget": 200, "budgetDuration": "30d"},
    {"name": "home-rentals", "models": ["titan"], "rpmLimit": 120, "tpmLimit": 50000},
]


def litellm_teams(run):
    return {r.name.removeprefix("litellm-team-"): r for r in run.of_type(DYNAMIC) if r.name.startswith("litellm-team-")}


@pytest.mark.parametrize("compute", ["ecs", "ec2"])
def test_every_team_exists_in_litellm_with_its_name_as_id(compute):
    run = run_config(compute=compute, teams=TEAMS)
    teams = litellm_teams(run)
    assert set(teams) == {"mle", "home-rentals"}
    assert {k: teams["home-rentals"].input(k) for k in ("team_id", "models", "max_budget", "rpm_limit", "tpm_limit")} == {
        "team_id": "home-rentals", "models": ["titan"], "max_budget": None, "rpm_limit": 120, "tpm_limit": 50000,
    }
    assert (teams["mle"].input("max_budget"), teams["mle"].input("budget_duration"), teams["mle"].input("models")) == (200.0, "30d", [])
    for team in teams.values():
        assert team.input("proxy_url") == run.outputs["litellmUrl"]
        assert is_secret(team.inputs["master_key"])
        assert team.input("master_key").startswith("sk-")


def test_teams_wait_for_the_serving_proxy():
    # A dependency on a component reaches the engine as its children: the ECS service (which
    # waits for steady state), or the host with its load balancer registrations.
    ecs = run_config(compute="ecs", teams=TEAMS)
    assert ecs.named("ecs-litellm-service").urn in litellm_teams(ecs)["mle"].dependencies
    ec2 = run_config(compute="ec2", teams=TEAMS)
    waits_for = set(litellm_teams(ec2)["mle"].dependencies)
    assert {ec2.named("gateway-host-instance").urn, ec2.named("gateway-host-target-0").urn} <= waits_for
    assert ec2.named("load-balancer-litellm", "aws:lb/listenerRule:ListenerRule").urn in waits_for  # routed


def test_each_team_project_run_reruns_when_its_keys_change():
    run = run_config(compute="ecs", teams=TEAMS)
    runs = {r.name: r for r in run.of_type(DYNAMIC) if r.name.startswith("ecs-langfuse-project-")}
    assert set(runs) == {"ecs-langfuse-project-mle-run", "ecs-langfuse-project-home-rentals-run"}
    versions = {v.name: v.outputs["versionId"] for v in run.of_type("aws:secretsmanager/secretVersion:SecretVersion")}
    assert runs["ecs-langfuse-project-mle-run"].input("trigger") == versions["langfuse-keys-team-mle-secret"]
    # one after another: the second team's run waits for the first
    assert runs["ecs-langfuse-project-mle-run"].urn in runs["ecs-langfuse-project-home-rentals-run"].dependencies
    # LiteLLM starts without waiting on Langfuse or its project runs: tracing is best effort.
    litellm = run.named("ecs-litellm-service", "aws:ecs/service:Service")
    langfuse_web = run.named("ecs-langfuse-web-service", "aws:ecs/service:Service")
    assert not ({r.urn for r in runs.values()} | {langfuse_web.urn}) & set(litellm.dependencies)


@pytest.mark.parametrize("stack, retained", [("stg", False), ("prod", True)])
def test_an_organization_key_manages_each_project_through_the_langfuse_api(stack, retained):
    run = run_config(
        stack=stack, compute="ecs", teams=TEAMS,
        secrets={"langfuseOrganizationKeys": {"publicKey": "pk-lf-org", "secretKey": "sk-lf-org"},
                 "langfuseEeLicenseKey": LICENSE},
    )
    projects = {r.name: r for r in run.of_type(DYNAMIC) if r.name.startswith("langfuse-project-")}
    assert set(projects) == {"langfuse-project-mle", "langfuse-project-home-rentals"}
    mle = projects["langfuse-project-mle"]
    assert mle.input("project_name") == "mle" and mle.input("langfuse_url") == run.outputs["langfuseUrl"]
    for key in ("organization_public_key", "organization_secret_key", "public_key", "secret_key"):
        assert is_secret(mle.inputs[key]), key
    assert mle.retain_on_delete is retained
    assert run.named("ecs-langfuse-web-service").urn in mle.dependencies
    assert not [r for r in run.resources if r.name.startswith("ecs-langfuse-project-")]  # no one-off runs
    # The organization and project APIs need the enterprise licence in web and worker, by reference.
    (external,) = [s for s in run.of_type("aws:secretsmanager/secret:Secret") if s.input("namePrefix").endswith("/langfuse-external-")]
    for task in run.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        (container,) = json.loads(task.input("containerDefinitions"))
        if container["name"] in ("langfuse-web", "langfuse-worker"):
            secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
            assert secrets["LANGFUSE_EE_LICENSE_KEY"] == external.outputs["arn"] + ":eeLicenseKey::"
            assert LICENSE not in task.input("containerDefinitions")
