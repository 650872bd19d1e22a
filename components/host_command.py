"""Run a shell command on an EC2 host at deploy time, through SSM Run Command, and wait for it.

`HostCommand` is a Pulumi dynamic resource: `pulumi up` sends the command with the
`AWS-RunShellScript` document, waits until the invocation ends and fails the deployment unless it
succeeded, with the command's status, exit code and the tail of its output. The deploying machine
only talks to the SSM API; the host runs the command inside the VPC (the host's instance role
carries AmazonSSMManagedInstanceCore). It runs again whenever the host, the command or the trigger
changes; deleting it removes nothing.

A new host's SSM agent registers a minute or two after boot: until then SendCommand answers
InvalidInstanceId, which is retried until the timeout. Right after SendCommand,
GetCommandInvocation may answer InvocationDoesNotExist: polled on (SSM API reference, both).

The timeout is the script's (executionTimeout); SSM itself ends an invocation that did not start
within DELIVERY_TIMEOUT_SECONDS (SendCommand TimeoutSeconds) or ran past its timeout, with the
script's output. The provider waits that long and a little more, so what the deploy reports is
SSM's verdict and the script's own words, never the provider's impatience.

Pickled by reference like components/one_off_task.py (see there): keep this module path and the
class names stable while stack state holds these resources.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import pulumi
from botocore.exceptions import ClientError
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from components.deploy_session import deploy_session

DOCUMENT = "AWS-RunShellScript"
DEFAULT_POLL_INTERVAL_SECONDS = 5.0
# GetCommandInvocation's statuses that end an invocation (SSM API reference, CommandInvocationStatus).
FINAL_STATUSES = frozenset({"Success", "Cancelled", "TimedOut", "Failed"})
OUTPUT_TAIL = 3000  # characters of stdout/stderr in an error (SSM keeps the first 24,000 itself)
# How long SSM may wait for the (registered) agent to start the script: seconds, normally.
DELIVERY_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class HostCommandArgs:
    region: pulumi.Input[str]
    instance_id: pulumi.Input[str]
    commands: Sequence[pulumi.Input[str]]  # shell lines, run by /bin/sh in one script
    trigger: pulumi.Input[str]  # any change runs the command again
    comment: str  # shown in the SSM console (<= 100 characters)
    timeout_seconds: int = 1800  # the script's executionTimeout (renderers/compose_host/jobs.py host_job_seconds)
    # Who calls SSM: the stack's AWS provider identity (config/deploy_credentials.py DeployCredentials.as_input).
    credentials: Mapping[str, Any] = field(default_factory=dict)
    # Runs on every deploy, whatever changed (a proof, such as the smoke test, not a change to apply).
    every_deploy: bool = False


INPUT_KEYS = tuple(f.name for f in fields(HostCommandArgs))
RERUN_KEYS = ("region", "instance_id", "commands", "trigger")


class HostCommandError(Exception):
    """The command could not be sent, failed, or did not end in time."""


@dataclass(frozen=True)
class CommandSpec:
    region: str
    instance_id: str
    commands: tuple[str, ...]
    trigger: str
    comment: str
    timeout_seconds: int
    credentials: Mapping[str, Any]
    every_deploy: bool = False

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> CommandSpec:
        return cls(
            region=props["region"], instance_id=props["instance_id"], commands=tuple(props["commands"]),
            trigger=props.get("trigger", ""), comment=props.get("comment", ""),
            timeout_seconds=int(props["timeout_seconds"]),  # the engine hands numbers over as floats
            credentials=props.get("credentials") or {},  # state written before it existed: the default chain
            every_deploy=bool(props.get("every_deploy")),
        )

    def as_props(self) -> dict[str, Any]:
        return {**{key: getattr(self, key) for key in INPUT_KEYS}, "commands": list(self.commands)}


def send_command_request(spec: CommandSpec) -> dict[str, Any]:
    return {
        "InstanceIds": [spec.instance_id],
        "DocumentName": DOCUMENT,
        "Comment": spec.comment[:100],
        "Parameters": {"commands": list(spec.commands), "executionTimeout": [str(spec.timeout_seconds)]},
        "TimeoutSeconds": DELIVERY_TIMEOUT_SECONDS,
    }


def failure_message(spec: CommandSpec, invocation: Mapping[str, Any]) -> str:
    parts = [
        f"command {invocation.get('CommandId')} ({spec.comment}) on {spec.instance_id} ended {invocation.get('Status')}"
        f" ({invocation.get('StatusDetails', 'no details')}), exit code {invocation.get('ResponseCode')}",
    ]
    for label, key in (("stdout", "StandardOutputContent"), ("stderr", "StandardErrorContent")):
        text = (invocation.get(key) or "").strip()
        if text:
            parts.append(f"{label} (last {OUTPUT_TAIL} characters): {text[-OUTPUT_TAIL:]}")
    return "; ".join(parts)


def ssm_client_for(region: str, credentials: Mapping[str, Any]) -> Any:
    return deploy_session(region, credentials).client("ssm", region_name=region)


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


class HostCommandProvider(ResourceProvider):
    """Sends on create and update; read and delete keep the inherited no-ops. Injected callables are
    module-level functions by default (pickled by reference); tests pass fakes."""

    def __init__(
        self,
        ssm_client: Callable[[str, Mapping[str, Any]], Any] = ssm_client_for,
        poll_interval_seconds: float = DEFAULT_POLL_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__()
        self.ssm_client = ssm_client
        self.poll_interval_seconds = poll_interval_seconds
        self.clock = clock
        self.sleep = sleep

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = CommandSpec.from_props(props)
        command_id = self._run(spec)
        return CreateResult(command_id, {**spec.as_props(), "command_id": command_id})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=bool(news.get("every_deploy")) or any(olds.get(key) != news.get(key) for key in RERUN_KEYS))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        spec = CommandSpec.from_props(news)
        return UpdateResult({**spec.as_props(), "command_id": self._run(spec)})

    def _run(self, spec: CommandSpec) -> str:
        ssm = self.ssm_client(spec.region, spec.credentials)
        command_id = self._send(ssm, spec, self.clock() + spec.timeout_seconds)
        # By then SSM has ended the invocation itself (DeliveryTimedOut, TimedOut): a backstop.
        deadline = self.clock() + DELIVERY_TIMEOUT_SECONDS + spec.timeout_seconds + 2 * self.poll_interval_seconds
        while True:
            try:
                invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=spec.instance_id)
            except ClientError as error:
                if _error_code(error) != "InvocationDoesNotExist":
                    raise
                invocation = {"Status": "Pending"}
            if invocation["Status"] in FINAL_STATUSES:
                if invocation["Status"] != "Success":
                    raise HostCommandError(failure_message(spec, {"CommandId": command_id, **invocation}))
                return command_id
            if self.clock() >= deadline:
                ssm.cancel_command(CommandId=command_id, InstanceIds=[spec.instance_id])
                raise HostCommandError(
                    f"command {command_id} ({spec.comment}) on {spec.instance_id} was not ended by SSM within "
                    f"{DELIVERY_TIMEOUT_SECONDS} s of delivery and its {spec.timeout_seconds} s "
                    f"(last status {invocation['Status']}); it was cancelled"
                )
            self.sleep(self.poll_interval_seconds)

    def _send(self, ssm: Any, spec: CommandSpec, deadline: float) -> str:
        while True:
            try:
                return ssm.send_command(**send_command_request(spec))["Command"]["CommandId"]
            except ClientError as error:
                if _error_code(error) != "InvalidInstanceId" or self.clock() >= deadline:
                    raise HostCommandError(
                        f"SSM could not send {spec.comment!r} to {spec.instance_id}: {error} (is the host running "
                        "and its SSM agent registered? the instance role needs AmazonSSMManagedInstanceCore)"
                    ) from error
            self.sleep(self.poll_interval_seconds)


class HostCommand(Resource):
    """Its id is the first run's command id; `command_id` is the latest run's."""

    command_id: pulumi.Output[str]

    def __init__(self, name: str, args: HostCommandArgs, opts: pulumi.ResourceOptions | None = None):
        props = {key: getattr(args, key) for key in INPUT_KEYS}
        super().__init__(HostCommandProvider(), name, {**props, "commands": list(args.commands), "command_id": None}, opts)
