"""Render a ServiceSpec for the deploying machine's Docker (pure: plain values in, plain values out).

A long-running service becomes a `DockerService` (what components/local_platform.py hands
pulumi-docker's Container), a one-off a `DockerStep` of a job (components/docker_job.py). Plain
environment and secret references stay apart here; the component joins the secret values in at the
edge. Ports are published on 127.0.0.1 only. Images run by digest. Container and volume names start
with the stack's prefix, so two stacks on one machine never share one.

pulumi-docker applies a changed health check neither by replacing the container (the field is not
ForceNew) nor in place (the provider's update leaves it out: terraform-provider-docker v4.5.0
internal/provider/resource_docker_container.go:1045-1096, resource_docker_container_funcs.go:1014-1018):
the check's digest rides in a label, and labels replace the container (same file, 833-840).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

from reference.images import parse_image
from renderers.compose_host.layout import Mount
from services.jobs import JobSpec, on_demand_jobs, single
from services.secret_refs import SecretRef
from services.specs import SMOKE_JOB, TEAM_PLANE_JOB, HealthCheck, ServiceSpec

LOOPBACK = "127.0.0.1"
LABEL = "llm-gateway"
STACK_LABEL = f"{LABEL}.stack"  # on every container of a stack and its jobs' scratch volumes (components/docker_job.py)
# What the on-demand jobs run after, as on ECS (components/ecs_platform.py): the team plane once LiteLLM
# and Langfuse web serve, the smoke step after the team plane.
ON_DEMAND_AFTER = {TEAM_PLANE_JOB: ("litellm", "langfuse-web"), SMOKE_JOB: (TEAM_PLANE_JOB,)}


@dataclass(frozen=True)
class DockerHealthcheck:
    tests: tuple[str, ...]
    interval: str
    timeout: str
    start_period: str
    retries: int
    # How long a dependant waits for it: what Docker itself takes to declare it unhealthy.
    wait_seconds: int

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class DockerService:
    name: str  # the container's name: <prefix>-<service>
    alias: str  # the service's name on the stack's network
    image: str  # name@sha256:...
    entrypoint: tuple[str, ...] | None
    command: tuple[str, ...] | None
    environment: Mapping[str, str]
    secrets: Mapping[str, SecretRef]
    healthcheck: DockerHealthcheck | None
    ports: tuple[tuple[int, int], ...]  # (container port, host port on 127.0.0.1)
    volumes: tuple[tuple[str, str], ...]  # (docker volume name, container path)
    binds: tuple[Mount, ...]  # directories of the deploying machine
    files: Mapping[str, str]  # container path -> content
    memory: int | None
    user: str | None
    ulimit_nofile: int | None
    stop_timeout: int
    labels: Mapping[str, str]


Secret = TypeVar("Secret")


@dataclass(frozen=True)
class DockerStep(Generic[Secret]):
    """A one-off as a step of a local job, one shape from here to the job's provider: its `secrets`
    are references here (SecretRef), their values as the job is registered (secret Outputs,
    components/local_platform.py) and as its provider runs it (strings, components/docker_job.py).
    Its volumes are the job's scratch space."""

    name: str
    image: str  # name@sha256:...
    entrypoint: tuple[str, ...] | None
    command: tuple[str, ...]
    environment: Mapping[str, str]
    secrets: Mapping[str, Secret]
    volumes: Mapping[str, str]  # scratch volume -> container path
    files: Mapping[str, Any]  # container path -> content (an Output where the deploy makes it), copied in before start
    user: str | None
    memory: int | None  # MiB


def container_name(prefix: str, service: str) -> str:
    return f"{prefix}-{service}"


def volume_name(prefix: str, volume: str) -> str:
    return f"{prefix}-{volume}"


def pinned(image: str) -> str:
    reference = parse_image(image)
    if reference is None or reference.pinned is None:
        raise ValueError(f"image {image!r} is not pinned by digest")
    return reference.pinned


def healthcheck(check: HealthCheck) -> DockerHealthcheck:
    return DockerHealthcheck(
        tests=("CMD", *check.command), interval=f"{check.interval}s", timeout=f"{check.timeout}s",
        start_period=f"{check.start_period}s", retries=check.retries,
        wait_seconds=check.start_period + check.retries * (check.interval + check.timeout),
    )


def _checked(spec: ServiceSpec) -> None:
    if both := sorted(set(spec.environment) & set(spec.secrets)):
        raise ValueError(f"{spec.name}: {', '.join(both)} both plain and secret")


def docker_service(spec: ServiceSpec, *, prefix: str, published: Mapping[int, int] | None = None,
                   binds: tuple[Mount, ...] = ()) -> DockerService:
    """`published`: container port -> host port (127.0.0.1); every other port stays on the network."""
    if spec.one_off:
        raise ValueError(f"{spec.name} is a one-off: it runs as a step of a job (job_step)")
    _checked(spec)
    check = healthcheck(spec.health_check) if spec.health_check else None
    labels = {STACK_LABEL: prefix, f"{LABEL}.service": spec.name}
    if check:
        labels[f"{LABEL}.healthcheck-sha256"] = check.digest
    return DockerService(
        name=container_name(prefix, spec.name), alias=spec.name, image=pinned(spec.image), entrypoint=spec.entrypoint,
        command=spec.command, environment=dict(spec.environment), secrets=dict(spec.secrets), healthcheck=check,
        ports=tuple(sorted((published or {}).items())),
        volumes=tuple((volume_name(prefix, v.name), v.container_path) for v in spec.volumes), binds=binds,
        files=dict(spec.config_files), memory=spec.memory, user=spec.user, ulimit_nofile=spec.ulimit_nofile,
        stop_timeout=spec.stop_timeout, labels=labels,
    )


def job_step(spec: ServiceSpec) -> DockerStep[SecretRef]:
    if not spec.one_off:
        raise ValueError(f"{spec.name} is not a one-off: it runs as a container (docker_service)")
    _checked(spec)
    return DockerStep(
        name=spec.name, image=pinned(spec.image), entrypoint=spec.entrypoint, command=spec.command or (),
        environment=dict(spec.environment), secrets=dict(spec.secrets),
        volumes={v.name: v.container_path for v in spec.volumes}, files=dict(spec.config_files), user=spec.user,
        memory=spec.memory,
    )


def job_groups(specs: Sequence[ServiceSpec]) -> dict[str, JobSpec]:
    """Every one-off as a job of its own, the on-demand steps as the jobs they are steps of."""
    jobs = {spec.name: single(spec) for spec in specs if spec.one_off and spec.on_demand is None}
    return {**jobs, **on_demand_jobs(specs)}


def start_order(specs: Sequence[ServiceSpec]) -> dict[str, frozenset[str]]:
    """Each service and job, in an order that starts it after what it needs (a job needs what its
    steps depend on outside it; an on-demand job, what ON_DEMAND_AFTER says)."""
    jobs = job_groups(specs)
    job_of = {step.name: name for name, job in jobs.items() for step in job.steps}
    needs = {spec.name: {job_of.get(d, d) for d in spec.depends_on} for spec in specs if not spec.one_off}
    for name, job in jobs.items():
        needs[name] = {job_of.get(d, d) for step in job.steps for d in step.depends_on} - {name}
    for name, after in ON_DEMAND_AFTER.items():
        if name in jobs:
            needs[name] |= set(after)
    if unknown := sorted({d for wanted in needs.values() for d in wanted} - set(needs)):
        raise ValueError(f"depends on what the local platform does not run: {', '.join(unknown)}")
    order: dict[str, frozenset[str]] = {}
    while len(order) < len(needs):
        ready = sorted(n for n, wanted in needs.items() if n not in order and wanted <= set(order))
        if not ready:
            raise ValueError(f"circular dependencies among: {', '.join(sorted(set(needs) - set(order)))}")
        order |= {n: frozenset(needs[n]) for n in ready}
    return order
