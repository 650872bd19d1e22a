"""Run a job's one-off steps as containers of the deploying machine's Docker daemon (compute: local).

The local platform's counterpart of components/one_off_task.py: `DockerJob` is a Pulumi dynamic
resource whose create and update pull the steps' images the daemon lacks, then run the steps in
order with the Docker CLI (create, copy its files in, start, wait), and fail the deployment with the step's exit code and the tail of its
log as soon as one step exits non-zero, so whatever depends on the job only starts after a
successful run. pulumi-docker's own Container cannot do that: with `attach` it waits for the exit
but discards the exit code, so a failed migration would not fail `pulumi up`
(terraform-provider-docker v4.5.0 internal/provider/resource_docker_container_funcs.go:657-670),
and an exited container with `must_run` is started again on a later update (same file, 997-1012).

The steps share the job's volumes as scratch space: created for the run and removed after it
however it ends (the team plane's SQL holds secret keys). Each step's container is removed after
it exited. A removal that fails fails the job and says what is left; a run first removes what an
interrupted run of the same job left (its containers and volumes, found by their labels). The job
runs again whenever its steps (images, environment, files, ...), its network or its trigger
change; deleting it removes nothing (its containers are already gone).

Which daemon: the one pulumi-docker's provider talks to, found the same way (its `context`, from
DOCKER_CONTEXT, overrides `host`, from DOCKER_HOST, else unix:///var/run/docker.sock:
terraform-provider-docker v4.5.0 internal/provider/provider.go:44-63, 204-214), passed to the
CLI explicitly, so a CLI whose current context points elsewhere cannot split the stack in two.

Environment values never appear on a command line (`ps` shows those): `-e NAME` makes the CLI take
the value from its own environment. Secret values reach the provider as a secret input, and its
outputs repeat that input under the same key, which the engine stores encrypted (a provider that
accepts no secrets gets its outputs' secretness copied from its inputs: pulumi
sdk/go/common/resource/plugin/provider_plugin.go `annotateSecrets`).

Pickled by reference like components/one_off_task.py (see there): keep this module path and the
class names stable while any stack state holds one of these resources.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from renderers.docker import STACK_LABEL, DockerStep

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
LOG_TAIL_LINES = 40
LABEL = "llm-gateway.job"
# Names the Docker CLI reads from its own environment: a step's variable of that name would steer
# the CLI instead of reaching the container.
CLI_VARIABLES = ("PATH", "HOME")
CLI_PREFIX = "DOCKER_"


@dataclass(frozen=True)
class DockerJobArgs:
    job: str
    container_prefix: str  # containers and scratch volumes are named <prefix>-<job>-...
    network: pulumi.Input[str]
    steps: Sequence[DockerStep[pulumi.Input[str]]]  # the secrets' values: secret Outputs
    trigger: pulumi.Input[str] = ""  # any change re-runs the job, e.g. a hash of what it depends on
    timeout_seconds: int = 900  # from the first step's start to the last step's exit, downloads before (services/jobs.py)


INPUT_KEYS = tuple(f.name for f in fields(DockerJobArgs))
# A longer or shorter timeout alone is no reason to run the job again.
RERUN_KEYS = tuple(key for key in INPUT_KEYS if key != "timeout_seconds")


class DockerJobError(Exception):
    """A step could not be started, failed, or did not exit in time."""


def step_from_props(props: Mapping[str, Any]) -> DockerStep[str]:
    """A step as the engine hands it to the provider (`step_props`, values resolved)."""
    memory = props.get("memory")
    return DockerStep(
        name=props["name"], image=props["image"],
        entrypoint=tuple(props["entrypoint"]) if props.get("entrypoint") else None,
        command=tuple(props.get("command") or ()), environment=dict(props.get("environment") or {}),
        secrets=dict(props.get("secrets") or {}), volumes=dict(props.get("volumes") or {}),
        files=dict(props.get("files") or {}), user=props.get("user") or None,
        memory=int(memory) if memory else None,  # the engine hands numbers over as floats
    )


def step_props(step: DockerStep[pulumi.Input[str]]) -> dict[str, Any]:
    """The resource's input for a step: its fields under their own names, as lists and dicts."""
    values = {f.name: getattr(step, f.name) for f in fields(step)}
    return {name: list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, Mapping) else value
            for name, value in values.items()}


def container_environment(step: DockerStep[str]) -> dict[str, str]:
    """The plain and the secret variables, which the CLI passes alike."""
    return {**step.environment, **step.secrets}


@dataclass(frozen=True)
class JobSpec:
    """The resource's inputs as the provider receives them from the engine."""

    job: str
    container_prefix: str
    network: str
    steps: tuple[DockerStep[str], ...]
    trigger: str
    timeout_seconds: int

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> JobSpec:
        return cls(
            job=props["job"], container_prefix=props["container_prefix"], network=props["network"],
            steps=tuple(step_from_props(step) for step in props["steps"]), trigger=props.get("trigger", ""),
            timeout_seconds=int(props["timeout_seconds"]),
        )


def rerun_reasons(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """Inputs whose change makes the job run again (an unknown value during preview counts)."""
    return [key for key in RERUN_KEYS if olds.get(key) != news.get(key)]


def daemon_arguments(environ: Mapping[str, str]) -> list[str]:
    """The CLI's global options that select the daemon pulumi-docker's provider uses (see top)."""
    if environ.get("DOCKER_CONTEXT"):
        return ["--context", environ["DOCKER_CONTEXT"]]
    return ["--host", environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST]


Docker = Callable[..., subprocess.CompletedProcess]


def docker_cli(args: Sequence[str], *, env: Mapping[str, str] | None = None, stdin: bytes | None = None,
               timeout: float | None = None) -> subprocess.CompletedProcess:
    """Runs `docker <args>` on the deploying machine; stdout and stderr come back as text."""
    try:
        # Looked up on `env`'s PATH (subprocess searches the child's environment's PATH when given one).
        done = subprocess.run(["docker", *args], input=stdin, env=dict(env) if env is not None else None,
                              capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        path = (env if env is not None else os.environ).get("PATH", "")
        raise DockerJobError(f"no `docker` program on PATH ({path}): the local stack's jobs run with Docker's CLI "
                             "(README \"Prerequisites\")") from None
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(errors="replace"),
                                       done.stderr.decode(errors="replace"))


def process_environment() -> Mapping[str, str]:
    """The provider process's environment: the deploying user's (the engine starts it with that)."""
    return os.environ


def files_archive(files: Mapping[str, str]) -> bytes:
    """A tar stream of `files` (absolute path -> text) for `docker cp - <container>:/`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, content in sorted(files.items()):
            data = content.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def job_labels(spec: JobSpec) -> list[str]:
    """What marks a run's containers and volumes as this job's of this stack (two stacks on one
    machine may run a job of the same name)."""
    return ["--label", f"{LABEL}={spec.job}", "--label", f"{STACK_LABEL}={spec.container_prefix}"]


def job_filters(spec: JobSpec) -> list[str]:
    """`docker ps` / `docker volume ls` filters for exactly those (label filters must all match: moby
    api/types/filters/parse.go MatchKVList)."""
    labels = job_labels(spec)
    return [arg for label in labels[1::2] for arg in ("--filter", f"label={label}")]


def create_arguments(spec: JobSpec, step: DockerStep[str], container: str, scratch: Mapping[str, str]) -> list[str]:
    """`docker create` for one step. Docker runs entrypoint + command: the first entrypoint word is the
    CLI's --entrypoint (which also drops the image's own command), the rest lead the arguments."""
    args = ["create", "--name", container, "--network", spec.network, *job_labels(spec),
            "--label", f"{LABEL}.step={step.name}"]
    if step.entrypoint:
        args += ["--entrypoint", step.entrypoint[0]]
    if step.user:
        args += ["--user", step.user]
    if step.memory:
        args += ["--memory", f"{step.memory}m"]
    for name in sorted(container_environment(step)):
        args += ["--env", name]  # the value comes from the CLI's environment (see top)
    for volume, path in sorted(step.volumes.items()):
        args += ["--mount", f"type=volume,source={scratch[volume]},target={path}"]
    return [*args, step.image, *(step.entrypoint or ())[1:], *step.command]


class DockerJobProvider(ResourceProvider):
    """Runs the job on create and update; read and delete keep the inherited no-ops. Injected
    callables are module-level functions by default (pickled by reference); tests pass fakes."""

    def __init__(self, docker: Docker = docker_cli, environ: Callable[[], Mapping[str, str]] = process_environment,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.docker = docker
        self.environ = environ
        self.clock = clock

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = JobSpec.from_props(props)
        container_id = self._run(spec)
        return CreateResult(container_id, self._outputs(props, container_id))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=bool(rerun_reasons(olds, news)))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._outputs(news, self._run(JobSpec.from_props(news))))

    @staticmethod
    def _outputs(props: Mapping[str, Any], container_id: str) -> dict[str, Any]:
        # The inputs under their own keys (what the next diff compares; secret where the input was).
        outputs = {key: props[key] for key in INPUT_KEYS if key in props}
        return {**outputs, "timeout_seconds": int(props["timeout_seconds"]), "last_container_id": container_id}

    def _cli(self, *args: str, env: Mapping[str, str] | None = None, stdin: bytes | None = None,
             timeout: float | None = None) -> subprocess.CompletedProcess:
        environ = self.environ()
        return self.docker([*daemon_arguments(environ), *args], env={**environ, **(env or {})}, stdin=stdin,
                           timeout=timeout)

    def _checked(self, what: str, *args: str, **options: Any) -> str:
        done = self._cli(*args, **options)
        if done.returncode != 0:
            raise DockerJobError(f"{what}: docker {args[0]} exited with code {done.returncode}: {done.stderr.strip()}")
        return done.stdout.strip()

    def _run(self, spec: JobSpec) -> str:
        """Every step in order; returns the last step's container id."""
        for step in spec.steps:
            clashing = sorted(n for n in container_environment(step) if n in CLI_VARIABLES or n.startswith(CLI_PREFIX))
            if clashing:
                raise DockerJobError(f"local job {spec.job}: step {step.name} sets {', '.join(clashing)}, which the "
                                     "Docker CLI would read itself")
        self._remove_leftovers(spec)
        self._pull_images(spec)
        run = uuid.uuid4().hex[:8]
        volumes = sorted({volume for step in spec.steps for volume in step.volumes})
        scratch = {volume: f"{spec.container_prefix}-{spec.job}-{volume}-{run}" for volume in volumes}
        # After the downloads: a first `up` pulls gigabytes, which is no step's time (a migration
        # must not be killed half-way because the image took long to arrive).
        deadline = self.clock() + spec.timeout_seconds
        created: list[str] = []
        # Removed however the run ended (the team plane's SQL holds secret keys).
        with self._removing(f"local job {spec.job}", "its scratch volumes", ("volume", "rm"), created):
            for volume in scratch.values():
                created.append(self._checked(f"local job {spec.job}", "volume", "create", *job_labels(spec), volume))
            container_id = ""
            for step in spec.steps:
                container_id = self._run_step(spec, step, f"{spec.container_prefix}-{spec.job}-{step.name}-{run}",
                                              scratch, deadline)
            return container_id

    def _remove_leftovers(self, spec: JobSpec) -> None:
        """What a run of this job left when it was interrupted (the deploy killed, the machine off):
        its containers and its scratch volumes. A step still running may be a migration: killed
        half-way it leaves a schema to repair by hand (Prisma's P3009, a dirty ClickHouse migration),
        so it gets the job's time to finish first; one that outlives that is stuck and removed."""
        where = f"local job {spec.job}, leftovers of an interrupted run"
        running = self._checked(where, "ps", "--quiet", *job_filters(spec)).split()  # without --all: running only
        deadline = self.clock() + spec.timeout_seconds
        for container in running:
            try:
                self._cli("wait", container, timeout=max(deadline - self.clock(), 1.0))
            except subprocess.TimeoutExpired:
                break
        containers = self._checked(where, "ps", "--all", "--quiet", *job_filters(spec)).split()
        if containers:
            self._checked(where, "rm", "--force", *containers)
        volumes = self._checked(where, "volume", "ls", "--quiet", *job_filters(spec)).split()
        if volumes:
            self._checked(where, "volume", "rm", "--force", *volumes)

    @contextmanager
    def _removing(self, where: str, what: str, remove: tuple[str, ...], names: list[str]) -> Iterator[None]:
        """Runs the block, then `docker <remove> --force <names>` (when there are any). A removal that
        fails fails the job, in the block's own failure when it failed too: nothing is left behind
        unsaid (the job's next run removes it)."""
        try:
            yield
        except DockerJobError as failure:
            if problem := self._removal_problem(what, remove, names):
                raise DockerJobError(f"{failure}\nBesides, {problem}") from None
            raise
        except BaseException:
            self._removal_problem(what, remove, names)
            raise
        if problem := self._removal_problem(what, remove, names):
            raise DockerJobError(f"{where}: {problem}")

    def _removal_problem(self, what: str, remove: tuple[str, ...], names: list[str]) -> str | None:
        if not names:
            return None
        removed = self._cli(*remove, "--force", *names)
        if removed.returncode == 0:
            return None
        return (f"{what} could not be removed (docker {' '.join(remove)} exited with code {removed.returncode}: "
                f"{removed.stderr.strip()}); the job's next run removes what is left")

    def _pull_images(self, spec: JobSpec) -> None:
        """Each step's image onto the daemon, unless it holds it already (a later `up` needs no registry)."""
        pulled: set[str] = set()
        for step in spec.steps:
            if step.image not in pulled and self._cli("image", "inspect", "--format", "{{.Id}}", step.image).returncode:
                self._checked(f"local job {spec.job}, step {step.name}", "pull", step.image)
            pulled.add(step.image)

    def _run_step(self, spec: JobSpec, step: DockerStep[str], container: str, scratch: Mapping[str, str], deadline: float) -> str:
        where = f"local job {spec.job}, step {step.name}"
        container_id = self._checked(where, *create_arguments(spec, step, container, scratch),
                                     env=container_environment(step))
        with self._removing(where, "its container", ("rm",), [container_id]):
            if step.files:
                self._checked(where, "cp", "-", f"{container_id}:/", stdin=files_archive(step.files))
            self._checked(where, "start", container_id)
            try:
                waited = self._cli("wait", container_id, timeout=max(deadline - self.clock(), 1.0))
            except subprocess.TimeoutExpired:
                raise DockerJobError(
                    f"{where}: did not exit within the job's {spec.timeout_seconds} s, so the job removes it. "
                    f"{self._log_tail(container_id)}"
                ) from None
            code = waited.stdout.strip()
            if waited.returncode != 0 or code != "0":
                exited = f"exited with code {code}" if waited.returncode == 0 else f"could not be waited for: {waited.stderr.strip()}"
                raise DockerJobError(f"{where} ({step.image}) {exited}. {self._log_tail(container_id)}")
        return container_id

    def _log_tail(self, container_id: str) -> str:
        logs = self._cli("logs", "--tail", str(LOG_TAIL_LINES), container_id)
        text = (logs.stdout + logs.stderr).strip()
        return f"Last {LOG_TAIL_LINES} lines of its log:\n{text}" if text else "It logged nothing."


class DockerJob(Resource):
    """Its id is the first run's last container id; `last_container_id` is the latest run's."""

    last_container_id: pulumi.Output[str]

    def __init__(self, name: str, args: DockerJobArgs, opts: pulumi.ResourceOptions | None = None):
        props = {key: getattr(args, key) for key in INPUT_KEYS}
        props["steps"] = [step_props(step) for step in args.steps]
        super().__init__(DockerJobProvider(), name, {**props, "last_container_id": None}, opts)
