"""Render a ServiceSpec into an ECS container definition (pure: plain values in, a dict out).

Secrets become `secrets[].valueFrom` references to one JSON key of a Secrets Manager secret
(`<arn>:<key>::`); plain environment stays in `environment`. Nothing else is added or dropped,
so the container gets exactly the spec's contract. An image pulled with credentials names their
secret in `repositoryCredentials` (AWS, Amazon ECS Developer Guide, "Private registry authentication
for tasks": a secret holding {"username", "password"}, read by the task execution role).
"""

from __future__ import annotations

from collections.abc import Mapping

from reference.fargate import is_fargate_size
from services.jobs import JobSpec
from services.specs import ServiceSpec

RUNTIME_PLATFORM = {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}


def secret_value_from(secret_arn: str, key: str) -> str:
    return f"{secret_arn}:{key}::"


def container_definition(
    spec: ServiceSpec,
    *,
    image: str,
    secret_arns: Mapping[str, str],
    log_group: str,
    region: str,
) -> dict:
    definition: dict = {
        "name": spec.name,
        "image": image,
        "essential": True,
        "environment": [{"name": k, "value": v} for k, v in sorted(spec.environment.items())],
        "secrets": [
            {"name": k, "valueFrom": secret_value_from(secret_arns[ref.secret], ref.key)}
            for k, ref in sorted(spec.secrets.items())
        ],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": log_group, "awslogs-region": region, "awslogs-stream-prefix": spec.name},
        },
        "stopTimeout": spec.stop_timeout,
        # An init process reaps zombies and forwards signals, so tasks stop cleanly.
        "linuxParameters": {"initProcessEnabled": True},
    }
    if spec.registry_secret is not None:
        definition["repositoryCredentials"] = {"credentialsParameter": secret_arns[spec.registry_secret]}
    if spec.port is not None:
        definition["portMappings"] = [{"containerPort": spec.port, "protocol": "tcp", "name": spec.name}]
    if spec.entrypoint is not None:
        definition["entryPoint"] = list(spec.entrypoint)
    if spec.command is not None:
        definition["command"] = list(spec.command)
    if spec.health_check is not None:
        check = spec.health_check
        definition["healthCheck"] = {
            "command": ["CMD", *check.command],
            "interval": check.interval,
            "timeout": check.timeout,
            "retries": check.retries,
            "startPeriod": check.start_period,
        }
    if spec.ulimit_nofile is not None:
        definition["ulimits"] = [{"name": "nofile", "softLimit": spec.ulimit_nofile, "hardLimit": spec.ulimit_nofile}]
    if spec.user is not None:
        definition["user"] = spec.user
    if spec.volumes:
        definition["mountPoints"] = [
            {"sourceVolume": volume.name, "containerPath": volume.container_path, "readOnly": False}
            for volume in spec.volumes
        ]
    return definition


def job_container_definitions(
    job: JobSpec,
    *,
    images: Mapping[str, str],
    secret_arns: Mapping[str, str],
    log_group: str,
    region: str,
) -> list[dict]:
    """A job's steps as the containers of one task, each starting once the previous exited 0.

    Only the last step is essential: a `SUCCESS` dependency cannot point at an essential container
    (ECS API reference, ContainerDependency), and an essential container that exits stops the
    task. The task ends when the last step does; its exit code is the job's.
    """
    definitions = []
    for index, step in enumerate(job.steps):
        definition = container_definition(
            step, image=images[step.image], secret_arns=secret_arns, log_group=log_group, region=region,
        )
        definition["essential"] = step is job.last
        if index:
            definition["dependsOn"] = [{"containerName": job.steps[index - 1].name, "condition": "SUCCESS"}]
        definitions.append(definition)
    return definitions


def task_volumes(job: JobSpec) -> list[dict]:
    """The job's scratch volumes: Fargate task storage, gone with the task (encrypted at rest)."""
    return [{"name": volume.name} for volume in job.volumes]


def task_size(spec: ServiceSpec | JobSpec) -> tuple[str, str]:
    """Fargate task CPU and memory: the one container's, or a job's (services/jobs.py JobSpec.size)."""
    steps = spec.steps if isinstance(spec, JobSpec) else (spec,)
    if not all(step.cpu and step.memory for step in steps):
        raise ValueError(f"{spec.name} has no CPU/memory size: it cannot run on Fargate")
    cpu, memory = spec.size if isinstance(spec, JobSpec) else (spec.cpu, spec.memory)
    if not is_fargate_size(cpu, memory):
        raise ValueError(f"{spec.name}: {cpu} CPU units with {memory} MiB is not a Fargate size (reference/fargate.py)")
    return str(cpu), str(memory)
