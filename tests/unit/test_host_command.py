"""HostCommand: its provider against a stubbed SSM client (botocore validates every request and
response against the SSM API model), its serialization, its registration."""

from __future__ import annotations

import math

import boto3
import pytest
from botocore.stub import Stubber

from components.host_command import (
    DELIVERY_TIMEOUT_SECONDS,
    HostCommand,
    HostCommandArgs,
    HostCommandError,
    HostCommandProvider,
    send_command_request,
    CommandSpec,
)
from tests.support.clock import FakeClock
from tests.support.pulumi_mocks import run_pulumi

REGION = "eu-west-1"
INSTANCE = "i-0123456789abcdef0"
COMMAND_ID = "8a9e1f0c-2d3b-4c5a-9e8f-7a6b5c4d3e2f"
POLL = 5.0


def command_props(**overrides) -> dict:
    return {
        "region": REGION, "instance_id": INSTANCE, "commands": ["set -eu", "echo reconciled"],
        "trigger": "document-v1", "comment": "llm-gateway team plane", "timeout_seconds": 600.0,
        "__provider": "serialized-provider", **overrides,
    }


@pytest.fixture
def ssm():
    client = boto3.client("ssm", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def clock():
    return FakeClock()


def provider_for(client, clock) -> HostCommandProvider:
    return HostCommandProvider(ssm_client=lambda region, credentials: client, poll_interval_seconds=POLL,
                               clock=clock.monotonic, sleep=clock.sleep)


def expect_send(stubber, props):
    stubber.add_response("send_command", {"Command": {"CommandId": COMMAND_ID}},
                         send_command_request(CommandSpec.from_props(props)))


def expect_invocation(stubber, status, **extra):
    stubber.add_response("get_command_invocation", {"Status": status, **extra},
                         {"CommandId": COMMAND_ID, "InstanceId": INSTANCE})


def test_runs_the_script_on_the_host_and_waits_for_success(ssm, clock):
    client, stubber = ssm
    props = command_props()
    expect_send(stubber, props)
    stubber.add_client_error("get_command_invocation", "InvocationDoesNotExist")  # right after sending
    expect_invocation(stubber, "InProgress")
    expect_invocation(stubber, "Success", ResponseCode=0)

    result = provider_for(client, clock).create(props)

    assert result.id == COMMAND_ID and result.outs["command_id"] == COMMAND_ID
    assert result.outs["commands"] == ["set -eu", "echo reconciled"]
    assert clock.sleeps == [POLL] * 2


def test_a_host_whose_agent_is_not_registered_yet_is_retried(ssm, clock):
    client, stubber = ssm
    props = command_props()
    stubber.add_client_error("send_command", "InvalidInstanceId")
    stubber.add_client_error("send_command", "InvalidInstanceId")
    expect_send(stubber, props)
    expect_invocation(stubber, "Success", ResponseCode=0)

    assert provider_for(client, clock).create(props).id == COMMAND_ID
    assert clock.sleeps == [POLL] * 2


def test_a_failed_command_fails_the_deploy_with_its_status_and_output(ssm, clock):
    client, stubber = ssm
    props = command_props()
    expect_send(stubber, props)
    expect_invocation(stubber, "Failed", StatusDetails="Failed", ResponseCode=1,
                      StandardOutputContent="mle: created\nops: failed: HTTP 500", StandardErrorContent="1 team failed")

    with pytest.raises(HostCommandError) as raised:
        provider_for(client, clock).create(props)

    message = str(raised.value)
    assert f"command {COMMAND_ID} (llm-gateway team plane) on {INSTANCE} ended Failed" in message
    assert "exit code 1" in message and "ops: failed: HTTP 500" in message and "1 team failed" in message


def test_a_command_ssm_never_ends_is_cancelled_after_ssm_should_have(ssm, clock):
    client, stubber = ssm
    props = command_props(timeout_seconds=12.0)
    expect_send(stubber, props)
    # SSM ends it within the delivery timeout and the script's own; the provider gives two more polls.
    for _ in range(math.ceil((DELIVERY_TIMEOUT_SECONDS + 12 + 2 * POLL) / POLL) + 1):
        expect_invocation(stubber, "InProgress")
    stubber.add_response("cancel_command", {}, {"CommandId": COMMAND_ID, "InstanceIds": [INSTANCE]})

    with pytest.raises(HostCommandError, match="was not ended by SSM within 300 s of delivery and its 12 s .*cancelled"):
        provider_for(client, clock).create(props)
    assert clock.now - 1000.0 >= DELIVERY_TIMEOUT_SECONDS + 12


def test_a_slow_script_is_ended_by_ssm_with_its_own_output_not_by_the_provider(ssm, clock):
    """The script's timeout counts from its start; the agent registered late and the script ran to
    its end: what fails the deploy is SSM's TimedOut and the script's own words."""
    client, stubber = ssm
    props = command_props(timeout_seconds=600.0)
    for _ in range(24):  # two minutes until the new host's agent registers
        stubber.add_client_error("send_command", "InvalidInstanceId")
    expect_send(stubber, props)
    for _ in range(int(600 // POLL)):
        expect_invocation(stubber, "InProgress")
    expect_invocation(stubber, "TimedOut", StatusDetails="ExecutionTimedOut", ResponseCode=137,
                      StandardErrorContent="llm-gateway: the verify step ran out of its 300 s deadline")

    with pytest.raises(HostCommandError, match="ended TimedOut .*ran out of its 300 s deadline"):
        provider_for(client, clock).create(props)


def test_other_send_errors_are_not_retried(ssm, clock):
    client, stubber = ssm
    stubber.add_client_error("send_command", "AccessDeniedException", "not authorized to perform ssm:SendCommand")

    with pytest.raises(HostCommandError, match="AccessDeniedException"):
        provider_for(client, clock).create(command_props())
    assert clock.sleeps == []


@pytest.mark.parametrize("change, reruns", [
    ({"trigger": "document-v2"}, True), ({"instance_id": "i-0fedcba9876543210"}, True),
    ({"commands": ["echo other"]}, True), ({"timeout_seconds": 1200.0}, False), ({"comment": "renamed"}, False),
    ({"credentials": {"profile": "deploy", "assume_roles": []}}, False),  # state from before it existed
    ({"every_deploy": True}, True), ({}, False),  # the smoke: a proof on every deploy, nothing changed
])
def test_runs_again_when_the_host_the_script_or_the_trigger_changes(change, reruns):
    olds = {key: value for key, value in command_props().items() if key != "__provider"}
    assert HostCommandProvider().diff("id", olds, command_props(**change)).changes is reruns


def test_registers_as_a_dynamic_resource_with_its_inputs():
    def build():
        HostCommand("team-plane", HostCommandArgs(
            region=REGION, instance_id=INSTANCE, commands=["echo hi"], trigger="v1", comment="llm-gateway team plane",
        ))

    registration = run_pulumi(build).named("team-plane")
    assert registration.typ == "pulumi-python:dynamic:Resource"
    assert {key: registration.input(key) for key in ("region", "instance_id", "commands", "trigger")} == {
        "region": REGION, "instance_id": INSTANCE, "commands": ["echo hi"], "trigger": "v1",
    }
