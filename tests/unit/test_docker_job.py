"""DockerJob: its provider against a fake Docker CLI (tests/support/fake_docker.py; no daemon here),
and its registration under mocks."""

from __future__ import annotations

import pulumi
import pytest

from components.docker_job import (
    DEFAULT_DOCKER_HOST, DockerJob, DockerJobArgs, DockerJobError, DockerJobProvider, JobSpec, create_arguments,
    daemon_arguments, job_labels,
)
from renderers.docker import DockerStep
from tests.support.clock import FakeClock
from tests.support.fake_docker import Behaviour, FakeDocker
from tests.support.pulumi_mocks import is_secret, run_pulumi

POSTGRES = f"public.ecr.aws/docker/library/postgres@sha256:{'b' * 64}"
LITELLM = f"ghcr.io/berriai/litellm-database@sha256:{'f' * 64}"


def step(name: str, **overrides) -> dict:
    """A step as the engine hands it to the provider (numbers as floats)."""
    return {"name": name, "image": LITELLM, "entrypoint": ["python3", "-c", "print(1)"], "command": [name],
            "environment": {"LLM_GATEWAY_STEP": name}, "secrets": {}, "volumes": {}, "files": {}, "user": None,
            "memory": 256.0,
            **overrides}


def job_props(*steps: dict, **overrides) -> dict:
    return {"job": "team-plane", "container_prefix": "llm-gateway-local", "network": "llm-gateway-local",
            "steps": list(steps) or [step("only")], "trigger": "v1", "timeout_seconds": 600.0,
            "__provider": "serialized-provider", **overrides}


@pytest.fixture
def docker():
    return FakeDocker()


@pytest.fixture
def clock():
    return FakeClock()


def provider_for(docker: FakeDocker, clock: FakeClock, environ: dict | None = None) -> DockerJobProvider:
    return DockerJobProvider(docker=docker, environ=lambda: environ or {"PATH": "/usr/bin"}, clock=clock.monotonic)


def commands(docker: FakeDocker) -> list[str]:
    """Each call's subcommand (and volume or image action), global options left out."""
    return [" ".join(call[2:4] if call[2] in ("volume", "image") else call[2:3]) for call in docker.calls]


PREPARING = ("ps", "volume ls", "image inspect", "pull")  # leftovers looked for, images made present


def step_commands(docker: FakeDocker) -> list[str]:
    """The commands after the run was prepared."""
    return [command for command in commands(docker) if command not in PREPARING]


def test_the_steps_run_in_order_each_created_started_waited_for_and_removed(docker, clock):
    props = job_props(step("plan"), step("apply", image=POSTGRES), step("verify"))

    result = provider_for(docker, clock).create(props)

    assert [c.step for c in docker.history] == ["plan", "apply", "verify"]
    assert commands(docker) == ["ps", "ps", "volume ls", "image inspect", "pull", "image inspect", "pull",
                                *["create", "start", "wait", "rm"] * 3]
    assert docker.present == []  # every step's container is gone
    assert result.id == docker.history[-1].id and len(result.id) == 64
    assert result.outs["last_container_id"] == result.id
    assert result.outs["steps"] == props["steps"]  # the inputs, under their own keys (secret where they were)
    assert result.outs["timeout_seconds"] == 600
    # The container runs the step's entrypoint, then its command, on the stack's network.
    plan = docker.history[0]
    assert (plan.entrypoint, plan.args, plan.network) == ("python3", ["-c", "print(1)", "plan"], "llm-gateway-local")
    assert plan.labels == {"llm-gateway.job": "team-plane", "llm-gateway.stack": "llm-gateway-local", "llm-gateway.job.step": "plan"}
    assert (plan.image, plan.memory) == (LITELLM, "256m")
    assert docker.history[1].image == POSTGRES


def test_environment_values_reach_the_container_but_never_a_command_line(docker, clock):
    secret = "sk-" + "5" * 48
    props = job_props(step("plan", environment={"MULTI_LINE": "a\nb"}, secrets={"LITELLM_MASTER_KEY": secret}))

    provider_for(docker, clock).create(props)

    assert docker.history[0].env == {"LITELLM_MASTER_KEY": secret, "MULTI_LINE": "a\nb"}
    assert not [call for call in docker.calls if any(secret in arg for arg in call)]
    create = next(call for call in docker.calls if "create" in call)
    assert create[create.index("LITELLM_MASTER_KEY") - 1] == "--env"


def test_a_failed_step_fails_the_job_with_its_exit_code_and_log_and_stops_it_there(docker, clock):
    docker.behaviours["apply"] = Behaviour(exit_code=3, log="".join(f"line {i}\n" for i in range(60)) + "psql: FATAL\n")
    props = job_props(step("plan"), step("apply", image=POSTGRES), step("verify"))

    with pytest.raises(DockerJobError) as raised:
        provider_for(docker, clock).create(props)

    message = str(raised.value)
    assert message.startswith(f"local job team-plane, step apply ({POSTGRES}) exited with code 3.")
    assert "Last 40 lines of its log:" in message and message.endswith("psql: FATAL")
    assert "line 20\n" not in message and "line 21\n" in message  # the tail only
    assert [c.step for c in docker.history] == ["plan", "apply"]  # verify never ran
    assert docker.present == []


def test_a_step_that_does_not_exit_in_time_is_removed_and_fails_the_job(docker, clock):
    docker.behaviours["migrate"] = Behaviour(hang=True, log="waiting for clickhouse\n")

    with pytest.raises(DockerJobError) as raised:
        provider_for(docker, clock).create(job_props(step("migrate")))

    assert "step migrate: did not exit within the job's 600 s, so the job removes it" in str(raised.value)
    assert str(raised.value).endswith("waiting for clickhouse")
    assert docker.present == []


def test_an_image_that_cannot_be_pulled_fails_the_job_with_dockers_words_before_any_step_runs(docker, clock):
    docker.missing_images.add(POSTGRES)

    with pytest.raises(DockerJobError) as raised:
        provider_for(docker, clock).create(job_props(step("plan"), step("db-init", image=POSTGRES)))

    assert str(raised.value).startswith("local job team-plane, step db-init: docker pull exited with code 1")
    assert "manifest unknown" in str(raised.value)
    assert docker.history == []


def test_a_slow_download_takes_none_of_the_jobs_time(docker, clock):
    """A first `up` pulls gigabytes: the job's clock starts once its images are there, so a migration
    within its timeout is not ended half-way because its image took long to arrive."""
    docker.clock, docker.pull_seconds = clock, 700.0
    docker.behaviours["migrate"] = Behaviour(seconds=590.0)

    provider_for(docker, clock).create(job_props(step("migrate"), timeout_seconds=600.0))

    (migrate,) = docker.history
    assert migrate.state == "removed" and migrate.exit_code == 0
    assert clock.now == 1000.0 + 700.0 + 590.0


def test_a_step_that_outlives_the_jobs_time_after_its_download_is_still_ended(docker, clock):
    docker.clock, docker.pull_seconds = clock, 700.0
    docker.behaviours["migrate"] = Behaviour(seconds=610.0)

    with pytest.raises(DockerJobError, match="did not exit within the job's 600 s"):
        provider_for(docker, clock).create(job_props(step("migrate"), timeout_seconds=600.0))


def test_an_image_the_daemon_holds_is_not_pulled_again(docker, clock):
    """A later `up` (offline, or the registry's limit reached) runs from what the daemon holds."""
    docker.images.add(LITELLM)

    provider_for(docker, clock).create(job_props(step("plan"), step("verify")))

    assert "image inspect" in commands(docker) and "pull" not in commands(docker)


def test_the_steps_share_the_jobs_scratch_volume_which_is_removed_however_the_run_ends(docker, clock):
    work = {"team-plane-work": "/work"}
    docker.behaviours["plan"] = Behaviour(writes={"/work/langfuse.sql": "INSERT ..."})
    docker.behaviours["apply"] = Behaviour(exit_code=1)
    props = job_props(step("plan", volumes=work), step("apply", volumes=work, image=POSTGRES))

    with pytest.raises(DockerJobError):
        provider_for(docker, clock).create(props)

    plan, apply = docker.history
    assert plan.mounts == apply.mounts
    (volume,) = plan.mounts.values()
    assert volume.startswith("llm-gateway-local-team-plane-team-plane-work-")
    assert apply.seen == {"/work/langfuse.sql": "INSERT ..."}  # what plan wrote
    assert docker.removed_volumes == [volume] and docker.volumes == {}


def test_a_runs_scratch_volume_is_its_own(docker, clock):
    props = job_props(step("plan", volumes={"team-plane-work": "/work"}))
    provider = provider_for(docker, clock)
    provider.create(props)
    provider.update("id", props, props)

    first, second = (c.mounts["/work"] for c in docker.history)
    assert first != second


def leave_running(docker: FakeDocker, props: dict, run: str) -> None:
    """What a run of the job leaves when the deploy is killed mid-step: its scratch volumes and its
    step's container, running."""
    spec = JobSpec.from_props(props)
    scratch = {volume: f"{spec.container_prefix}-{spec.job}-{volume}-{run}" for step in spec.steps for volume in step.volumes}
    for volume in scratch.values():
        docker(["volume", "create", *job_labels(spec), volume])
    docker.images.add(spec.steps[0].image)
    container = f"{spec.container_prefix}-{spec.job}-{spec.steps[0].name}-{run}"
    docker(create_arguments(spec, spec.steps[0], container, scratch))
    docker(["start", container])


def test_an_interrupted_runs_containers_and_volumes_are_removed_before_the_next_run(docker, clock):
    work = {"team-plane-work": "/work"}
    docker.behaviours["apply"] = Behaviour(hang=True)
    leave_running(docker, job_props(step("apply", volumes=work)), run="0badc0de")
    # Another stack's run of a job of the same name, and this stack's own services, stay.
    leave_running(docker, job_props(step("apply", volumes=work), container_prefix="llm-gateway-other"), run="0badc0de")
    docker(["create", "--name", "llm-gateway-local-litellm", "--network", "llm-gateway-local",
            "--label", "llm-gateway.stack=llm-gateway-local", "--label", "llm-gateway.service=litellm", LITELLM])
    docker.behaviours["apply"] = Behaviour()

    provider_for(docker, clock).create(job_props(step("apply", volumes=work)))

    assert sorted(c.name for c in docker.present) == ["llm-gateway-local-litellm", "llm-gateway-other-team-plane-apply-0badc0de"]
    assert list(docker.volumes) == ["llm-gateway-other-team-plane-team-plane-work-0badc0de"]


def test_without_dockers_cli_the_job_says_so(tmp_path):
    provider = DockerJobProvider(environ=lambda: {"PATH": str(tmp_path)})  # the real runner: no `docker` there

    with pytest.raises(DockerJobError, match=rf"no `docker` program on PATH \({tmp_path}\)"):
        provider.create(job_props())


def test_a_container_that_cannot_be_removed_fails_the_job_and_says_so(docker, clock):
    docker.refuse_removal = True

    with pytest.raises(DockerJobError) as raised:
        provider_for(docker, clock).create(job_props(step("plan")))

    assert str(raised.value).startswith("local job team-plane, step plan: its container could not be removed "
                                        "(docker rm exited with code 1: Error response from daemon: cannot remove")
    assert str(raised.value).endswith("the job's next run removes what is left")


def test_a_failed_step_whose_leftovers_cannot_be_removed_says_both(docker, clock):
    docker.refuse_removal = True
    docker.behaviours["apply"] = Behaviour(exit_code=3, log="psql: FATAL\n")

    with pytest.raises(DockerJobError) as raised:
        provider_for(docker, clock).create(job_props(step("apply", volumes={"team-plane-work": "/work"})))

    failed, container, volumes = str(raised.value).split("\nBesides, ")
    assert failed.startswith("local job team-plane, step apply (") and failed.endswith("psql: FATAL")
    assert container.startswith("its container could not be removed (docker rm exited with code 1")
    assert volumes.startswith("its scratch volumes could not be removed (docker volume rm exited with code 1: "
                              "Error response from daemon: remove llm-gateway-local-team-plane-team-plane-work-")


def test_files_are_copied_in_before_the_step_starts(docker, clock):
    files = {"/seed/desired.json": '{"version": 1}\n', "/seed/code.json": "{}"}

    provider_for(docker, clock).create(job_props(step("seed", files=files)))

    assert docker.history[0].files == files
    assert step_commands(docker) == ["create", "cp", "start", "wait", "rm"]


@pytest.mark.parametrize("environ, expected", [
    ({}, ["--host", DEFAULT_DOCKER_HOST]),
    ({"DOCKER_HOST": "unix:///Users/me/.colima/default/docker.sock"},
     ["--host", "unix:///Users/me/.colima/default/docker.sock"]),
    # The provider's context overrides its host (provider.go:204-214).
    ({"DOCKER_HOST": "tcp://127.0.0.1:2375", "DOCKER_CONTEXT": "desktop-linux"}, ["--context", "desktop-linux"]),
])
def test_every_call_names_the_daemon_pulumi_dockers_provider_uses(environ, expected, docker, clock):
    assert daemon_arguments(environ) == expected
    provider_for(docker, clock, {"PATH": "/usr/bin", **environ}).create(job_props())
    assert {tuple(call[:2]) for call in docker.calls} == {tuple(expected)}


def test_a_step_variable_the_cli_would_read_itself_is_refused_before_anything_runs(docker, clock):
    with pytest.raises(DockerJobError, match="step plan sets DOCKER_HOST, PATH, which the Docker CLI would read itself"):
        provider_for(docker, clock).create(job_props(step("plan", environment={"DOCKER_HOST": "x"},
                                                          secrets={"PATH": "/x"})))
    assert docker.calls == []


@pytest.mark.parametrize("change, reruns", [
    ({"trigger": "v2"}, True),
    ({"steps": [step("only", environment={"LLM_GATEWAY_STEP": "changed"})]}, True),
    ({"steps": [step("only", image=POSTGRES)]}, True),
    ({"network": "other"}, True),
    ({"timeout_seconds": 900.0}, False),
])
def test_what_runs_the_job_again(change, reruns, docker, clock):
    olds = job_props()
    assert provider_for(docker, clock).diff("id", olds, {**olds, **change}).changes is reruns


def test_registration_keeps_secret_values_secret():
    def build():
        DockerJob("team-plane-run", DockerJobArgs(
            job="team-plane", container_prefix="llm-gateway-local", network=pulumi.Output.from_input("llm-gateway-local"),
            steps=[DockerStep(name="plan", image=LITELLM, entrypoint=("python3", "-c", "print(1)"), command=("plan",),
                              environment={"LLM_GATEWAY_STEP": "plan"},
                              secrets={"LITELLM_MASTER_KEY": pulumi.Output.secret("sk-" + "5" * 48)},
                              volumes={"team-plane-work": "/work"}, files={}, user=None, memory=None)],
            trigger="v1", timeout_seconds=600,
        ))

    registration = run_pulumi(build).named("team-plane-run")

    assert registration.typ == "pulumi-python:dynamic:Resource"
    assert is_secret(registration.inputs["steps"])
    (plan,) = registration.input("steps")
    assert (plan["environment"], plan["secrets"]) == ({"LLM_GATEWAY_STEP": "plan"},
                                                                 {"LITELLM_MASTER_KEY": "sk-" + "5" * 48})
    assert (registration.input("network"), registration.input("timeout_seconds")) == ("llm-gateway-local", 600)


def test_a_leftover_step_still_running_finishes_before_it_is_removed(docker, clock):
    """A killed deploy's step may be a migration still running: killed half-way, it leaves a schema to
    repair by hand (Prisma's P3009, a dirty ClickHouse migration). It gets the job's time to finish."""
    docker.clock, docker.behaviours["migrate"] = clock, Behaviour(seconds=300)
    leave_running(docker, job_props(step("migrate")), run="0badc0de")
    (leftover,) = docker.present
    started = clock.now

    provider_for(docker, clock).create(job_props(step("migrate")))

    assert leftover.exit_code == 0 and clock.now - started >= 300
    waited, removed = (next(i for i, call in enumerate(docker.calls) if command in call and leftover.id[:12] in call)
                       for command in ("wait", "rm"))
    assert waited < removed
