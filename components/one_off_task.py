"""Run an ECS Fargate task to completion at deploy time (database init, schema migrations).

`OneOffTask` is a Pulumi dynamic resource: `pulumi up` starts the task, waits until it stops and
fails the deployment unless the named container exited 0, so whatever depends on it (the services)
only starts after a successful run. It runs again whenever the task definition, the trigger or the
network placement changes; deleting it removes nothing (the task has already stopped).

The engine runs the provider in its own process from a dill pickle. dill pickles classes outside
`__main__` by reference, so that process imports `components.one_off_task`: it can, because Pulumi
starts it in the project directory (`python -m pulumi.dynamic`, which puts that directory on
sys.path). Keep this module path and the class names stable while any stack state holds one of
these resources: deleting one deserializes the provider stored with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import pulumi
from botocore.exceptions import BotoCoreError, ClientError
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from components.deploy_session import deploy_session

STARTED_BY = "llm-gateway"
DEFAULT_POLL_INTERVAL_SECONDS = 6.0
# A task that never started is tried again after these pauses (while the timeout leaves room): Fargate
# answers RunTask "Capacity is unavailable at this time. Please try again later or in a different
# availability zone" when an AZ has no capacity (AWS re:Post knowledge center,
# ecs-fargate-runtask-capacity: "wait before you retry the RunTask API"), and a task that could not be
# placed or provisioned after all stops with stopCode TaskFailedToStart (ECS API Reference, Task) before
# any container ran, so starting it again is safe.
START_RETRY_PAUSES_SECONDS = (15.0, 30.0, 60.0, 120.0)
CAPACITY_UNAVAILABLE = "Capacity is unavailable"


@dataclass(frozen=True)
class OneOffTaskArgs:
    region: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    task_definition_arn: pulumi.Input[str]
    container_name: pulumi.Input[str]  # the container whose exit code decides success
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_ids: Sequence[pulumi.Input[str]]
    trigger: pulumi.Input[str]  # any change re-runs the task, e.g. a hash of what the job depends on
    timeout_seconds: int = 900  # from RunTask to STOPPED (services/jobs.py JobSpec.timeout_seconds)
    # Who calls ECS: the stack's AWS provider identity (config/deploy_credentials.py DeployCredentials.as_input).
    credentials: Mapping[str, Any] = field(default_factory=dict)
    # Runs on every deploy, whatever changed (a proof, such as the smoke test, not a change to apply).
    every_deploy: bool = False


INPUT_KEYS = tuple(f.name for f in fields(OneOffTaskArgs))
# A longer or shorter timeout, or another identity calling ECS, alone is no reason to run the job again.
RERUN_KEYS = tuple(key for key in INPUT_KEYS if key not in ("timeout_seconds", "credentials", "every_deploy"))


class OneOffTaskError(Exception):
    """The task could not be started, failed, or did not stop in time."""


@dataclass(frozen=True)
class TaskSpec:
    """The resource's inputs as the provider receives them from the engine."""

    region: str
    cluster_arn: str
    task_definition_arn: str
    container_name: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    trigger: str
    timeout_seconds: int
    credentials: Mapping[str, Any]
    every_deploy: bool = False

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> TaskSpec:
        return cls(
            region=props["region"],
            cluster_arn=props["cluster_arn"],
            task_definition_arn=props["task_definition_arn"],
            container_name=props["container_name"],
            subnet_ids=tuple(props["subnet_ids"]),
            security_group_ids=tuple(props["security_group_ids"]),
            trigger=props.get("trigger", ""),
            timeout_seconds=int(props["timeout_seconds"]),  # the engine hands numbers over as floats
            credentials=props.get("credentials") or {},  # state written before it existed: the default chain
            every_deploy=bool(props.get("every_deploy")),
        )

    def as_props(self) -> dict[str, Any]:
        props = {key: getattr(self, key) for key in INPUT_KEYS}
        # Lists, as the engine hands them back, so stored outputs compare equal to later inputs.
        return {**props, "subnet_ids": list(self.subnet_ids), "security_group_ids": list(self.security_group_ids)}


@dataclass(frozen=True)
class TaskOutcome:
    """What a stopped task tells about its run."""

    task_arn: str
    exit_code: int | None  # None when the container never ran to an exit
    stop_code: str | None
    stopped_reason: str | None
    container_reason: str | None
    # Every other container of the task (the earlier steps of a job): (name, exit code, reason).
    others: tuple[tuple[str, int | None, str | None], ...] = ()

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0


def rerun_reasons(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """Inputs whose change makes the job run again (an unknown value during preview counts); a job that
    runs on every deploy always has a reason."""
    return [key for key in RERUN_KEYS if olds.get(key) != news.get(key)] + (["every_deploy"] if news.get("every_deploy") else [])


def run_task_request(spec: TaskSpec) -> dict[str, Any]:
    # No clientToken: botocore generates one per call and reuses it on its own retries, so a
    # retried request never starts a second task.
    return {
        "cluster": spec.cluster_arn,
        "taskDefinition": spec.task_definition_arn,
        "launchType": "FARGATE",
        "count": 1,
        "startedBy": STARTED_BY,
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": list(spec.subnet_ids),
                "securityGroups": list(spec.security_group_ids),
                "assignPublicIp": "DISABLED",
            }
        },
    }


def task_id(task_arn: str) -> str:
    return task_arn.rsplit("/", 1)[-1]


def task_outcome(task: Mapping[str, Any], container_name: str) -> TaskOutcome:
    containers = task.get("containers", [])
    container = next((c for c in containers if c.get("name") == container_name), {})
    if container:
        container_reason = container.get("reason")
    else:
        names = ", ".join(c.get("name", "?") for c in containers) or "none"
        container_reason = f"the task has no container named {container_name!r} (containers: {names})"
    return TaskOutcome(
        task_arn=task["taskArn"],
        exit_code=container.get("exitCode"),
        stop_code=task.get("stopCode"),
        stopped_reason=task.get("stoppedReason"),
        container_reason=container_reason,
        others=tuple(
            (c.get("name", "?"), c.get("exitCode"), c.get("reason")) for c in containers if c.get("name") != container_name
        ),
    )


def log_location(task_definition: Mapping[str, Any], container_name: str, task_arn: str) -> str | None:
    """Where the awslogs driver writes the container's output for this task, if it is configured."""
    for container in task_definition.get("containerDefinitions", []):
        if container.get("name") != container_name:
            continue
        config = container.get("logConfiguration") or {}
        options = config.get("options") or {}
        if config.get("logDriver") != "awslogs" or "awslogs-group" not in options:
            return None
        location = f"CloudWatch log group {options['awslogs-group']}"
        prefix = options.get("awslogs-stream-prefix")
        # The awslogs driver names streams <prefix>/<container>/<task id>.
        return f"{location}, stream {prefix}/{container_name}/{task_id(task_arn)}" if prefix else location
    return None


def _logs_sentence(logs: str | None, spec: TaskSpec) -> str:
    return f"logs: {logs}" if logs else (
        f"logs: see the log configuration of container {spec.container_name!r} in {spec.task_definition_arn}"
    )


def failure_message(outcome: TaskOutcome, spec: TaskSpec, logs: str | None) -> str:
    exit_text = (
        f"exited with code {outcome.exit_code}" if outcome.exit_code is not None else "never exited with a code"
    )
    parts = [f"one-off task {outcome.task_arn} failed: container {spec.container_name!r} {exit_text}"]
    if outcome.container_reason:
        parts.append(f"container reason: {outcome.container_reason}")
    for name, code, reason in outcome.others:
        ran = f"exited with code {code}" if code is not None else "never exited with a code"
        parts.append(f"container {name!r} {ran}" + (f" ({reason})" if reason else ""))
    if outcome.stopped_reason:
        parts.append(f"stopped reason: {outcome.stopped_reason} ({outcome.stop_code or 'no stop code'})")
    parts.append(_logs_sentence(logs, spec))
    return "; ".join(parts)


def _start_failure_text(failure: Mapping[str, Any]) -> str:
    text = failure.get("reason", "unknown reason")
    if failure.get("detail"):
        text += f" ({failure['detail']})"
    if failure.get("arn"):
        text += f" for {failure['arn']}"
    return text


def start_failure_message(spec: TaskSpec, failures: Sequence[Mapping[str, Any]]) -> str:
    reasons = "; ".join(_start_failure_text(failure) for failure in failures) or "no task and no failure returned"
    return f"ECS could not start a one-off task of {spec.task_definition_arn} on {spec.cluster_arn}: {reasons}"


def capacity_refused(failures: Sequence[Mapping[str, Any]]) -> bool:
    """RunTask placed nothing for want of Fargate capacity only: worth asking again later."""
    return bool(failures) and all(CAPACITY_UNAVAILABLE in _start_failure_text(failure) for failure in failures)


def with_earlier_attempts(message: str, attempts: Sequence[str]) -> str:
    return message + "".join(f"; before that, attempt {i}: {text}" for i, text in enumerate(attempts, 1))


def timeout_message(task_arn: str, last_status: str, spec: TaskSpec, logs: str | None) -> str:
    return (
        f"one-off task {task_arn} did not stop within {spec.timeout_seconds} s (last status {last_status}); "
        f"it was stopped so that a later deploy does not run beside it; {_logs_sentence(logs, spec)}"
    )


def ecs_client_for(region: str, credentials: Mapping[str, Any]) -> Any:
    return deploy_session(region, credentials).client("ecs", region_name=region)


class OneOffTaskProvider(ResourceProvider):
    """Runs the task on create and update; read and delete keep the inherited no-ops.

    Everything injected here is pickled with the provider, so the defaults are module-level
    functions (pickled by reference); tests pass fakes.
    """

    def __init__(
        self,
        ecs_client: Callable[[str, Mapping[str, Any]], Any] = ecs_client_for,
        poll_interval_seconds: float = DEFAULT_POLL_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__()
        self.ecs_client = ecs_client
        self.poll_interval_seconds = poll_interval_seconds
        self.clock = clock
        self.sleep = sleep

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = TaskSpec.from_props(props)
        outcome = self._run(spec)
        return CreateResult(outcome.task_arn, self._outputs(spec, outcome))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=bool(rerun_reasons(olds, news)))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        spec = TaskSpec.from_props(news)
        return UpdateResult(self._outputs(spec, self._run(spec)))

    @staticmethod
    def _outputs(spec: TaskSpec, outcome: TaskOutcome) -> dict[str, Any]:
        return {**spec.as_props(), "task_arn": outcome.task_arn, "exit_code": outcome.exit_code}

    def _run(self, spec: TaskSpec) -> TaskOutcome:
        """Start the task and wait for it. A start refused for capacity, or a task that failed to start,
        is tried again after the next pause of START_RETRY_PAUSES_SECONDS, if it ends before the deadline."""
        ecs = self.ecs_client(spec.region, spec.credentials)
        deadline = self.clock() + spec.timeout_seconds
        pauses = iter(START_RETRY_PAUSES_SECONDS)
        earlier: list[str] = []  # why each earlier attempt did not start
        while True:
            response = ecs.run_task(**run_task_request(spec))
            failures = response.get("failures") or []
            if failures or not response.get("tasks"):
                message, retryable = start_failure_message(spec, failures), capacity_refused(failures)
            else:
                outcome = task_outcome(self._wait_until_stopped(ecs, spec, response["tasks"][0], deadline),
                                       spec.container_name)
                if outcome.succeeded:
                    return outcome
                message = failure_message(outcome, spec, self._logs(ecs, spec, outcome.task_arn))
                retryable = outcome.stop_code == "TaskFailedToStart"
            pause = next(pauses, None)
            if not retryable or pause is None or self.clock() + pause >= deadline:
                raise OneOffTaskError(with_earlier_attempts(message, earlier))
            earlier.append(message)
            self.sleep(pause)

    def _wait_until_stopped(self, ecs: Any, spec: TaskSpec, started: Mapping[str, Any],
                            deadline: float) -> Mapping[str, Any]:
        task_arn, last_status = started["taskArn"], started.get("lastStatus", "PROVISIONING")
        while True:
            # Right after run_task, describe_tasks may not know the task yet (MISSING): poll on.
            tasks = ecs.describe_tasks(cluster=spec.cluster_arn, tasks=[task_arn]).get("tasks", [])
            if tasks:
                if tasks[0]["lastStatus"] == "STOPPED":
                    return tasks[0]
                last_status = tasks[0]["lastStatus"]
            if self.clock() >= deadline:
                ecs.stop_task(cluster=spec.cluster_arn, task=task_arn, reason=f"{STARTED_BY}: deploy timed out")
                raise OneOffTaskError(timeout_message(task_arn, last_status, spec, self._logs(ecs, spec, task_arn)))
            self.sleep(self.poll_interval_seconds)

    @staticmethod
    def _logs(ecs: Any, spec: TaskSpec, task_arn: str) -> str | None:
        try:
            definition = ecs.describe_task_definition(taskDefinition=spec.task_definition_arn)["taskDefinition"]
        except (BotoCoreError, ClientError):
            return None  # only a hint: the failure being reported matters more
        return log_location(definition, spec.container_name, task_arn)


class OneOffTask(Resource):
    """Its id is the ARN of the first run's task; `task_arn` and `exit_code` are the latest run's."""

    task_arn: pulumi.Output[str]
    exit_code: pulumi.Output[int]

    def __init__(self, name: str, args: OneOffTaskArgs, opts: pulumi.ResourceOptions | None = None):
        props = {key: getattr(args, key) for key in INPUT_KEYS}
        super().__init__(OneOffTaskProvider(), name, {**props, "task_arn": None, "exit_code": None}, opts)
