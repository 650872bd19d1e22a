"""Render ServiceSpecs into a docker compose file for a compose host (an EC2 instance).

One compose service per spec. Plain environment is inline; secret environment never is: a service
with secrets reads `<secrets dir>/<service>.env`, which the host writes at boot from Secrets
Manager (`secret_env` is that fetch's input, `renderers/compose_host/user_data.py` the host). Named volumes are
bind mounts under the data directory (the separate EBS volume), config files are mounted
read-only from the config directory, and only the ports a load balancer must reach are published.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from renderers.compose_host.imds import compose_network, container_addresses, service_network
from services.specs import ServiceSpec

# Fixed project name: container and network names do not depend on where the file lives.
PROJECT = "llm-gateway"
# Services only `docker compose --profile on-demand run` starts (compose leaves services with an
# inactive profile out of `up`): the deploy's jobs, e.g. the team plane's steps.
ON_DEMAND_PROFILE = "on-demand"
DEPENDENCY_CONDITIONS = {"healthy": "service_healthy", "completed": "service_completed_successfully"}
JSON_FILE_ROTATION = {"max-size": "10m", "max-file": "5"}
# A CloudWatch outage must not block the services' stdout; past this buffer, lines are dropped.
AWSLOGS_BUFFER = "4m"
YAML_WIDTH = 1 << 16  # long values stay on one line instead of folding


@dataclass(frozen=True)
class HostPaths:
    """Where a compose host keeps persistent data, config files and secret env files."""

    data_dir: str = "/data"  # mount point of the data EBS volume
    config_dir: str = "/etc/llm-gateway/config"
    secrets_dir: str = "/run/llm-gateway/secrets"  # tmpfs: rewritten on every start, gone at shutdown
    docker_config_dir: str = "/run/llm-gateway/docker"  # tmpfs too: registry logins for compose's pulls
    # tmpfs as well: on-demand jobs' scratch space (the team plane's SQL holds secret keys for a moment).
    scratch_dir: str = "/run/llm-gateway/scratch"

    def volume(self, name: str, *, scratch: bool = False) -> str:
        """A named volume's host directory: persistent data on the data volume, scratch on tmpfs."""
        return f"{self.scratch_dir if scratch else self.data_dir}/{name}"

    def config_file(self, service: str, container_path: str) -> str:
        return f"{self.config_dir}/{service}{container_path}"

    def env_file(self, service: str) -> str:
        return f"{self.secrets_dir}/{service}.env"


@dataclass(frozen=True)
class AwsLogs:
    """Docker's awslogs driver: one stream per container, prefixed with its service name."""

    group: str
    region: str


@dataclass(frozen=True)
class SecretEnv:
    """One variable of a service's env file: which JSON key of which secret fills it."""

    env: str
    arn: str
    key: str


def secret_env(specs: Sequence[ServiceSpec], secret_arns: Mapping[str, str]) -> dict[str, tuple[SecretEnv, ...]]:
    """Per service with secrets, its env file's variables (the boot-time fetch's input)."""
    missing = sorted({name for spec in specs for name in spec.secret_names} - set(secret_arns))
    if missing:
        raise ValueError(f"no secret ARN for: {', '.join(missing)}")
    return {
        spec.name: tuple(SecretEnv(var, secret_arns[ref.secret], ref.key) for var, ref in sorted(spec.secrets.items()))
        for spec in specs
        if spec.secrets
    }


def host_config_files(specs: Sequence[ServiceSpec], paths: HostPaths) -> dict[str, str]:
    """Every spec's config file at its host path (what the compose file mounts) -> content."""
    return {
        paths.config_file(spec.name, container_path): content
        for spec in specs
        for container_path, content in spec.config_files.items()
    }


def volume_dirs(specs: Sequence[ServiceSpec], paths: HostPaths) -> dict[str, str]:
    """Host directory of every named volume -> its owner `uid:gid` (the service's user, else root)."""
    dirs = {}
    for spec in specs:
        if not spec.volumes:
            continue
        owner = spec.user or "0:0"
        uid, _, gid = owner.partition(":")
        if not (uid.isdigit() and gid.isdigit()):
            # The host cannot resolve a name that exists only inside the image.
            raise ValueError(f"{spec.name}: user {owner!r} must be numeric uid:gid to own its volumes")
        dirs.update({paths.volume(volume.name, scratch=spec.on_demand): owner for volume in spec.volumes})
    return dirs


def render_compose(
    specs: Sequence[ServiceSpec],
    images: Mapping[str, str],
    *,
    published: Mapping[str, Collection[int]],
    paths: HostPaths = HostPaths(),
    logs: AwsLogs | None = None,
) -> str:
    """The compose file running `specs` with `images` (service -> reference to run).

    `published`: service -> container ports published on the same host port (what a load
    balancer reaches); every other port stays on the compose network. `logs`: CloudWatch, or
    None for rotated json-file logs.
    """
    _check(specs, images, published)
    present = {spec.name for spec in specs}
    addresses = container_addresses(specs)  # what the host's IMDS firewall tells apart (renderers/compose_host/imds.py)
    services = {
        spec.name: {
            **_service(spec, images[spec.name], present, sorted(published.get(spec.name, ())), paths, logs),
            **service_network(spec, addresses[spec.name]),
        }
        for spec in specs
    }
    header = f"# docker compose file of an {PROJECT} compose host: rendered by config/compose.py, do not edit.\n"
    document = _escape({"name": PROJECT, "services": services, "networks": compose_network()})
    return header + yaml.dump(document, Dumper=LiteralDumper, sort_keys=False, width=YAML_WIDTH)


def _check(specs: Sequence[ServiceSpec], images: Mapping[str, str], published: Mapping[str, Collection[int]]) -> None:
    names = [spec.name for spec in specs]
    problems = []
    if len(set(names)) != len(names):
        problems.append(f"duplicate services: {names}")
    if missing := sorted(set(names) - set(images)):
        problems.append(f"no image for: {', '.join(missing)}")
    if unknown := sorted(set(published) - set(names)):
        problems.append(f"ports published for unknown services: {', '.join(unknown)}")
    for spec in specs:
        if both := sorted(set(spec.environment) & set(spec.secrets)):
            problems.append(f"{spec.name}: {', '.join(both)} both plain and secret")
    # The host starts the file with `up --wait`, which fails on a one-off no running service waits for.
    adopted = {
        name
        for spec in specs
        if not spec.one_off
        for name, condition in spec.depends_on.items()
        if condition == "completed"
    }
    # (On-demand jobs are not part of `up`: they run when the deploy asks, see ON_DEMAND_PROFILE.)
    if orphans := sorted(spec.name for spec in specs if spec.one_off and not spec.on_demand and spec.name not in adopted):
        problems.append(f"one-off services no long-running service depends on: {', '.join(orphans)}")
    if problems:
        raise ValueError("; ".join(problems))


def _service(
    spec: ServiceSpec, image: str, present: set[str], ports: list[int], paths: HostPaths, logs: AwsLogs | None,
) -> dict[str, Any]:
    service: dict[str, Any] = {"image": image}
    if spec.entrypoint is not None:
        service["entrypoint"] = list(spec.entrypoint)
    if spec.command is not None:
        service["command"] = list(spec.command)
    if spec.user:
        service["user"] = spec.user
    if spec.environment:
        service["environment"] = dict(spec.environment)
    if spec.secrets:
        service["env_file"] = [paths.env_file(spec.name)]
    depends_on = {
        name: {"condition": DEPENDENCY_CONDITIONS[condition]}
        for name, condition in spec.depends_on.items()
        if name in present  # the others run elsewhere (ElastiCache, another host)
    }
    if depends_on:
        service["depends_on"] = depends_on
    if spec.health_check:
        check = spec.health_check
        service["healthcheck"] = {
            "test": ["CMD", *check.command],
            "interval": f"{check.interval}s",
            "timeout": f"{check.timeout}s",
            "retries": check.retries,
            "start_period": f"{check.start_period}s",
        }
    if ports:
        service["ports"] = [f"{port}:{port}" for port in ports]
    # The host creates every source with its owner before `up`; never let docker create a
    # root-owned directory on the root volume instead.
    mounts = [
        {"type": "bind", "source": paths.volume(volume.name, scratch=spec.on_demand), "target": volume.container_path,
         "bind": {"create_host_path": False}}
        for volume in spec.volumes
    ] + [
        {"type": "bind", "source": paths.config_file(spec.name, container_path), "target": container_path,
         "read_only": True, "bind": {"create_host_path": False}}
        for container_path in spec.config_files
    ]
    if mounts:
        service["volumes"] = mounts
    # CPU is not limited: the host is shared and Fargate-sized shares would throttle a small instance.
    if spec.memory:
        service["mem_limit"] = f"{spec.memory}m"
    if spec.ulimit_nofile:
        service["ulimits"] = {"nofile": {"soft": spec.ulimit_nofile, "hard": spec.ulimit_nofile}}
    service["restart"] = "no" if spec.one_off else "unless-stopped"
    if spec.on_demand:
        service["profiles"] = [ON_DEMAND_PROFILE]
    service["stop_grace_period"] = f"{spec.stop_timeout}s"
    service["logging"] = _logging(spec.name, logs)
    return service


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


class LiteralDumper(yaml.SafeDumper):
    """Multi-line strings (the proxy config, scripts) as literal blocks, and no YAML aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


LiteralDumper.add_representer(str, _represent_str)
