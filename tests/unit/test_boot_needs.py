"""The hosts' network needs as data (renderers/compose_host/boot_needs.py) and the egress rules derived from them."""

from __future__ import annotations

import pytest

from renderers.compose_host.boot_needs import (
    AWS_API,
    IMAGE_REGISTRY,
    INSTANCE_METADATA,
    PACKAGE_MIRROR,
    Destination,
    egress_ports,
    host_destinations,
    registry_of,
)
from renderers.network import INTERNET, security_group_rules
from tests.support.settings import make_settings


@pytest.mark.parametrize("image, registry", [
    ("docker.io/clickhouse/clickhouse-server:25.12", "docker.io"),
    ("clickhouse/clickhouse-server:25.12", "docker.io"),
    ("postgres:17-alpine", "docker.io"),
    ("ghcr.io/berriai/litellm-database:v1.104.0@sha256:" + "0" * 64, "ghcr.io"),
    ("registry.example.com:5000/team/app:1", "registry.example.com:5000"),
    ("localhost/app:1", "localhost"),
])
def test_registry_of(image, registry):
    assert registry_of(image) == registry


@pytest.mark.parametrize("url, port, link_local", [
    ("http://ports.ubuntu.com/ubuntu-ports", 80, False),
    ("https://logs.us-east-1.amazonaws.com", 443, False),
    ("https://registry.example.com:5000", 5000, False),
    ("http://169.254.169.254", 80, True),
])
def test_destination_port_and_link_local(url, port, link_local):
    destination = Destination(AWS_API, url)
    assert (destination.port, destination.link_local) == (port, link_local)


def test_the_gateway_host_reaches_its_mirror_registries_and_aws_apis():
    settings = make_settings(compute="ec2", models=[
        {"name": "sonnet", "bedrockModel": "us.anthropic.claude-sonnet-4-20250514-v1:0"},
        {"name": "titan", "bedrockModel": "amazon.titan-embed-text-v2:0", "region": "eu-central-1"},
    ])
    by_kind: dict[str, set[str]] = {}
    for destination in host_destinations(settings, "gateway-host"):
        by_kind.setdefault(destination.kind, set()).add(destination.host)
    assert by_kind[PACKAGE_MIRROR] == {"ports.ubuntu.com"}
    assert by_kind[INSTANCE_METADATA] == {"169.254.169.254"}
    assert by_kind[IMAGE_REGISTRY] == {
        "ghcr.io", "pkg-containers.githubusercontent.com",  # LiteLLM
        "public.ecr.aws",  # the postgres client of db-init
        "registry-1.docker.io", "auth.docker.io", "production.cloudflare.docker.com",  # the rest
    }
    assert by_kind[AWS_API] == {
        *(f"{s}.us-east-1.amazonaws.com" for s in ("secretsmanager", "logs", "ssm", "ssmmessages", "ec2messages", "monitoring", "s3")),
        "bedrock-runtime.us-east-1.amazonaws.com", "bedrock-runtime.eu-central-1.amazonaws.com",
    }


@pytest.mark.parametrize("compute, host", [("ec2", "gateway-host"), ("ecs", "clickhouse")])
def test_host_egress_is_exactly_the_ports_of_what_it_reaches(compute, host):
    settings = make_settings(compute=compute)
    egress = {r.port: r.description for r in security_group_rules(settings) if r.source == host and r.target == INTERNET}
    assert set(egress) == set(egress_ports(host_destinations(settings, host))) == {80, 443}
    assert egress == {80: f"{host} to package mirrors", 443: f"{host} to AWS APIs and image registries"}


def test_an_external_clickhouse_means_no_host_and_no_plain_http():
    settings = make_settings(compute="ecs", clickhouse={"externalUrl": "https://ch.example.com:8443"},
                             secrets={"clickhouseExternalPassword": "FAKE-ch-password"})
    assert not [r for r in security_group_rules(settings) if r.port == 80 and r.target == INTERNET]
