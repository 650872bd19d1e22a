"""Jobs as data (services/jobs.py) and their ECS rendering: one task, steps chained on success; and
their time budgets, summed from what the program renders."""

from __future__ import annotations

import json
import re

import pytest

from renderers.ecs import job_container_definitions, task_size, task_volumes
from services.jobs import (
    FARGATE_TASK_START_SECONDS,
    FARGATE_TASK_STOP_SECONDS,
    STEP_START_SECONDS,
    JobSpec,
    single,
)
from services.specs import ServiceSpec, Volume
from renderers.compose_host.jobs import HOST_COMMAND_MARGIN_SECONDS
from renderers.compose_host.user_data import COMPOSE_FILE
from team_plane.job import DEADLINE_VAR
from tests.support.hosts import written_files
from tests.support.pulumi_mocks import unwrap
from tests.support.variants import STG_EC2, STG_ECS
from tests.support import yaml_docs

SCRATCH = Volume("scratch", "/work")
IMAGES = {"python:1": "python@sha256:" + "1" * 64, "psql:1": "psql@sha256:" + "2" * 64}


def step(name: str, image: str = "python:1", cpu: int = 256, memory: int = 512, **fields) -> ServiceSpec:
    return ServiceSpec(name=name, image=image, cpu=cpu, memory=memory, one_off=True, volumes=(SCRATCH,), **fields)


JOB = JobSpec("team-plane", (step("plan", memory=1024, cpu=512), step("apply", image="psql:1"), step("verify")))


def rendered(job: JobSpec) -> list[dict]:
    return job_container_definitions(job, images=IMAGES, secret_arns={}, log_group="/stack/jobs", region="eu-west-1")


def test_steps_run_in_order_each_after_the_previous_succeeded():
    containers = rendered(JOB)
    assert [c["name"] for c in containers] == ["plan", "apply", "verify"]
    assert [c.get("dependsOn") for c in containers] == [
        None, [{"containerName": "plan", "condition": "SUCCESS"}], [{"containerName": "apply", "condition": "SUCCESS"}],
    ]
    # A SUCCESS dependency may not point at an essential container; the last step ends the task.
    assert [c["essential"] for c in containers] == [False, False, True]
    assert [c["image"] for c in containers] == [IMAGES["python:1"], IMAGES["psql:1"], IMAGES["python:1"]]


def test_steps_share_the_jobs_scratch_volume_as_task_storage():
    assert task_volumes(JOB) == [{"name": "scratch"}]
    for container in rendered(JOB):
        assert container["mountPoints"] == [{"sourceVolume": "scratch", "containerPath": "/work", "readOnly": False}]


def test_a_job_is_sized_by_its_largest_step():
    assert task_size(JOB) == ("512", "1024")


def test_a_one_off_spec_is_a_job_of_one_essential_step_without_volumes():
    spec = ServiceSpec(name="db-init", image="psql:1", cpu=256, memory=512, one_off=True)
    job = single(spec)
    (container,) = rendered(job)
    assert job.last is spec and container["essential"] is True and "dependsOn" not in container
    assert task_volumes(job) == [] and "mountPoints" not in container


@pytest.mark.parametrize("steps, problem", [
    ((), "has no steps"),
    ((ServiceSpec(name="web", image="python:1"),), "must be a one-off"),
    ((step("plan"), step("plan")), "step names repeat"),
    ((step("plan", environment={DEADLINE_VAR: "60"}), step("apply")), "either every step keeps its own deadline"),
])
def test_jobs_that_cannot_run_are_refused(steps, problem):
    with pytest.raises(ValueError, match=problem):
        JobSpec("broken", steps)


def test_a_job_takes_the_smallest_fargate_size_holding_every_step():
    # The largest CPU (8192) and the largest memory (17408 MiB) are each a step's valid size, but not
    # a pair: with 8 vCPU Fargate takes 16-60 GiB in 4 GiB steps (reference/fargate.py).
    job = JobSpec("big", (step("compute", cpu=8192, memory=16384), step("load", cpu=4096, memory=17408)))
    assert task_size(job) == ("8192", "20480")


def test_a_spec_whose_size_fargate_refuses_does_not_render():
    with pytest.raises(ValueError, match="256 CPU units with 4096 MiB is not a Fargate size"):
        task_size(step("odd", cpu=256, memory=4096))


def rendered_deadline(environment: dict) -> int | None:
    """A step's own deadline, as its rendered environment carries it."""
    value = environment.get(DEADLINE_VAR)
    return None if value is None else int(value)


def test_every_ecs_jobs_own_deadlines_fit_the_runners_timeout_with_the_tasks_start_and_stop():
    """The runner waits from RunTask to STOPPED; a step's own deadline counts from its start. The runner
    must never fire first: it would stop the task and hide the step's exit code and report."""
    run = STG_ECS.run()
    definitions = {d.outputs["arn"]: json.loads(d.input("containerDefinitions"))
                   for d in run.of_type("aws:ecs/taskDefinition:TaskDefinition")}
    bounded = set()
    for task in (r for r in run.of_type("pulumi-python:dynamic:Resource") if "task_definition_arn" in r.inputs):
        steps = definitions[task.input("task_definition_arn")]
        deadlines = [rendered_deadline({e["name"]: e["value"] for e in step["environment"]}) for step in steps]
        if deadlines == [None] * len(steps):
            continue  # migrations keep no deadline of their own: the runner's is the only one
        assert None not in deadlines, task.name
        inner = sum(deadline + STEP_START_SECONDS for deadline in deadlines)
        assert FARGATE_TASK_START_SECONDS + inner + FARGATE_TASK_STOP_SECONDS <= task.input("timeout_seconds"), task.name
        bounded.add(task.input("container_name"))
    # The jobs that wait and retry on their own: the team plane (its last step), its smoke, the ClickHouse probe.
    assert bounded == {"team-plane-verify", "team-plane-smoke", "clickhouse-ready"}


def test_the_host_commands_waits_fit_its_ssm_timeout():
    """What the host runs (the deploy's commands, the compose file in its user data): the wait for the
    services, each step's own deadline and start, LiteLLM's recreation, within SSM's executionTimeout."""
    run = STG_EC2.run()
    commands = [r for r in run.of_type("pulumi-python:dynamic:Resource") if "instance_id" in r.inputs]
    (instance,) = run.of_type("aws:ec2/instance:Instance")
    services = yaml_docs.load(written_files(unwrap(instance.input("userData")))[COMPOSE_FILE]["content"])["services"]
    for command in commands:  # the team plane's and the smoke's
        script = "\n".join(command.input("commands"))
        ready = int(re.search(r"deadline=\$\(\( \$\(date \+%s\) \+ (\d+) \)\)", script).group(1))
        steps = re.findall(r" run --rm --no-deps (\S+)", script)
        deadlines = [rendered_deadline(services[step].get("environment", {})) for step in steps]
        recreated = re.search(r" up .*--wait-timeout (\d+) litellm", script)
        assert steps and None not in deadlines, command.name
        waits = ready + sum(deadline + STEP_START_SECONDS for deadline in deadlines) + int(recreated.group(1) if recreated else 0)
        assert waits + HOST_COMMAND_MARGIN_SECONDS <= command.input("timeout_seconds"), command.name
    assert sorted(command.name for command in commands) == ["team-plane-run", "team-plane-smoke-run"]
