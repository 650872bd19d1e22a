"""Every endpoint a compose host's boot reaches, read back from its rendered user data, must be
allowed by the host's security group: a closed port leaves apt hanging, Docker never installed and
`llm-gateway.service` never started (issue 10, finding 1).

The endpoints come from the artifact, not from renderers/compose_host/boot_needs.py: the apt mirrors cloud-init
will use, the registry of every image in the compose file, the Region of the secrets fetcher and
of the awslogs driver, and the SSM agent that Canonical's AMI runs.
"""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import urlsplit

import pytest

from renderers.network import INTERFACE_ENDPOINT_SERVICES, INTERNET, security_group_rules
from renderers.compose_host.boot import boot
from renderers.compose_host.user_data import COMPOSE_FILE, SECRETS_PLAN
from tests.support.hosts import clickhouse_plan, staging_plan, written_files
from tests.support.settings import make_settings
from tests.support import yaml_docs

# What cloud-init uses when the user data names no mirror, Ubuntu arm64 on EC2: the first of the
# `search` list that resolves, else the failsafe (canonical/cloud-init config/cloud.cfg.tmpl
# `package_mirrors`; the datasource fills in `ec2_region`).
CLOUD_INIT_EC2_ARM64_DEFAULT = (
    "http://{region}.ec2.ports.ubuntu.com/ubuntu-ports/",
    "http://{region}.clouds.ports.ubuntu.com/ubuntu-ports/",
    "http://ports.ubuntu.com/ubuntu-ports",
)
# Canonical's Ubuntu AMIs run the SSM agent (the host's Session Manager access): it calls these at boot.
SSM_AGENT_SERVICES = ("ssm", "ssmmessages", "ec2messages")
IMDS = "http://169.254.169.254"  # the fetcher's and docker's credentials
# Registries speak HTTPS (the Docker registry API; the compose file has no insecure registry).
HOSTS = {
    "gateway-host": (staging_plan, "ec2"),
    "clickhouse": (clickhouse_plan, "ecs"),
}


def apt_mirrors(document: dict, region: str) -> set[str]:
    apt = document.get("apt")
    if apt is None:
        return {uri.format(region=region) for uri in CLOUD_INIT_EC2_ARM64_DEFAULT}
    assert not apt.get("sources"), "no third-party apt sources"
    mirrors = set()
    for kind in ("primary", "security"):
        for entry in apt.get(kind, []):
            mirrors |= {entry["uri"]} if "uri" in entry else set(entry.get("search", []))
    return mirrors


def boot_endpoints(user_data: str) -> set[str]:
    """URLs (scheme://host) the host reaches while it boots, from its user data alone."""
    document = yaml_docs.load(user_data)
    files = written_files(user_data)
    region = json.loads(files[SECRETS_PLAN]["content"])["region"]
    services = yaml_docs.load(files[COMPOSE_FILE]["content"])["services"]
    endpoints = apt_mirrors(document, region) | {IMDS}
    for service in services.values():
        first, _, rest = service["image"].partition("/")
        registry = first if rest and ("." in first or ":" in first) else "registry-1.docker.io"
        endpoints.add(f"https://{registry}")
        logging = service.get("logging") or {}
        if logging.get("driver") == "awslogs":
            endpoints.add(f"https://logs.{logging['options']['awslogs-region']}.amazonaws.com")
    endpoints.add(f"https://secretsmanager.{region}.amazonaws.com")
    endpoints |= {f"https://{service}.{region}.amazonaws.com" for service in SSM_AGENT_SERVICES}
    return endpoints


def port_of(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or {"http": 80, "https": 443}[parts.scheme]


def refused(role: str, endpoints: set[str], rules, with_endpoints: bool) -> list[str]:
    edges = {(rule.source, rule.target, rule.port) for rule in rules}
    problems = []
    for url in sorted(endpoints):
        host = urlsplit(url).hostname
        try:
            if ipaddress.ip_address(host).is_link_local:
                continue  # security groups do not filter link-local addresses (instance metadata)
        except ValueError:
            pass
        if (role, INTERNET, port_of(url)) not in edges:
            problems.append(f"{url} (tcp/{port_of(url)})")
        # With interface endpoints, private DNS sends these APIs to the endpoints' group instead.
        if with_endpoints and host.endswith(".amazonaws.com") and host.split(".")[0] in INTERFACE_ENDPOINT_SERVICES \
                and (role, "endpoints", 443) not in edges:
            problems.append(f"{url} (its interface endpoint)")
    return problems


@pytest.mark.parametrize("interface_endpoints", [False, True])
@pytest.mark.parametrize("role", sorted(HOSTS))
def test_the_security_group_allows_every_endpoint_the_boot_reaches(role, interface_endpoints):
    plan, compute = HOSTS[role]
    endpoints = boot_endpoints(boot(plan()).user_data)
    assert any(port_of(url) == 80 for url in endpoints)  # the package mirror: the case that hung
    settings = make_settings(compute=compute, network={"interfaceEndpoints": interface_endpoints})
    assert refused(role, endpoints, security_group_rules(settings), interface_endpoints) == []


def test_only_the_hosts_leave_on_plain_http():
    """Fargate tasks install nothing at start: port 80 is the hosts' package mirror only."""
    for compute, host in (("ec2", "gateway-host"), ("ecs", "clickhouse")):
        rules = security_group_rules(make_settings(compute=compute))
        assert {r.source for r in rules if r.target == INTERNET and r.port == 80} == {host}
