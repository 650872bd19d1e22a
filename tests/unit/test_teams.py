"""Teams as code in the program: each team is a line of the team-plane document, reconciled inside
the VPC by the platform's team-plane job (never from the deploying machine); adding one is one
config entry."""

from __future__ import annotations

import json
import subprocess

import pytest

from components.ecs_platform import TEAM_PLANE_JOB
from renderers.compose_host.jobs import HOST_RECREATE_SECONDS, host_job_commands, job_scratch_dirs
from services.jobs import JobSpec
from renderers.litellm_proxy import render_proxy_config
from services.specs import PLACEHOLDER_ENDPOINTS, gateway_host_specs
from renderers.team_document import DOCUMENT_KEY
from tests.support.pulumi_mocks import unwrap
from tests.support.settings import make_settings
from tests.support.variants import STG_EC2, STG_ECS, TEAMS

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
    settings = STG_EC2.settings()
    steps = tuple(s for s in gateway_host_specs(settings, render_proxy_config(settings), PLACEHOLDER_ENDPOINTS)
                  if s.on_demand)
    job = JobSpec(TEAM_PLANE_JOB, steps)
    assert command.input("commands") == host_job_commands(job, restart_after=("litellm",), scratch=job_scratch_dirs(job))


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
    settings = make_settings(compute="ec2")
    steps = tuple(s for s in gateway_host_specs(settings, render_proxy_config(settings), PLACEHOLDER_ENDPOINTS)
                  if s.on_demand)
    script = host_script(tmp_path, JobSpec(TEAM_PLANE_JOB, steps))
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
    settings = make_settings(compute="ec2")
    steps = tuple(s for s in gateway_host_specs(settings, render_proxy_config(settings), PLACEHOLDER_ENDPOINTS)
                  if s.on_demand)
    script = host_script(tmp_path, JobSpec(TEAM_PLANE_JOB, steps))
    (tmp_path / "bin" / "systemctl").write_text(f'#!/bin/sh\necho "systemctl $*" >> "{tmp_path}/calls"\n'
                                                 'case "$*" in *is-failed*) exit 0;; *) exit 3;; esac\n')
    result = subprocess.run(["sh", "-c", script], env={"PATH": f"{tmp_path}/bin:/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 1 and "llm-gateway.service is not active" in result.stderr
    assert not [call for call in (tmp_path / "calls").read_text().splitlines() if call.startswith("docker")]

