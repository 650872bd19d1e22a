"""Teams as code in the program: each team is a line of the team-plane document, reconciled inside
the VPC by the platform's team-plane job (never from the deploying machine); adding one is one
config entry."""

from __future__ import annotations

import json
import subprocess

import pytest

from components.ecs_platform import SMOKE_JOB, TEAM_PLANE_JOB
from renderers.compose_host.jobs import HOST_RECREATE_SECONDS, host_job_commands, host_job_seconds, job_scratch_dirs
from services.jobs import JobSpec, on_demand_jobs
from renderers.litellm_proxy import render_proxy_config
from services.specs import PLACEHOLDER_ENDPOINTS, gateway_host_specs
from renderers.team_document import DOCUMENT_KEY, smoke_model
from tests.support.pulumi_mocks import unwrap
from tests.support.settings import make_settings
from components.secret_json import RETAINED_TAG
from tests.support.variants import LITELLM_LICENSE, PROD_ECS, STG_EC2, STG_ECS, TEAMS

DYNAMIC = "pulumi-python:dynamic:Resource"
WITH_TEAMS = {"ecs": STG_ECS, "ec2": STG_EC2}  # both with TEAMS


def document(run) -> tuple[object, dict]:
    (stored,) = [o for o in run.of_type("aws:s3/bucketObjectv2:BucketObjectv2") if o.input("key") == DOCUMENT_KEY]
    return stored, json.loads(unwrap(stored.input("content")))


@pytest.mark.parametrize("compute", ["ecs", "ec2"])
def test_every_team_is_in_the_document_with_its_limits_and_key_secret(compute):
    assert [{k: v for k, v in team.items() if k != "langfuseKeys"} for team in WITH_TEAMS[compute].teams] == TEAMS
    run = WITH_TEAMS[compute].run()
    _, content = document(run)
    teams = {team["name"]: team for team in content["teams"]}
    assert {name: (t["models"], t["maxBudget"], t["budgetDuration"], t["rpmLimit"], t["tpmLimit"])
            for name, t in teams.items()} == {
        "mle": ([], 200.0, "30d", None, None), "home-rentals": (["titan"], None, None, 120, 50000)}
    assert {name: t["keySecretArn"] for name, t in teams.items()} == run.outputs["teamLangfuseSecretArns"]


@pytest.mark.parametrize("compute", ["ecs", "ec2"])
def test_nothing_in_the_deploy_talks_to_litellm_or_langfuse(compute):
    """The deploying machine talks to AWS APIs only: no dynamic resource reaches a service's API."""
    run = WITH_TEAMS[compute].run()
    assert {r.name for r in run.of_type(DYNAMIC)} <= {
        *(r.name for r in run.of_type(DYNAMIC) if "task_definition_arn" in r.inputs),  # ECS RunTask
        *(r.name for r in run.of_type(DYNAMIC) if "instance_id" in r.inputs),  # SSM SendCommand
    }
    assert not [r for r in run.of_type(DYNAMIC) if {"proxy_url", "langfuse_url"} & set(r.inputs)]


def test_on_ecs_the_job_runs_after_litellm_and_langfuse_serve_and_again_with_each_document():
    run = STG_ECS.run()
    stored, _ = document(run)
    (job,) = [r for r in run.of_type(DYNAMIC) if r.name == f"ecs-{TEAM_PLANE_JOB}-run"]
    assert job.input("trigger") == stored.outputs["versionId"]
    services = {s.input("name"): s for s in run.of_type("aws:ecs/service:Service")}
    waits_for = {urn for urn in job.dependencies}
    for service in ("litellm", "langfuse-web"):
        assert services[service].urn in waits_for, service  # steady: the service waits for it
    assert job.input("container_name") == "team-plane-verify"  # the job's report and exit code


def test_on_the_host_the_deploy_asks_it_to_run_the_job_then_restarts_litellm():
    run = STG_EC2.run()
    stored, _ = document(run)
    (command,) = [r for r in run.of_type(DYNAMIC) if r.name == f"{TEAM_PLANE_JOB}-run"]
    (host,) = run.of_type("aws:ec2/instance:Instance")
    assert command.input("instance_id") == host.id and command.input("trigger") == stored.outputs["versionId"]
    job = host_jobs(STG_EC2.settings())[TEAM_PLANE_JOB]
    assert command.input("commands") == host_job_commands(job, restart_after=("litellm",), scratch=job_scratch_dirs(job))


def host_jobs(settings) -> dict[str, JobSpec]:
    return on_demand_jobs(gateway_host_specs(settings, render_proxy_config(settings), PLACEHOLDER_ENDPOINTS))


def host_script(tmp_path, job: JobSpec) -> str:
    """The host's command as a script, with docker and systemctl stubbed: each records its call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("docker", "systemctl"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/calls"\n'
                        'case "$*" in *team-plane-verify*) exit "${VERIFY_STATUS:-0}";; *is-failed*) exit 1;; esac\n')
        stub.chmod(0o755)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "langfuse.sql").write_text("secret keys")
    return "\n".join(host_job_commands(job, restart_after=("litellm",), scratch=(str(scratch),))) + "\n"


@pytest.mark.parametrize("verify_status", [0, 1])
def test_the_host_runs_the_steps_in_order_and_recreates_litellm_even_when_a_team_failed(tmp_path, verify_status):
    script = host_script(tmp_path, host_jobs(make_settings(compute="ec2"))[TEAM_PLANE_JOB])
    result = subprocess.run(["sh", "-c", script], env={"PATH": f"{tmp_path}/bin:/usr/bin:/bin",
                                                       "VERIFY_STATUS": str(verify_status)}, capture_output=True, text=True)

    calls = (tmp_path / "calls").read_text().splitlines()
    runs = [call.rsplit(" ", 1)[-1] for call in calls if " run --rm --no-deps " in call]
    assert runs == ["team-plane-plan", "team-plane-apply", "team-plane-verify"]
    assert all("--profile on-demand" in call for call in calls if call.startswith("docker"))
    # The teams that did reconcile take effect: LiteLLM is recreated whatever verify reports.
    assert calls[-1].endswith(f"up --detach --no-deps --force-recreate --wait --wait-timeout {HOST_RECREATE_SECONDS} litellm")
    assert result.returncode == verify_status  # the report's verdict fails the deploy
    assert list((tmp_path / "scratch").iterdir()) == []  # no secret key left behind


def test_a_host_whose_services_failed_to_start_stops_waiting_at_once(tmp_path):
    script = host_script(tmp_path, host_jobs(make_settings(compute="ec2"))[TEAM_PLANE_JOB])
    (tmp_path / "bin" / "systemctl").write_text(f'#!/bin/sh\necho "systemctl $*" >> "{tmp_path}/calls"\n'
                                                 'case "$*" in *is-failed*) exit 0;; *) exit 3;; esac\n')
    result = subprocess.run(["sh", "-c", script], env={"PATH": f"{tmp_path}/bin:/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 1 and "llm-gateway.service is not active" in result.stderr
    assert not [call for call in (tmp_path / "calls").read_text().splitlines() if call.startswith("docker")]



# --- members, keys and the smoke: what a team entry adds -------------------------------------------


def test_members_keys_and_the_smoke_model_are_in_the_team_line():
    run = STG_ECS.run()
    _, content = document(run)
    mle = next(team for team in content["teams"] if team["name"] == "mle")
    (secret,) = [s for s in run.of_type("aws:secretsmanager/secret:Secret")
                 if s.input("namePrefix") == "llm-gateway-stg/litellm-keys/teams/mle/batch-"]
    (version,) = [v for v in run.of_type("aws:secretsmanager/secretVersion:SecretVersion") if v.input("secretId") == secret.id]
    assert mle["members"] == [{"email": "ana.lead@example.com", "role": "admin"}, {"email": "bo@example.com", "role": "viewer"}]
    assert mle["keys"] == [{"name": "batch", "maxBudget": 20.0, "models": ["sonnet"], "secretArn": secret.outputs["arn"],
                            "secretVersion": version.outputs["versionId"]}]
    assert mle["smokeModel"] == "sonnet" and content["langfuseAdmin"] == "admin@example.com"
    assert content["litellmTeamAdmins"] is False
    # The key's value: sk- and 48 hex (what LiteLLM takes as a caller's key), never in an output.
    value = json.loads(unwrap(version.input("secretString")))["apiKey"]
    assert value.startswith("sk-") and len(value) == 51 and int(value[3:], 16) >= 0
    assert run.outputs["teamLitellmKeySecretArns"] == {"mle": {"batch": secret.outputs["arn"]}}
    assert secret.input("kmsKeyId") == run.of_type("aws:kms/key:Key")[0].outputs["arn"]
    assert value not in json.dumps(run.outputs)


def test_in_prod_a_teams_key_is_kept_in_aws_when_its_entry_goes():
    run = PROD_ECS.run()
    (secret,) = [s for s in run.of_type("aws:secretsmanager/secret:Secret")
                 if s.input("namePrefix") == "llm-gateway-prod/litellm-keys/teams/mle/batch-"]
    (value,) = [r for r in run.of_type("random:index/randomId:RandomId") if r.name == "litellm-keys-team-mle.batch-value"]
    assert secret.retain_on_delete and value.retain_on_delete and not secret.protect
    assert secret.input("tags") == {RETAINED_TAG: "true"}


def test_a_licence_makes_admins_team_admins_and_reaches_litellm_by_reference():
    run = PROD_ECS.run()
    _, content = document(run)
    assert content["litellmTeamAdmins"] is True
    (secret,) = [s for s in run.of_type("aws:secretsmanager/secret:Secret") if s.input("namePrefix") == "llm-gateway-prod/litellm-external-"]
    (litellm,) = [json.loads(t.input("containerDefinitions"))[0] for t in run.of_type("aws:ecs/taskDefinition:TaskDefinition")
                  if t.input("family") == "llm-gateway-prod-litellm"]
    (licence,) = [s["valueFrom"] for s in litellm["secrets"] if s["name"] == "LITELLM_LICENSE"]
    assert licence == f"{secret.outputs['arn']}:licenseKey::"
    assert LITELLM_LICENSE not in json.dumps([r.inputs for r in run.resources if r.typ.startswith("aws:ecs")])


def test_on_ecs_the_smoke_runs_on_every_deploy_after_the_team_plane():
    run = STG_ECS.run()
    jobs = {r.name: r for r in run.of_type(DYNAMIC) if "task_definition_arn" in r.inputs}
    smoke, team_plane = jobs[f"ecs-{SMOKE_JOB}-run"], jobs[f"ecs-{TEAM_PLANE_JOB}-run"]
    assert team_plane.urn in smoke.dependencies
    assert smoke.input("every_deploy") is True and not team_plane.input("every_deploy")
    assert smoke.input("container_name") == "team-plane-smoke"
    assert smoke.input("security_group_ids") == team_plane.input("security_group_ids")
    assert run.outputs["smokeRun"] == {"runner": "ecs", **{key: smoke.input(key) for key in (
        "region", "cluster_arn", "task_definition_arn", "container_name", "subnet_ids", "security_group_ids",
        "timeout_seconds")}}


def test_in_prod_the_smoke_waits_for_make_smoke():
    run = PROD_ECS.run()
    assert not [r for r in run.of_type(DYNAMIC) if r.name == f"ecs-{SMOKE_JOB}-run"]
    (task,) = [t for t in run.of_type("aws:ecs/taskDefinition:TaskDefinition") if t.input("family") == f"llm-gateway-prod-{SMOKE_JOB}"]
    assert run.outputs["smokeRun"]["task_definition_arn"] == task.outputs["arn"]
    assert run.outputs["smokeRun"]["container_name"] == "team-plane-smoke"


def test_on_the_host_the_smoke_command_follows_the_team_plane_on_every_deploy():
    run = STG_EC2.run()
    commands = {r.name: r for r in run.of_type(DYNAMIC) if "instance_id" in r.inputs}
    smoke, team_plane = commands[f"{SMOKE_JOB}-run"], commands[f"{TEAM_PLANE_JOB}-run"]
    job = host_jobs(STG_EC2.settings())[SMOKE_JOB]
    assert team_plane.urn in smoke.dependencies and smoke.input("every_deploy") is True
    assert smoke.input("commands") == host_job_commands(job)  # no recreation, no scratch
    assert smoke.input("timeout_seconds") == host_job_seconds(job) < team_plane.input("timeout_seconds")
    assert run.outputs["smokeRun"] == {"runner": "ssm", **{key: smoke.input(key) for key in (
        "region", "instance_id", "commands", "timeout_seconds", "comment")}}


SMOKE_MODELS = [
    {"name": "sonnet", "bedrockModel": "us.anthropic.claude-sonnet-4-20250514-v1:0"},  # 3e-06 in, 1.5e-05 out
    {"name": "haiku", "bedrockModel": "us.anthropic.claude-haiku-4-5-20251001-v1:0"},  # 1.1e-06 in, 5.5e-06 out
    {"name": "titan", "bedrockModel": "amazon.titan-embed-text-v2:0"},  # the map's cheapest, an embedding model
    # Not in the pinned map: priced by the stack, its mode unknown.
    {"name": "house", "bedrockModel": "us.meta.house-model-v1:0", "inputCostPerToken": 1e-09, "outputCostPerToken": 1e-09},
]


@pytest.mark.parametrize("team, models, expected", [
    ({"name": "mle"}, SMOKE_MODELS, "haiku"),  # the cheapest chat model the map knows
    ({"name": "mle", "models": ["titan"]}, SMOKE_MODELS, None),  # no chat model: the smoke skips the team
    ({"name": "mle", "models": ["sonnet", "titan"]}, SMOKE_MODELS, "sonnet"),
    ({"name": "mle", "models": ["titan", "house"]}, SMOKE_MODELS, "house"),  # unknown mode: only when nothing else
    # The stack's prices win over the map's.
    ({"name": "mle", "models": ["sonnet", "haiku"]},
     [{**SMOKE_MODELS[0], "inputCostPerToken": 1e-08, "outputCostPerToken": 1e-08}, SMOKE_MODELS[1]], "sonnet"),
])
def test_the_smoke_calls_the_teams_cheapest_chat_model(team, models, expected):
    settings = make_settings(models=models, teams=[team])
    assert smoke_model(settings, settings.teams[0]) == expected
