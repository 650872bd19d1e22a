"""Run a stack's smoke step on demand (`make smoke STACK=<stack>`): each team's call traced in its own
Langfuse project, proven inside the VPC (team_plane/smoke.py), as the deploy runs it after the team
plane. This machine only talks to AWS APIs: the step runs where the deploy runs it, started the way
the deploy starts it, from the stack's `smokeRun` output (what the deploy's own runner takes):

- ECS: one Fargate task of the smoke task definition (components/one_off_task.py's runner: RunTask,
  wait until STOPPED, the container's exit code), then its log stream from CloudWatch Logs;
- the EC2 host: the smoke command through SSM Run Command (components/host_command.py's runner),
  then the command's output.

It prints the step's report (one line per team) and exits 1 when the step failed. Credentials and
Region come from the usual AWS environment (AWS_PROFILE, AWS_REGION), as for scripts/restore.py.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.deploy_session import deploy_session  # noqa: E402
from components.host_command import CommandSpec, HostCommandError, HostCommandProvider  # noqa: E402
from components.one_off_task import OneOffTaskError, OneOffTaskProvider, TaskSpec, task_id  # noqa: E402

OUTPUT = "smokeRun"
ECS, SSM = "ecs", "ssm"


def stack_output(stack: str) -> dict[str, Any]:
    """The stack's `smokeRun` output (Pulumi reads it from the state backend, not from the stack)."""
    text = subprocess.run(["pulumi", "stack", "output", OUTPUT, "--json", "--stack", stack], capture_output=True,
                          text=True, check=True).stdout
    return json.loads(text)


class _Recording:
    """An ECS client that keeps the tasks RunTask started (the runner reports only its verdict)."""

    def __init__(self, client: Any):
        self._client, self.task_arns = client, []

    def run_task(self, **request: Any) -> Mapping[str, Any]:
        response = self._client.run_task(**request)
        self.task_arns += [task["taskArn"] for task in response.get("tasks", [])]
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def container_log(session: Any, ecs: Any, spec: TaskSpec, task_arn: str) -> list[str]:
    """The container's lines from its awslogs stream (<prefix>/<container>/<task id>)."""
    definition = ecs.describe_task_definition(taskDefinition=spec.task_definition_arn)["taskDefinition"]
    container = next(c for c in definition["containerDefinitions"] if c["name"] == spec.container_name)
    options = container["logConfiguration"]["options"]
    stream = f"{options['awslogs-stream-prefix']}/{spec.container_name}/{task_id(task_arn)}"
    logs = session.client("logs", region_name=spec.region)
    events = logs.get_log_events(logGroupName=options["awslogs-group"], logStreamName=stream, startFromHead=True)
    return [event["message"] for event in events["events"]]


def run_on_ecs(props: Mapping[str, Any], session: Any, provider: Callable[..., OneOffTaskProvider] = OneOffTaskProvider,
               ) -> tuple[bool, list[str]]:
    spec = TaskSpec.from_props({**props, "trigger": "make smoke", "credentials": {}})
    ecs = _Recording(session.client("ecs", region_name=spec.region))
    try:
        provider(ecs_client=lambda _region, _credentials: ecs)._run(spec)
        ok, lines = True, []
    except OneOffTaskError as error:
        ok, lines = False, [str(error)]
    if ecs.task_arns:
        lines = container_log(session, ecs, spec, ecs.task_arns[-1]) + lines
    return ok, lines


def run_on_host(props: Mapping[str, Any], session: Any,
                provider: Callable[..., HostCommandProvider] = HostCommandProvider) -> tuple[bool, list[str]]:
    spec = CommandSpec.from_props({**props, "trigger": "make smoke", "credentials": {}})
    ssm = session.client("ssm", region_name=spec.region)
    try:
        command_id = provider(ssm_client=lambda _region, _credentials: ssm)._run(spec)
    except HostCommandError as error:  # its message carries the command's output
        return False, [str(error)]
    invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=spec.instance_id)
    return True, (invocation.get("StandardOutputContent") or "").splitlines()


RUNNERS = {ECS: run_on_ecs, SSM: run_on_host}


def main(argv: list[str] | None = None, outputs: Callable[[str], dict[str, Any]] = stack_output,
         session_for: Callable[[str], Any] = lambda region: deploy_session(region, {})) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    props = outputs(args.stack)
    runner = props.pop("runner")
    ok, lines = RUNNERS[runner](props, session_for(props["region"]))
    for line in lines:
        print(line)
    print(f"smoke of stack {args.stack}: {'passed' if ok else 'FAILED'}", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
