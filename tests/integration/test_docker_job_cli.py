"""DockerJob's provider with its default runner: the `docker` executable found on PATH, here the fake
CLI of tests/support/fake_docker.py run as a program (no daemon on this machine). What the
in-process tests cannot show: values travel through the CLI process's environment, the files as a
tar stream on its standard input, and a step that never exits is ended by the runner's timeout."""

from __future__ import annotations

import os

import pytest

from components.docker_job import DockerJobError, DockerJobProvider
from tests.support.fake_docker import STATE_VAR, Behaviour, FakeDocker, write_executable
from tests.unit.test_docker_job import job_props, step

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(tmp_path):
    state = tmp_path / "docker-state.json"
    write_executable(tmp_path, state)
    environ = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", STATE_VAR: str(state)}
    return state, DockerJobProvider(environ=lambda: environ)


def test_values_and_files_reach_the_container_through_the_cli(cli):
    state, provider = cli
    secret = "sk-" + "7" * 48
    files = {"/seed/desired.json": '{"version": 1, "teams": []}\n'}

    provider.create(job_props(step("seed", environment={}, secrets={"LITELLM_MASTER_KEY": secret}, files=files)))

    docker = FakeDocker.load(state)
    (seed,) = docker.history
    assert seed.env == {"LITELLM_MASTER_KEY": secret} and seed.files == files
    assert not [call for call in docker.calls if any(secret in arg for arg in call)]
    assert docker.present == []


def test_a_failed_step_fails_the_job_through_the_cli(cli):
    state, provider = cli
    docker = FakeDocker(behaviours={"migrate": Behaviour(exit_code=2, log="relation does not exist\n")})
    docker.save(state)

    with pytest.raises(DockerJobError, match=r"(?s)step migrate \(.*\) exited with code 2.*relation does not exist"):
        provider.create(job_props(step("migrate")))


def test_a_step_that_never_exits_is_ended_by_the_jobs_timeout(cli):
    state, provider = cli
    FakeDocker(behaviours={"migrate": Behaviour(hang=True)}).save(state)

    with pytest.raises(DockerJobError, match="did not exit within the job's 2 s, so the job removes it"):
        provider.create(job_props(step("migrate"), timeout_seconds=2.0))
    assert FakeDocker.load(state).present == []
