"""Jobs as data (config/jobs.py) and their ECS rendering: one task, steps chained on success."""

from __future__ import annotations

import pytest

from config.ecs import job_container_definitions, task_size, task_volumes
from config.jobs import JobSpec, single
from config.services import ServiceSpec, Volume

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
])
def test_jobs_that_cannot_run_are_refused(steps, problem):
    with pytest.raises(ValueError, match=problem):
        JobSpec("broken", steps)


def test_a_job_takes_the_smallest_fargate_size_holding_every_step():
    # The largest CPU (8192) and the largest memory (17408 MiB) are each a step's valid size, but not
    # a pair: with 8 vCPU Fargate takes 16-60 GiB in 4 GiB steps (config/fargate.py).
    job = JobSpec("big", (step("compute", cpu=8192, memory=16384), step("load", cpu=4096, memory=17408)))
    assert task_size(job) == ("8192", "20480")


def test_a_spec_whose_size_fargate_refuses_does_not_render():
    with pytest.raises(ValueError, match="256 CPU units with 4096 MiB is not a Fargate size"):
        task_size(step("odd", cpu=256, memory=4096))
