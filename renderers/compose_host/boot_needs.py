"""What a compose host reaches on the network, as data: its package mirror, the registries of its
images, the AWS APIs its boot and its containers call.

Both the host's cloud-config (the `apt:` mirrors, renderers/compose_host/user_data.py) and its security group's
egress (renderers/network.py) are derived from this, so a host cannot be told to fetch from
somewhere its security group refuses.

The package mirror is plain HTTP on purpose. Ubuntu's archive hosts serve no HTTPS (Launchpad
bug 1464064; cloud-init's own defaults for Ubuntu are all `http://`), and apt does not need TLS for
integrity: it verifies the signed InRelease file of each suite and the hash of every file it
fetches against it. arm64 packages of 24.04 live on the ports archive (cloud-init
config/cc_apt_configure.py `PORTS_MIRRORS`; arm64 joined archive.ubuntu.com from 25.10 only,
canonical/cloud-init#6825). The mirror is written explicitly: cloud-init's EC2 default picks
`<region>.ec2.ports.ubuntu.com` by DNS search at boot (config/cloud.cfg.tmpl `package_mirrors`),
one more host nobody reviewed; `ports.ubuntu.com` is the same fixed host in every Region.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from renderers.litellm_proxy import render_proxy_config
from services.specs import PLACEHOLDER_ENDPOINTS, ServiceSpec, clickhouse_host_specs, gateway_host_specs
from config.settings import Settings

PACKAGE_MIRROR, IMAGE_REGISTRY, AWS_API, INSTANCE_METADATA = (
    "package mirrors", "image registries", "AWS APIs", "instance metadata",
)
UBUNTU_PORTS = "http://ports.ubuntu.com/ubuntu-ports"
APT_MIRRORS = {"primary": UBUNTU_PORTS, "security": UBUNTU_PORTS}
IMDS = "http://169.254.169.254"
# Where a pull goes besides the registry's API: Docker Hub's token service and blob CDN (Docker's
# allowlist, docs.docker.com/desktop/setup/allow-list; on AWS some blobs come from S3, through the
# VPC's S3 gateway endpoint), GitHub's blob store for ghcr.io.
REGISTRY_HOSTS = {
    "docker.io": ("registry-1.docker.io", "auth.docker.io", "production.cloudflare.docker.com"),
    "ghcr.io": ("ghcr.io", "pkg-containers.githubusercontent.com"),
}
# At boot: the secrets fetcher (Secrets Manager), Docker's awslogs driver (CloudWatch Logs), and
# the SSM agent of Canonical's AMI (Session Manager: ssm, ssmmessages, ec2messages).
# monitoring: the disk-usage timer's PutMetricData (renderers/compose_host/user_data.py DISK_METRICS).
BOOT_AWS_SERVICES = ("secretsmanager", "logs", "ssm", "ssmmessages", "ec2messages", "monitoring")


@dataclass(frozen=True, order=True)
class Destination:
    kind: str  # PACKAGE_MIRROR, IMAGE_REGISTRY, AWS_API or INSTANCE_METADATA
    url: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or {"http": 80, "https": 443}[parts.scheme]

    @property
    def link_local(self) -> bool:
        """Security groups do not filter link-local traffic (instance metadata, the time service)."""
        try:
            return ipaddress.ip_address(self.host).is_link_local
        except ValueError:
            return False


def apt_config() -> dict[str, list[dict]]:
    """cloud-init's `apt:` mirrors (v3 format), the same for every architecture."""
    return {kind: [{"arches": ["default"], "uri": uri}] for kind, uri in APT_MIRRORS.items()}


def registry_of(image: str) -> str:
    """The registry of an image reference; no registry part means Docker Hub (docker's rule)."""
    first, _, rest = image.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"


def registry_destinations(image: str) -> tuple[Destination, ...]:
    registry = registry_of(image)
    return tuple(Destination(IMAGE_REGISTRY, f"https://{host}") for host in REGISTRY_HOSTS.get(registry, (registry,)))


def aws_api(service: str, region: str) -> Destination:
    return Destination(AWS_API, f"https://{service}.{region}.amazonaws.com")


def host_specs(settings: Settings, role: str) -> tuple[ServiceSpec, ...]:
    if role == "clickhouse":
        return clickhouse_host_specs(settings)
    return gateway_host_specs(settings, render_proxy_config(settings), PLACEHOLDER_ENDPOINTS)


def host_roles(settings: Settings) -> tuple[str, ...]:
    """The compose hosts this stack runs, by security-group role."""
    if settings.compute == "ec2":
        return ("gateway-host",)
    return ("clickhouse",) if settings.clickhouse.hosted else ()


def host_destinations(settings: Settings, role: str) -> tuple[Destination, ...]:
    """Everything the host `role` reaches: its boot, then its containers' AWS calls."""
    region = settings.region
    found = {Destination(PACKAGE_MIRROR, uri) for uri in APT_MIRRORS.values()}
    found.add(Destination(INSTANCE_METADATA, IMDS))
    found |= {d for spec in host_specs(settings, role) for d in registry_destinations(spec.image)}
    found |= {aws_api(service, region) for service in BOOT_AWS_SERVICES}
    if role == "gateway-host":  # LiteLLM calls Bedrock in each model's Region; Langfuse uses S3
        found |= {aws_api("bedrock-runtime", model.region) for model in settings.models}
        found.add(aws_api("s3", region))
    return tuple(sorted(found))


def egress_ports(destinations: Iterable[Destination]) -> dict[int, tuple[str, ...]]:
    """Port -> kinds of destination behind it, for what a security group can filter."""
    ports: dict[int, set[str]] = {}
    for destination in destinations:
        if not destination.link_local:
            ports.setdefault(destination.port, set()).add(destination.kind)
    return {port: tuple(sorted(kinds)) for port, kinds in sorted(ports.items())}
