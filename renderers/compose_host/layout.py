"""Stage 1 of a compose host's boot (renderers/compose_host/boot.py): where each service lives on the host.

The pipeline's input is a `ComposeHostPlan`: the host's service specs and the deploy-time values joined
with them at the edge. This stage walks the specs once and decides, per service, the image it runs,
the ports a load balancer reaches, its secret env file (which variable comes from which secret ARN
and key: the boot-time fetch's input), the host paths of its volumes (with their owners) and of its
config files, and the registry logins its pull needs; it refuses a plan no host could run. The later
stages read these decisions as plain data and never come back here.

Secret environment never reaches the compose file: a service with secrets reads
`<secrets dir>/<service>.env`, which the host writes at boot from Secrets Manager. Named volumes
are bind mounts under the data directory (the separate EBS volume), or under tmpfs for the
on-demand jobs' scratch; config files are mounted read-only from the config directory.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from reference.images import parse_image
from services.specs import ServiceSpec

# Docker keys Docker Hub's logins by its index address (moby registry/config.go: IndexServer).
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"


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
class DiskMetrics:
    """Where a host publishes its disk usage (renderers/alarms.py reads it back)."""

    namespace: str
    host: str  # the Host dimension


@dataclass(frozen=True)
class ComposeHostPlan:
    """Everything one compose host runs; all values are plain strings (resolved Pulumi outputs)."""

    specs: tuple[ServiceSpec, ...]
    images: Mapping[str, str]  # service -> image reference to run (pinned at the edge)
    secret_arns: Mapping[str, str]  # logical secret name -> Secrets Manager ARN
    region: str
    data_volume_id: str  # vol-...
    published: Mapping[str, Collection[int]]  # service -> ports a load balancer reaches on the host
    log_group: str | None = None  # CloudWatch log group; None: rotated json-file logs
    paths: HostPaths = field(default_factory=HostPaths)
    disk_metrics: DiskMetrics | None = None
    # Logical secret -> the version its services read at boot (ids only): a rotated value is new
    # user data, so a new host, like any config change.
    secret_versions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecretEnv:
    """One variable of a service's env file: which JSON key of which secret fills it."""

    env: str
    arn: str
    key: str


@dataclass(frozen=True)
class Mount:
    """A bind mount from the host into a container; the host creates `source` before `up`."""

    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class HostService:
    """One service as the host runs it."""

    spec: ServiceSpec
    image: str
    ports: tuple[int, ...]  # published on the same host port
    env_file: str | None  # its secret env file; None: no secrets
    mounts: tuple[Mount, ...]  # its volumes, then its config files (read-only)


@dataclass(frozen=True)
class HostLayout:
    """Stage 1's result: the plan, each service's place, and the files the host prepares for them."""

    plan: ComposeHostPlan
    services: tuple[HostService, ...]
    logs: AwsLogs | None  # CloudWatch; None: rotated json-file logs
    env_files: Mapping[str, tuple[SecretEnv, ...]]  # env file path -> its variables
    volume_dirs: Mapping[str, str]  # host directory of every named volume -> its owner uid:gid
    config_files: Mapping[str, str]  # host path -> content
    registry_auths: Mapping[str, str]  # docker config `auths` key -> ARN of the secret to log in with


def layout(plan: ComposeHostPlan) -> HostLayout:
    """Stage 1: each service's place on the host (raises on a plan no host could run)."""
    _check(plan)
    paths = plan.paths
    services = tuple(
        HostService(
            spec=spec,
            image=plan.images[spec.name],
            ports=tuple(sorted(plan.published.get(spec.name, ()))),
            env_file=paths.env_file(spec.name) if spec.secrets else None,
            mounts=(
                *(Mount(paths.volume(volume.name, scratch=spec.on_demand is not None), volume.container_path)
                  for volume in spec.volumes),
                *(Mount(paths.config_file(spec.name, container_path), container_path, read_only=True)
                  for container_path in spec.config_files),
            ),
        )
        for spec in plan.specs
    )
    return HostLayout(
        plan=plan,
        services=services,
        logs=AwsLogs(plan.log_group, plan.region) if plan.log_group else None,
        env_files={paths.env_file(name): variables for name, variables in secret_env(plan.specs, plan.secret_arns).items()},
        volume_dirs=volume_dirs(plan.specs, paths),
        config_files=host_config_files(plan.specs, paths),
        registry_auths=registry_auths(plan.specs, plan.secret_arns),
    )


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
        dirs.update({paths.volume(volume.name, scratch=spec.on_demand is not None): owner for volume in spec.volumes})
    return dirs


def registry_auths(specs: Sequence[ServiceSpec], secret_arns: Mapping[str, str]) -> dict[str, str]:
    """Docker config `auths` key -> ARN of the secret to log in with, for the images pulled with one."""
    auths = {}
    for spec in specs:
        if spec.registry_secret is not None:
            registry = parse_image(spec.image).registry
            auths[DOCKER_HUB_AUTH_KEY if registry == "docker.io" else registry] = secret_arns[spec.registry_secret]
    return auths


def _check(plan: ComposeHostPlan) -> None:
    names = [spec.name for spec in plan.specs]
    problems = []
    if len(set(names)) != len(names):
        problems.append(f"duplicate services: {names}")
    if missing := sorted(set(names) - set(plan.images)):
        problems.append(f"no image for: {', '.join(missing)}")
    if unknown := sorted(set(plan.published) - set(names)):
        problems.append(f"ports published for unknown services: {', '.join(unknown)}")
    for spec in plan.specs:
        if both := sorted(set(spec.environment) & set(spec.secrets)):
            problems.append(f"{spec.name}: {', '.join(both)} both plain and secret")
    # The host starts the file with `up --wait`, which fails on a one-off no running service waits for.
    adopted = {
        name
        for spec in plan.specs
        if not spec.one_off
        for name, condition in spec.depends_on.items()
        if condition == "completed"
    }
    # (On-demand jobs are not part of `up`: they run when the deploy asks, see compose_file.ON_DEMAND_PROFILE.)
    if orphans := sorted(spec.name for spec in plan.specs if spec.one_off and not spec.on_demand and spec.name not in adopted):
        problems.append(f"one-off services no long-running service depends on: {', '.join(orphans)}")
    if problems:
        raise ValueError("; ".join(problems))
