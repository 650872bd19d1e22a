"""The network as data: subnet layout and the security-group graph, built from intent.

The graph says who may talk to whom on which port. Data stores accept only the security groups
of the applications that use them, never a CIDR; the load balancer alone faces `allowedCidrs`.
The Network and SecurityGroups components render exactly this.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlparse

from renderers.compose_host.boot_needs import egress_ports, host_destinations, host_roles
from services.specs import (
    CLICKHOUSE_HTTP_PORT,
    CLICKHOUSE_NATIVE_PORT,
    CLICKHOUSE_NATIVE_TLS_PORT,
    LANGFUSE_WEB_PORT,
    LITELLM_PORT,
    POSTGRES_PORT,
    REDIS_PORT,
)
from config.settings import Settings

HTTPS, HTTP = 443, 80
INTERNET = "0.0.0.0/0"
# Interface endpoints behind `network.interfaceEndpoints`; SSM's trio serves Session Manager.
INTERFACE_ENDPOINT_SERVICES = (
    "bedrock-runtime", "secretsmanager", "logs", "ecr.api", "ecr.dkr", "ssm", "ssmmessages", "ec2messages",
)


@dataclass(frozen=True)
class Subnet:
    tier: str  # "public" | "private"
    az_index: int
    cidr: str


def subnet_plan(vpc_cidr: str, az_count: int) -> tuple[Subnet, ...]:
    """Public subnets take the first blocks of prefix+4, private ones start half-way up."""
    blocks = list(ipaddress.ip_network(vpc_cidr).subnets(prefixlen_diff=4))
    half = len(blocks) // 2
    return tuple(
        Subnet(tier, i, str(blocks[offset + i]))
        for tier, offset in (("public", 0), ("private", half))
        for i in range(az_count)
    )


@dataclass(frozen=True, order=True)
class Rule:
    source: str  # a security-group role, or a CIDR for the load balancer's ingress
    target: str  # a security-group role, or INTERNET for egress to AWS APIs and registries
    port: int
    description: str

    @property
    def source_is_cidr(self) -> bool:
        return "/" in self.source

    @property
    def target_is_cidr(self) -> bool:
        return "/" in self.target


# Without a domain there is no host to route on: Langfuse gets its own plain-HTTP listener.
INSECURE_LANGFUSE_PORT = 3000


def listener_ports(settings: Settings) -> tuple[int, ...]:
    """HTTPS plus the HTTP redirect, or plain HTTP only when the stack allows it."""
    return (HTTP, INSECURE_LANGFUSE_PORT) if settings.allow_insecure_http else (HTTPS, HTTP)


def public_urls(settings: Settings, load_balancer_dns: str) -> tuple[str, str]:
    """(LiteLLM URL, Langfuse URL) as clients and browsers reach them."""
    if settings.allow_insecure_http:
        return f"http://{load_balancer_dns}", f"http://{load_balancer_dns}:{INSECURE_LANGFUSE_PORT}"
    return f"https://{settings.litellm_host}", f"https://{settings.langfuse_host}"


def security_groups(settings: Settings) -> tuple[str, ...]:
    """The security-group roles the stack needs, in creation order."""
    if settings.compute == "ec2":
        apps = ("gateway-host",)
    else:
        clickhouse = ("clickhouse",) if settings.clickhouse.hosted else ()
        apps = ("litellm", "langfuse-web", "langfuse-worker", "db-init", "team-plane", *clickhouse, "redis")
    endpoints = ("endpoints",) if settings.network.interface_endpoints else ()
    return ("load-balancer", *apps, "database", *endpoints)


def security_group_rules(settings: Settings) -> tuple[Rule, ...]:
    rules = [
        Rule(cidr, "load-balancer", port, f"clients from {cidr}")
        for cidr in settings.allowed_cidrs
        for port in listener_ports(settings)
    ]
    if settings.compute == "ec2":
        rules += [
            Rule("load-balancer", "gateway-host", LITELLM_PORT, "load balancer to LiteLLM"),
            Rule("load-balancer", "gateway-host", LANGFUSE_WEB_PORT, "load balancer to Langfuse web"),
            Rule("gateway-host", "database", POSTGRES_PORT, "host to PostgreSQL"),
        ]
        callers_of_aws = ("gateway-host",)
    else:
        langfuse = ("langfuse-web", "langfuse-worker")
        rules += [
            Rule("load-balancer", "litellm", LITELLM_PORT, "load balancer to LiteLLM"),
            Rule("load-balancer", "langfuse-web", LANGFUSE_WEB_PORT, "load balancer to Langfuse web"),
            Rule("litellm", "langfuse-web", LANGFUSE_WEB_PORT, "LiteLLM traces to Langfuse"),
            *(Rule(app, "database", POSTGRES_PORT, f"{app} to PostgreSQL") for app in ("litellm", *langfuse, "db-init")),
            # LiteLLM's tasks share rate limits, spend counters and the spend-write buffer there.
            *(Rule(app, "redis", REDIS_PORT, f"{app} to Redis") for app in ("litellm", *langfuse)),
            # The team-plane job: LiteLLM's admin API, Langfuse's project check, Langfuse's database
            # and its API-key cache in Redis.
            Rule("team-plane", "litellm", LITELLM_PORT, "team plane to LiteLLM's admin API"),
            Rule("team-plane", "langfuse-web", LANGFUSE_WEB_PORT, "team plane to Langfuse"),
            Rule("team-plane", "database", POSTGRES_PORT, "team plane to PostgreSQL"),
            Rule("team-plane", "redis", REDIS_PORT, "team plane to Redis (Langfuse's API-key cache)"),
        ]
        if settings.clickhouse.hosted:
            rules += [Rule(app, "clickhouse", port, f"{app} to ClickHouse")
                      for app in langfuse for port in (CLICKHOUSE_HTTP_PORT, CLICKHOUSE_NATIVE_PORT)]
        else:
            port = urlparse(settings.clickhouse.external_url).port or HTTPS
            rules += [Rule(app, INTERNET, p, f"{app} to external ClickHouse")
                      for app in langfuse for p in sorted({port, CLICKHOUSE_NATIVE_TLS_PORT} - {HTTPS})]
        callers_of_aws = ("litellm", *langfuse, "db-init", "team-plane", *(("clickhouse",) if settings.clickhouse.hosted else ()))
    hosts = host_roles(settings)
    # Containers on Fargate: Bedrock, Secrets Manager, CloudWatch, S3 and image registries, HTTPS only.
    rules += [Rule(app, INTERNET, HTTPS, f"{app} to AWS APIs and registries") for app in callers_of_aws if app not in hosts]
    # Hosts: exactly the ports of what their boot and containers reach (renderers/compose_host/boot_needs.py),
    # which includes the package mirror's plain HTTP.
    rules += [Rule(host, INTERNET, port, f"{host} to {' and '.join(kinds)}")
              for host in hosts for port, kinds in egress_ports(host_destinations(settings, host)).items()]
    if settings.network.interface_endpoints:
        rules += [Rule(app, "endpoints", HTTPS, f"{app} to interface endpoints") for app in callers_of_aws]
    return tuple(rules)
