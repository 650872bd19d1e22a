"""The local platform: every service spec as a container of the deploying machine's Docker
(pulumi-docker), the one-offs as jobs that fail the deploy when a step fails (components/docker_job.py).

One network (named after the stack) on which each container answers to its service's name, one
named volume per data directory, ports published on 127.0.0.1 only. A container that others wait
for "healthy" is created with pulumi-docker's `wait`, for as long as Docker itself would take to call
it unhealthy (`DockerHealthcheck.wait_seconds`; the provider's default, 60 s, is shorter than
Langfuse's start period), so its dependants start after it serves; one they wait for "completed" is a
job, run to its end first. The team plane's steps run as one job, after LiteLLM and Langfuse web
serve, again whenever the team document changes. Secret values join the containers' environment
here, as secret Outputs (Pulumi keeps them encrypted in the stack's state).

This module imports pulumi_docker; only the local platform imports this module (pulumi-docker's
provider pings a Docker daemon when it starts: pulumi/pulumi-docker#1106).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import pulumi
import pulumi_docker as docker

from components.base import GatewayComponent
from components.docker_job import DockerJob, DockerJobArgs
from services.jobs import UNBOUNDED_JOB_SECONDS, JobSpec
from services.secret_refs import SecretRef
from services.specs import ServiceSpec
from renderers.compose_host.compose_file import JSON_FILE_ROTATION
from renderers.compose_host.layout import Mount
from renderers.docker import (
    LOOPBACK, DockerService, DockerStep, docker_service, job_groups, job_step, start_order, volume_name,
)

SecretValues = Mapping[str, Mapping[str, pulumi.Input[str]]]  # logical secret -> key -> value


@dataclass(frozen=True)
class LocalPlatformArgs:
    prefix: str  # names the network, the containers and the volumes
    specs: Sequence[ServiceSpec]
    secrets: SecretValues
    published: Mapping[str, Mapping[int, int]]  # service -> container port -> host port on 127.0.0.1
    protect: bool  # the data volumes
    binds: Mapping[str, tuple[Mount, ...]] = field(default_factory=dict)  # service -> the machine's directories
    labels: Mapping[str, Mapping[str, pulumi.Input[str]]] = field(default_factory=dict)  # service -> extra labels
    files: Mapping[str, Mapping[str, pulumi.Input[str]]] = field(default_factory=dict)  # one-off -> extra files
    job_triggers: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # job -> what reruns it


def secret_value(secrets: SecretValues, ref: SecretRef) -> pulumi.Output[str]:
    try:
        value = secrets[ref.secret][ref.key]
    except KeyError:
        raise ValueError(f"no value for secret {ref.secret}/{ref.key}") from None
    return pulumi.Output.secret(value)


def environment_list(environment: Mapping[str, str], secrets: Mapping[str, SecretRef],
                     values: SecretValues) -> list[pulumi.Input[str]]:
    """Docker's NAME=value list: plain entries as they are, secret ones as secret Outputs."""
    plain: list[pulumi.Input[str]] = [f"{name}={value}" for name, value in sorted(environment.items())]
    return plain + [pulumi.Output.concat(f"{name}=", secret_value(values, ref)) for name, ref in sorted(secrets.items())]


class LocalPlatform(GatewayComponent):
    def __init__(self, name: str, args: LocalPlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        specs = {spec.name: spec for spec in args.specs}
        jobs = job_groups(args.specs)
        self.network = docker.Network(f"{name}-network", name=args.prefix, driver="bridge", opts=self.child())
        # Data volumes by their Docker name; a job's volumes are its own scratch space (DockerJob).
        self.volumes = {
            volume_name(args.prefix, volume): docker.Volume(f"{name}-{volume}", name=volume_name(args.prefix, volume),
                                                            opts=self.child(protect=args.protect))
            for volume in sorted({v.name for spec in args.specs if not spec.one_off for v in spec.volumes})
        }
        self.containers: dict[str, docker.Container] = {}
        self.jobs: dict[str, DockerJob] = {}
        started: dict[str, pulumi.Resource] = {}
        for unit, needs in start_order(args.specs).items():
            after = [started[need] for need in sorted(needs)]
            if unit in jobs:
                started[unit] = self.jobs[unit] = self._job(name, args, jobs[unit], after)
            else:
                service = docker_service(specs[unit], prefix=args.prefix, published=args.published.get(unit),
                                         binds=args.binds.get(unit, ()))
                started[unit] = self.containers[unit] = self._container(name, args, service, after)
        self.register_outputs({"network": self.network.name})

    def _container(self, name: str, args: LocalPlatformArgs, service: DockerService,
                   after: list[pulumi.Resource]) -> docker.Container:
        check = service.healthcheck
        labels = {**service.labels, **args.labels.get(service.alias, {})}
        return docker.Container(
            f"{name}-{service.alias}",
            name=service.name,
            image=service.image,
            entrypoints=list(service.entrypoint) if service.entrypoint is not None else None,
            command=list(service.command) if service.command is not None else None,
            envs=environment_list(service.environment, service.secrets, args.secrets),
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(labels.items())],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=self.network.name, aliases=[service.alias])],
            # pulumi-docker binds a port to 0.0.0.0 unless told (resource_docker_container.go:509-521).
            ports=[docker.ContainerPortArgs(internal=inner, external=outer, ip=LOOPBACK) for inner, outer in service.ports],
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volumes[volume].name, container_path=path)
                     for volume, path in service.volumes]
            + [docker.ContainerVolumeArgs(host_path=bind.source, container_path=bind.target,
                                          read_only=bind.read_only) for bind in service.binds],
            uploads=[docker.ContainerUploadArgs(file=path, content=content) for path, content in sorted(service.files.items())],
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=list(check.tests), interval=check.interval, timeout=check.timeout,
                start_period=check.start_period, retries=check.retries,
            ) if check else None,
            wait=bool(check),
            wait_timeout=check.wait_seconds if check else None,
            memory=service.memory,
            user=service.user,
            ulimits=[docker.ContainerUlimitArgs(name="nofile", soft=service.ulimit_nofile, hard=service.ulimit_nofile)]
            if service.ulimit_nofile else None,
            stop_timeout=service.stop_timeout,
            destroy_grace_seconds=service.stop_timeout,
            restart="unless-stopped",  # back after the machine or Docker restarts
            log_driver="json-file",
            log_opts=dict(JSON_FILE_ROTATION),
            opts=self.child(depends_on=after),
        )

    def _job(self, name: str, args: LocalPlatformArgs, job: JobSpec, after: list[pulumi.Resource]) -> DockerJob:
        steps = [job_step(step) for step in job.steps]
        return DockerJob(
            f"{name}-{job.name}-run",
            DockerJobArgs(
                job=job.name, container_prefix=args.prefix, network=self.network.name,
                steps=[_step_args(step, args) for step in steps],
                trigger=args.job_triggers.get(job.name, ""),
                timeout_seconds=job.steps_seconds or UNBOUNDED_JOB_SECONDS,
            ),
            opts=self.child(depends_on=after),
        )


def _step_args(step: DockerStep[SecretRef], args: LocalPlatformArgs) -> DockerStep[pulumi.Input[str]]:
    """The step with its secrets' values and the deploy's own files (the team document)."""
    return replace(step, secrets={name: secret_value(args.secrets, ref) for name, ref in step.secrets.items()},
                   files={**step.files, **args.files.get(step.name, {})})
