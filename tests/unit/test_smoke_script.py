"""`make smoke` (scripts/smoke.py): the stack's smoke step started through AWS APIs only, as the deploy
starts it (its own runners), against stubbed ECS, CloudWatch Logs and SSM clients (botocore checks
every request and response against the services' API models)."""

from __future__ import annotations

import functools

import boto3
import pytest
from botocore.stub import Stubber

from components.host_command import HostCommandProvider, send_command_request, CommandSpec
from components.one_off_task import OneOffTaskProvider
from scripts import smoke
from tests.support.clock import FakeClock

REGION = "eu-west-1"
CLUSTER = "arn:aws:ecs:eu-west-1:123456789012:cluster/llm-gateway-prod"
TASK_DEFINITION = "arn:aws:ecs:eu-west-1:123456789012:task-definition/llm-gateway-prod-team-plane-smoke:4"
TASK = "arn:aws:ecs:eu-west-1:123456789012:task/llm-gateway-prod/0123456789abcdef0123456789abcdef"
CONTAINER = "team-plane-smoke"
INSTANCE, COMMAND_ID = "i-0123456789abcdef0", "8a9e1f0c-2d3b-4c5a-9e8f-7a6b5c4d3e2f"
REPORT = ["llm-gateway smoke: team alpha: smoke passed (sonnet answered; trace 0f in Langfuse project alpha after 4 s)"]
ECS_RUN = {"runner": "ecs", "region": REGION, "cluster_arn": CLUSTER, "task_definition_arn": TASK_DEFINITION,
           "container_name": CONTAINER, "subnet_ids": ["subnet-a"], "security_group_ids": ["sg-teams"],
           "timeout_seconds": 990}
HOST_RUN = {"runner": "ssm", "region": REGION, "instance_id": INSTANCE, "comment": "llm-gateway smoke",
            "commands": ["set -eu", "docker compose run --rm --no-deps team-plane-smoke"], "timeout_seconds": 2490}


class Session:
    """Stubbed clients by service, as boto3's session hands them out."""

    def __init__(self, *services: str):
        self.clients = {name: boto3.client(name, region_name=REGION, aws_access_key_id="testing",
                                           aws_secret_access_key="testing") for name in services}
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}

    def client(self, name: str, region_name: str):
        assert region_name == REGION
        return self.clients[name]


@pytest.fixture
def fast(monkeypatch):
    clock = FakeClock()
    monkeypatch.setitem(smoke.RUNNERS, "ecs", functools.partial(smoke.run_on_ecs, provider=functools.partial(
        OneOffTaskProvider, poll_interval_seconds=1, clock=clock.monotonic, sleep=clock.sleep)))
    monkeypatch.setitem(smoke.RUNNERS, "ssm", functools.partial(smoke.run_on_host, provider=functools.partial(
        HostCommandProvider, poll_interval_seconds=1, clock=clock.monotonic, sleep=clock.sleep)))


def expect_ecs_run(session: Session, exit_code: int) -> None:
    ecs, logs = session.stubs["ecs"], session.stubs["logs"]
    ecs.add_response("run_task", {"tasks": [{"taskArn": TASK, "lastStatus": "PROVISIONING"}], "failures": []}, {
        "cluster": CLUSTER, "taskDefinition": TASK_DEFINITION, "launchType": "FARGATE", "count": 1,
        "startedBy": "llm-gateway", "networkConfiguration": {"awsvpcConfiguration": {
            "subnets": ["subnet-a"], "securityGroups": ["sg-teams"], "assignPublicIp": "DISABLED"}}})
    ecs.add_response("describe_tasks", {"tasks": [{"taskArn": TASK, "lastStatus": "STOPPED", "containers": [
        {"name": CONTAINER, "exitCode": exit_code}]}], "failures": []}, {"cluster": CLUSTER, "tasks": [TASK]})
    definition = {"taskDefinition": {"taskDefinitionArn": TASK_DEFINITION, "containerDefinitions": [{
        "name": CONTAINER, "image": "litellm", "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": "/llm-gateway-prod/team-plane", "awslogs-stream-prefix": "team-plane"}}}]}}
    for _ in range(2 if exit_code else 1):  # a failure names its log stream too
        ecs.add_response("describe_task_definition", definition, {"taskDefinition": TASK_DEFINITION})
    logs.add_response("get_log_events", {"events": [{"timestamp": 1, "message": line} for line in REPORT]}, {
        "logGroupName": "/llm-gateway-prod/team-plane", "startFromHead": True,
        "logStreamName": "team-plane/team-plane-smoke/0123456789abcdef0123456789abcdef"})


@pytest.mark.parametrize("exit_code", [0, 1])
def test_on_ecs_the_smoke_task_runs_and_its_report_is_printed(fast, capsys, exit_code):
    session = Session("ecs", "logs")
    expect_ecs_run(session, exit_code)
    with session.stubs["ecs"], session.stubs["logs"]:
        status = smoke.main(["--stack", "prod"], outputs=lambda stack: dict(ECS_RUN), session_for=lambda region: session)

    out, err = capsys.readouterr()
    assert status == exit_code
    assert out.splitlines()[0] == REPORT[0]
    assert ("smoke of stack prod: passed" in out) if exit_code == 0 else ("smoke of stack prod: FAILED" in err)


def test_on_the_host_the_smoke_command_runs_through_ssm(fast, capsys):
    session = Session("ssm")
    stub = session.stubs["ssm"]
    spec = CommandSpec.from_props({**{k: v for k, v in HOST_RUN.items() if k != "runner"}, "trigger": "make smoke"})
    stub.add_response("send_command", {"Command": {"CommandId": COMMAND_ID}}, send_command_request(spec))
    for _ in range(2):  # the runner's verdict, then the output this script prints
        stub.add_response("get_command_invocation", {"Status": "Success", "ResponseCode": 0,
                                                     "StandardOutputContent": "\n".join(REPORT)},
                          {"CommandId": COMMAND_ID, "InstanceId": INSTANCE})
    with stub:
        status = smoke.main(["--stack", "stg"], outputs=lambda stack: dict(HOST_RUN), session_for=lambda region: session)

    assert status == 0 and capsys.readouterr().out.splitlines()[0] == REPORT[0]
