"""Stage 3 of a compose host's boot (renderers/compose_host/boot.py): the docker compose file.

One compose service per spec, from each service's place on the host (stage 1) and its place on the
project network (stage 2). Plain environment is inline; secret environment never is (the service
reads its env file); only the ports a load balancer must reach are published.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from renderers.compose_host import literal_yaml

if TYPE_CHECKING:
    from renderers.compose_host.imds import ImdsGuard
    from renderers.compose_host.layout import AwsLogs, HostLayout, HostService

# Fixed project name: container and network names do not depend on where the file lives.
PROJECT = "llm-gateway"
# Services only `docker compose --profile on-demand run` starts (compose leaves services with an
# inactive profile out of `up`): the deploy's jobs, e.g. the team plane's steps.
ON_DEMAND_PROFILE = "on-demand"
DEPENDENCY_CONDITIONS = {"healthy": "service_healthy", "completed": "service_completed_successfully"}
JSON_FILE_ROTATION = {"max-size": "10m", "max-file": "5"}
# A CloudWatch outage must not block the services' stdout; past this buffer, lines are dropped.
AWSLOGS_BUFFER = "4m"
# The header names where this renderer lived before it moved: the text is part of the hosts' user
# data, and new user data replaces a host (components/compose_host.py).
HEADER = f"# docker compose file of an {PROJECT} compose host: rendered by config/compose.py, do not edit.\n"


def compose_file(host: HostLayout, guard: ImdsGuard) -> str:
    """Stage 3: the compose file running the host's services."""
    present = {service.spec.name for service in host.services}
    services = {
        service.spec.name: {**_service(service, present, host.logs), **guard.service_networks[service.spec.name]}
        for service in host.services
    }
    return HEADER + literal_yaml.dump(_escape({"name": PROJECT, "services": services, "networks": guard.networks}))


def _service(service: HostService, present: set[str], logs: AwsLogs | None) -> dict[str, Any]:
    spec = service.spec
    rendered: dict[str, Any] = {"image": service.image}
    if spec.entrypoint is not None:
        rendered["entrypoint"] = list(spec.entrypoint)
    if spec.command is not None:
        rendered["command"] = list(spec.command)
    if spec.user:
        rendered["user"] = spec.user
    if spec.environment:
        rendered["environment"] = dict(spec.environment)
    if service.env_file:
        rendered["env_file"] = [service.env_file]
    depends_on = {
        name: {"condition": DEPENDENCY_CONDITIONS[condition]}
        for name, condition in spec.depends_on.items()
        if name in present  # the others run elsewhere (ElastiCache, another host)
    }
    if depends_on:
        rendered["depends_on"] = depends_on
    if spec.health_check:
        check = spec.health_check
        rendered["healthcheck"] = {
            "test": ["CMD", *check.command],
            "interval": f"{check.interval}s",
            "timeout": f"{check.timeout}s",
            "retries": check.retries,
            "start_period": f"{check.start_period}s",
        }
    if service.ports:
        rendered["ports"] = [f"{port}:{port}" for port in service.ports]
    # The host creates every source with its owner before `up`; never let docker create a
    # root-owned directory on the root volume instead.
    if service.mounts:
        rendered["volumes"] = [
            {"type": "bind", "source": mount.source, "target": mount.target,
             **({"read_only": True} if mount.read_only else {}), "bind": {"create_host_path": False}}
            for mount in service.mounts
        ]
    # CPU is not limited: the host is shared and Fargate-sized shares would throttle a small instance.
    if spec.memory:
        rendered["mem_limit"] = f"{spec.memory}m"
    if spec.ulimit_nofile:
        rendered["ulimits"] = {"nofile": {"soft": spec.ulimit_nofile, "hard": spec.ulimit_nofile}}
    rendered["restart"] = "no" if spec.one_off else "unless-stopped"
    if spec.on_demand is not None:
        rendered["profiles"] = [ON_DEMAND_PROFILE]
    rendered["stop_grace_period"] = f"{spec.stop_timeout}s"
    rendered["logging"] = _logging(spec.name, logs)
    return rendered


def _logging(service: str, logs: AwsLogs | None) -> dict[str, Any]:
    if logs is None:
        return {"driver": "json-file", "options": dict(JSON_FILE_ROTATION)}
    return {
        "driver": "awslogs",
        "options": {
            "awslogs-region": logs.region,
            "awslogs-group": logs.group,
            "tag": service + "/{{.ID}}",  # the stream: <service>/<container id>
            "mode": "non-blocking",
            "max-buffer-size": AWSLOGS_BUFFER,
        },
    }


def _escape(value: Any) -> Any:
    """Every string as compose must read it: `$$` is compose's literal `$`, so nothing interpolates."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {key: _escape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escape(item) for item in value]
    return value
