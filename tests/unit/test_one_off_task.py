"""OneOffTask: its provider against a stubbed ECS client (botocore validates every request and
response against the ECS API model), its serialization as the engine sees it, its registration."""

from __future__ import annotations


import boto3
import pulumi
import pytest
from botocore.stub import Stubber
from pulumi.output import Unknown

from components.one_off_task import (
    START_RETRY_PAUSES_SECONDS,
    OneOffTask,
    OneOffTaskArgs,
    OneOffTaskError,
    OneOffTaskProvider,
    TaskSpec,
)
from tests.support.clock import FakeClock
from tests.support.pulumi_mocks import is_secret, run_pulumi

REGION = "eu-west-1"
CLUSTER = "arn:aws:ecs:eu-west-1:123456789012:cluster/llm-gateway-stg"
TASK_DEFINITION = "arn:aws:ecs:eu-west-1:123456789012:task-definition/llm-gateway-stg-db-init:3"
TASK = "arn:aws:ecs:eu-west-1:123456789012:task/llm-gateway-stg/0123456789abcdef0123456789abcdef"
CONTAINER = "db-init"
POLL_SECONDS = 5.0


def task_props(**overrides) -> dict:
    """Inputs as the engine hands them to the provider: numbers as floats, plus the provider blob."""
    return {
        "region": REGION,
        "cluster_arn": CLUSTER,
        "task_definition_arn": TASK_DEFINITION,
        "container_name": CONTAINER,
        "subnet_ids": ["subnet-a", "subnet-b"],
        "security_group_ids": ["sg-db-init"],
        "trigger": "sha256:1",
        "timeout_seconds": 900.0,
        "__provider": "serialized-provider",
        **overrides,
    }


class StubbedEcs:
    """A real botocore ECS client whose responses are queued with a Stubber."""

    def __init__(self):
        self.client = boto3.client(
            "ecs", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        self.stubber = Stubber(self.client)
        self.regions: list[str] = []
        self.credentials: list[dict] = []

    def factory(self, region: str, credentials: dict):
        self.regions.append(region)
        self.credentials.append(credentials)
        return self.client

    def expect_run_task(self, props: dict, tasks: list | None = None, failures: list | None = None):
        self.stubber.add_response(
            "run_task",
            {"tasks": [{"taskArn": TASK, "lastStatus": "PROVISIONING"}] if tasks is None else tasks,
             "failures": failures or []},
            {
                "cluster": props["cluster_arn"],
                "taskDefinition": props["task_definition_arn"],
                "launchType": "FARGATE",
                "count": 1,
                "startedBy": "llm-gateway",
                "networkConfiguration": {"awsvpcConfiguration": {
                    "subnets": props["subnet_ids"],
                    "securityGroups": props["security_group_ids"],
                    "assignPublicIp": "DISABLED",
                }},
            },
        )

    def expect_describe(self, last_status: str | None, task_arn: str = TASK, **task_fields):
        if last_status is None:  # not visible yet, as right after run_task
            response = {"tasks": [], "failures": [{"arn": task_arn, "reason": "MISSING"}]}
        else:
            response = {"tasks": [{"taskArn": task_arn, "lastStatus": last_status, **task_fields}], "failures": []}
        self.stubber.add_response("describe_tasks", response, {"cluster": CLUSTER, "tasks": [task_arn]})

    def expect_task_definition(self, log_options: dict | None):
        container = {"name": CONTAINER, "image": "postgres:17"}
        if log_options is not None:
            container["logConfiguration"] = {"logDriver": "awslogs", "options": log_options}
        self.stubber.add_response(
            "describe_task_definition",
            {"taskDefinition": {"taskDefinitionArn": TASK_DEFINITION, "containerDefinitions": [container]}},
            {"taskDefinition": TASK_DEFINITION},
        )


def stopped(exit_code: int | None, *, reason: str | None = None, stop_code: str = "EssentialContainerExited",
            stopped_reason: str = "Essential container in task exited") -> dict:
    container = {"name": CONTAINER, "lastStatus": "STOPPED"}
    if exit_code is not None:
        container["exitCode"] = exit_code
    if reason is not None:
        container["reason"] = reason
    return {"stopCode": stop_code, "stoppedReason": stopped_reason, "containers": [container]}


@pytest.fixture
def ecs():
    stub = StubbedEcs()
    with stub.stubber:
        yield stub
        stub.stubber.assert_no_pending_responses()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def provider(ecs, clock):
    return OneOffTaskProvider(
        ecs_client=ecs.factory, poll_interval_seconds=POLL_SECONDS, clock=clock.monotonic, sleep=clock.sleep
    )


def test_create_runs_the_task_until_it_stops_and_returns_its_outcome(provider, ecs, clock):
    props = task_props()
    ecs.expect_run_task(props)
    ecs.expect_describe(None)
    ecs.expect_describe("PENDING")
    ecs.expect_describe("RUNNING")
    ecs.expect_describe("STOPPED", **stopped(0))

    result = provider.create(props)

    assert result.id == TASK
    assert result.outs == {
        **{key: value for key, value in props.items() if key != "__provider"},
        "timeout_seconds": 900,
        "credentials": {},  # none given: boto3's default chain
        "every_deploy": False,
        "task_arn": TASK,
        "exit_code": 0,
    }
    assert ecs.regions == [REGION]
    assert clock.sleeps == [POLL_SECONDS] * 3


def test_non_zero_exit_fails_with_the_task_the_code_the_reasons_and_the_logs(provider, ecs):
    props = task_props()
    ecs.expect_run_task(props)
    ecs.expect_describe("STOPPED", **stopped(3, reason="psql: error: connection refused"))
    ecs.expect_task_definition({
        "awslogs-group": "/llm-gateway-stg/jobs", "awslogs-region": REGION, "awslogs-stream-prefix": "db-init",
    })

    with pytest.raises(OneOffTaskError) as raised:
        provider.create(props)

    message = str(raised.value)
    assert f"one-off task {TASK} failed: container 'db-init' exited with code 3" in message
    assert "container reason: psql: error: connection refused" in message
    assert "stopped reason: Essential container in task exited (EssentialContainerExited)" in message
    assert ("logs: CloudWatch log group /llm-gateway-stg/jobs, "
            "stream db-init/db-init/0123456789abcdef0123456789abcdef") in message


def test_a_job_whose_earlier_step_failed_names_that_step(provider, ecs):
    props = task_props()
    ecs.expect_run_task(props)
    task = stopped(None, stop_code="EssentialContainerExited", stopped_reason="Task failed container dependencies")
    task["containers"] = [
        {"name": "team-plane-plan", "lastStatus": "STOPPED", "exitCode": 2, "reason": None},
        {"name": "team-plane-apply", "lastStatus": "STOPPED"},
        *task["containers"],
    ]
    task["containers"][0].pop("reason")
    ecs.expect_describe("STOPPED", **task)
    ecs.expect_task_definition(None)

    with pytest.raises(OneOffTaskError) as raised:
        provider.create(props)

    message = str(raised.value)
    assert "container 'db-init' never exited with a code" in message
    assert "container 'team-plane-plan' exited with code 2" in message
    assert "container 'team-plane-apply' never exited with a code" in message


def test_a_container_that_never_ran_fails_even_when_the_log_lookup_does(provider, ecs):
    props = task_props(timeout_seconds=10.0)  # no time left to start it again (START_RETRY_PAUSES_SECONDS)
    ecs.expect_run_task(props)
    ecs.expect_describe("STOPPED", **stopped(
        None, reason="CannotPullContainerError: pull access denied", stop_code="TaskFailedToStart",
        stopped_reason="CannotPullContainerError",
    ))
    ecs.stubber.add_client_error("describe_task_definition", "AccessDeniedException", "not allowed")

    with pytest.raises(OneOffTaskError) as raised:
        provider.create(props)

    message = str(raised.value)
    assert "container 'db-init' never exited with a code" in message
    assert "CannotPullContainerError: pull access denied" in message
    assert "(TaskFailedToStart)" in message
    assert f"see the log configuration of container 'db-init' in {TASK_DEFINITION}" in message


def test_a_task_without_the_named_container_fails(provider, ecs):
    props = task_props(container_name="migrate")
    ecs.expect_run_task(props)
    ecs.expect_describe("STOPPED", **stopped(0))  # the only container, db-init, exited 0
    ecs.expect_task_definition(None)

    with pytest.raises(OneOffTaskError, match=r"no container named 'migrate' \(containers: db-init\)"):
        provider.create(props)


def test_run_task_failures_are_reported(provider, ecs):
    props = task_props()
    ecs.expect_run_task(props, tasks=[], failures=[
        {"arn": CLUSTER, "reason": "RESOURCE:ENI", "detail": "no free ENI in subnet-a"},
    ])

    with pytest.raises(OneOffTaskError) as raised:
        provider.create(props)

    assert str(raised.value) == (
        f"ECS could not start a one-off task of {TASK_DEFINITION} on {CLUSTER}: "
        f"RESOURCE:ENI (no free ENI in subnet-a) for {CLUSTER}"
    )


def test_a_task_still_running_at_the_timeout_is_stopped_and_fails(provider, ecs, clock):
    props = task_props(timeout_seconds=15.0)
    ecs.expect_run_task(props)
    for _ in range(4):  # at 0, 5, 10 and 15 seconds
        ecs.expect_describe("RUNNING")
    ecs.stubber.add_response(
        "stop_task", {"task": {"taskArn": TASK, "lastStatus": "RUNNING", "desiredStatus": "STOPPED"}},
        {"cluster": CLUSTER, "task": TASK, "reason": "llm-gateway: deploy timed out"},
    )
    ecs.expect_task_definition({"awslogs-group": "/llm-gateway-stg/jobs", "awslogs-region": REGION})

    with pytest.raises(OneOffTaskError) as raised:
        provider.create(props)

    assert clock.sleeps == [POLL_SECONDS] * 3
    message = str(raised.value)
    assert f"one-off task {TASK} did not stop within 15 s (last status RUNNING); it was stopped" in message
    assert "logs: CloudWatch log group /llm-gateway-stg/jobs" in message


def test_update_runs_the_task_again_with_the_new_inputs(provider, ecs):
    olds = {**task_props(), "task_arn": TASK, "exit_code": 0}
    news = task_props(task_definition_arn=TASK_DEFINITION.replace(":3", ":4"), trigger="sha256:2")
    second_run = TASK.replace("0123", "4567")
    ecs.expect_run_task(news, tasks=[{"taskArn": second_run, "lastStatus": "PROVISIONING"}])
    ecs.expect_describe("STOPPED", task_arn=second_run, **stopped(0))

    result = provider.update(TASK, olds, news)

    assert result.outs["task_arn"] == second_run
    assert result.outs["task_definition_arn"].endswith(":4")
    assert result.outs["exit_code"] == 0


@pytest.mark.parametrize("change, reruns", [
    ({"task_definition_arn": TASK_DEFINITION.replace(":3", ":4")}, True),
    ({"trigger": "sha256:2"}, True),
    ({"subnet_ids": ["subnet-a", "subnet-c"]}, True),
    ({"security_group_ids": ["sg-other"]}, True),
    ({"cluster_arn": CLUSTER + "-2"}, True),
    ({"task_definition_arn": Unknown()}, True),  # preview, before the new revision exists
    ({"timeout_seconds": 60.0}, False),
    ({"credentials": {"profile": "deploy", "assume_roles": []}}, False),  # state from before it existed
    ({}, False),
    ({"every_deploy": True}, True),  # the smoke: a proof on every deploy, nothing changed
])
def test_diff_reruns_on_what_the_job_depends_on(change, reruns):
    olds = {**task_props(), "task_arn": TASK, "exit_code": 0.0}  # stored outputs, as read back

    result = OneOffTaskProvider().diff(TASK, olds, task_props(**change))

    assert result.changes is reruns
    assert not result.replaces


def test_inputs_survive_the_engine_round_trip_unchanged():
    props = task_props()
    assert TaskSpec.from_props(TaskSpec.from_props(props).as_props()) == TaskSpec.from_props(props)


def test_registers_as_a_dynamic_resource_with_its_inputs():
    def build():
        cluster_arn = pulumi.Output.from_input(CLUSTER)
        OneOffTask("db-init-run", OneOffTaskArgs(
            region=REGION, cluster_arn=cluster_arn, task_definition_arn=pulumi.Output.from_input(TASK_DEFINITION),
            container_name=CONTAINER, subnet_ids=[pulumi.Output.from_input("subnet-a"), "subnet-b"],
            security_group_ids=["sg-db-init"], trigger="sha256:1",
        ))

    registration = run_pulumi(build).named("db-init-run")

    assert registration.typ == "pulumi-python:dynamic:Resource"
    assert is_secret(registration.inputs["__provider"])
    expected = {key: value for key, value in task_props(timeout_seconds=900).items() if key != "__provider"}
    assert {key: registration.input(key) for key in expected} == expected


# What RunTask answers when Fargate has no capacity in the subnets' AZs (AWS re:Post knowledge center,
# ecs-fargate-runtask-capacity).
NO_CAPACITY = {"arn": CLUSTER, "reason": "Capacity is unavailable at this time. Please try again later or in a "
               "different availability zone"}


def test_a_start_refused_for_capacity_is_tried_again_after_a_pause(provider, ecs, clock):
    props = task_props()
    ecs.expect_run_task(props, tasks=[], failures=[NO_CAPACITY])
    ecs.expect_run_task(props, tasks=[], failures=[NO_CAPACITY])
    ecs.expect_run_task(props)
    ecs.expect_describe("STOPPED", **stopped(0))

    assert provider.create(props).outs["exit_code"] == 0
    assert clock.sleeps == list(START_RETRY_PAUSES_SECONDS[:2])


def test_a_task_that_failed_to_start_is_started_again(provider, ecs, clock):
    props = task_props()
    ecs.expect_run_task(props)
    ecs.expect_describe("STOPPED", **stopped(
        None, stop_code="TaskFailedToStart", stopped_reason="Timeout waiting for network interface provisioning to complete.",
    ))
    ecs.expect_task_definition(None)
    second_run = TASK.replace("0123", "4567")
    ecs.expect_run_task(props, tasks=[{"taskArn": second_run, "lastStatus": "PROVISIONING"}])
    ecs.expect_describe("STOPPED", task_arn=second_run, **stopped(0))

    assert provider.create(props).outs["task_arn"] == second_run
    assert clock.sleeps == [START_RETRY_PAUSES_SECONDS[0]]


def test_capacity_retries_are_bounded_and_every_attempt_is_reported(provider, ecs, clock):
    props = task_props(timeout_seconds=3600.0)
    for _ in range(len(START_RETRY_PAUSES_SECONDS) + 1):
        ecs.expect_run_task(props, tasks=[], failures=[NO_CAPACITY])

    with pytest.raises(OneOffTaskError) as raised:
        provider.create(props)

    assert clock.sleeps == list(START_RETRY_PAUSES_SECONDS)
    assert str(raised.value).count("Capacity is unavailable") == len(START_RETRY_PAUSES_SECONDS) + 1
    assert "before that, attempt 4:" in str(raised.value)


def test_no_retry_outlasts_the_timeout(provider, ecs, clock):
    props = task_props(timeout_seconds=40.0)  # room for the first pause (15 s), not for the second (30 s more)
    ecs.expect_run_task(props, tasks=[], failures=[NO_CAPACITY])
    ecs.expect_run_task(props, tasks=[], failures=[NO_CAPACITY])

    with pytest.raises(OneOffTaskError, match="Capacity is unavailable"):
        provider.create(props)
    assert clock.sleeps == [START_RETRY_PAUSES_SECONDS[0]]


def test_a_job_that_ran_and_failed_is_not_run_again(provider, ecs, clock):
    props = task_props()
    ecs.expect_run_task(props)
    ecs.expect_describe("STOPPED", **stopped(1))
    ecs.expect_task_definition(None)

    with pytest.raises(OneOffTaskError, match="exited with code 1"):
        provider.create(props)
    assert clock.sleeps == []


def test_ecs_is_called_with_the_stacks_deploy_credentials_and_old_state_with_the_default_chain(provider, ecs):
    credentials = {"profile": "deploy", "assume_roles": [{"role_arn": "arn:aws:iam::123456789012:role/deployer",
                                                          "session_name": "llm-gateway-deploy"}]}
    for props in (task_props(credentials=credentials), task_props()):  # the second: written before credentials
        ecs.expect_run_task(props)
        ecs.expect_describe("STOPPED", **stopped(0))
        provider.create(props)
    assert ecs.credentials == [credentials, {}]
