"""Stage 2 of a compose host's boot (renderers/compose_host/boot.py): which containers may reach the
instance metadata service (IMDS), and the host firewall that holds the others to it.

The gateway host's metadata hop limit is 2, so any container could fetch the instance role's
credentials. Only the services that call AWS (`ServiceSpec.aws_identity`) may. Every service gets a
fixed address on the project's network (compose applies `ipv4_address` to `up` and to
`docker compose run` alike: compose pkg/compose/create.go createEndpointSettings), and the host
drops forwarded traffic to the IMDS from any other source. The rules live in Docker's
`DOCKER-USER` chain, which Docker evaluates before its own rules and never rewrites (Docker docs,
"Packet filtering and firewalls"; AWS's ECS guide blocks container IMDS access the same way).
The host's own processes (secrets fetcher, awslogs driver, SSM agent, disk metrics) do not cross
the FORWARD chain and keep their access.

The rules are installed by a drop-in of docker.service, before every start of dockerd: containers
only run while dockerd does (containers with a restart policy come back with the daemon), so none
runs before the rules hold it.

They hold only while dockerd uses its iptables backend and jumps from FORWARD to DOCKER-USER: Docker
29's nftables backend keeps its rules in its own tables and never consults DOCKER-USER (Docker
docs, "Docker with nftables": opt-in and experimental in 29, `firewall-backend`), and dockerd
merely logs a warning when it cannot arrange the jump (moby libnetwork firewall_linux.go
`arrangeUserFilterRule`). Ubuntu moves its LTS docker.io package to new upstream releases (Ubuntu
SRU exception "Container Stack Updates"), and the hosts install whatever the archive has at boot.
So once dockerd is up the drop-in checks both jumps; when either is missing the start fails, and
systemd stops dockerd and with it every container: closed, not open.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from renderers.compose_host.layout import HostLayout
    from services.specs import ServiceSpec

METADATA_ADDRESS = "169.254.169.254"
# The project network: outside the stacks' default VPCs (10.40/16, 10.50/16), AWS's default VPC
# (172.31/16) and docker's own bridge (172.17/16).
SUBNET = ipaddress.ip_network("172.30.0.0/16")
GATEWAY = SUBNET[1]
# Services get fixed addresses from the lower half; docker hands anything else (an operator's
# `docker run --network ...`) addresses from the upper half, so it never takes a service's address
# and is never allowed.
FIXED_RANGE, DYNAMIC_RANGE = SUBNET.subnets(prefixlen_diff=1)
CHAIN = "LLM-GATEWAY-IMDS"
DOCKER_DROP_IN = "/etc/systemd/system/docker.service.d/llm-gateway-imds.conf"
JUMP = f"-d {METADATA_ADDRESS}/32 -j {CHAIN}"
IPTABLES = "/usr/sbin/iptables -w"
# After dockerd started: the packets it forwards pass DOCKER-USER, and DOCKER-USER still jumps to our chain.
GUARD_CHECK = (
    f"/bin/sh -c '{IPTABLES} -C FORWARD -j DOCKER-USER 2>/dev/null && {IPTABLES} -C DOCKER-USER {JUMP} 2>/dev/null"
    " || { echo \"llm-gateway: forwarded traffic does not pass the IMDS guard (no FORWARD -> DOCKER-USER -> "
    f"{CHAIN} jumps: an nftables firewall backend?); docker is stopped\" >&2; exit 1; }}'"
)


@dataclass(frozen=True)
class ImdsGuard:
    """Stage 2's result: each service's place on the project network, and the firewall around the IMDS."""

    networks: Mapping[str, Any]  # the compose file's `networks`
    service_networks: Mapping[str, Mapping[str, Any]]  # service -> its compose keys (address, capabilities)
    drop_in: str  # docker.service's drop-in that fills the firewall


def imds_guard(host: HostLayout) -> ImdsGuard:
    """Stage 2: fixed addresses for the host's services, and the rules that keep all but the AWS
    callers from the IMDS."""
    specs = [service.spec for service in host.services]
    addresses = container_addresses(specs)
    return ImdsGuard(
        networks=compose_network(),
        service_networks={spec.name: service_network(spec, addresses[spec.name]) for spec in specs},
        drop_in=render_drop_in(specs),
    )


def container_addresses(specs: Sequence[ServiceSpec]) -> dict[str, str]:
    """Service -> its fixed address, by spec order (the gateway takes the first one)."""
    hosts = (address for address in FIXED_RANGE.hosts() if address != GATEWAY)
    addresses = {}
    for spec in specs:
        address = next(hosts, None)
        if address is None:
            raise ValueError(f"more services than fixed addresses in {FIXED_RANGE}")
        addresses[spec.name] = str(address)
    return addresses


def allowed_addresses(specs: Sequence[ServiceSpec]) -> tuple[str, ...]:
    """The addresses that may reach the IMDS: the services that call AWS."""
    addresses = container_addresses(specs)
    return tuple(addresses[spec.name] for spec in specs if spec.aws_identity)


def compose_network() -> dict[str, Any]:
    """The project's default network; no IPv6, so the IMDS's IPv6 address is out of reach too."""
    return {"default": {
        "enable_ipv6": False,
        "ipam": {"config": [{"subnet": str(SUBNET), "ip_range": str(DYNAMIC_RANGE), "gateway": str(GATEWAY)}]},
    }}


def service_network(spec: ServiceSpec, address: str) -> dict[str, Any]:
    """A service's compose keys: its fixed address; a service kept from the IMDS also loses
    NET_RAW, without which it cannot forge another container's address (raw frames, ARP)."""
    keys: dict[str, Any] = {"networks": {"default": {"ipv4_address": address}}}
    if not spec.aws_identity:
        keys["cap_drop"] = ["NET_RAW"]
    return keys


def render_drop_in(specs: Sequence[ServiceSpec]) -> str:
    """docker.service's drop-in: before dockerd starts (so before any container runs, and again at
    every restart of docker) our chain is refilled: the AWS callers' addresses return to Docker's
    rules, every other forwarded packet to the IMDS drops. DOCKER-USER is made if docker has not
    made it yet (docker keeps an existing one); the jump to our chain is inserted once."""
    allowed = "".join(
        f"ExecStartPre={IPTABLES} -A {CHAIN} -s {address}/32 -j RETURN\n" for address in allowed_addresses(specs)
    )
    # The comment names where this renderer lived before it moved: the text is part of the hosts' user
    # data, and new user data replaces a host (components/compose_host.py).
    return f"""\
# llm-gateway (config/imds.py): only the containers that call AWS reach the instance metadata service.
[Service]
ExecStartPre=/bin/sh -c '{IPTABLES} -n -L DOCKER-USER >/dev/null 2>&1 || {IPTABLES} -N DOCKER-USER'
ExecStartPre=/bin/sh -c '{IPTABLES} -N {CHAIN} 2>/dev/null || {IPTABLES} -F {CHAIN}'
{allowed}ExecStartPre={IPTABLES} -A {CHAIN} -j DROP
ExecStartPre=/bin/sh -c '{IPTABLES} -C DOCKER-USER {JUMP} 2>/dev/null || {IPTABLES} -I DOCKER-USER {JUMP}'
ExecStartPost={GUARD_CHECK}
"""
