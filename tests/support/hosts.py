"""The two compose hosts (staging gateway host, ECS-mode ClickHouse host) as the tests build them."""

from __future__ import annotations

import base64
import gzip
import hashlib

from renderers.litellm_proxy import render_proxy_config
from services.specs import (
    CLICKHOUSE_HOST_PUBLISHED,
    GATEWAY_HOST_PUBLISHED,
    Endpoints,
    ServiceSpec,
    clickhouse_host_specs,
    gateway_host_specs,
)
from config.settings import Settings
from renderers.compose_host.compose_file import compose_file
from renderers.compose_host.imds import imds_guard
from renderers.compose_host.layout import AwsLogs, ComposeHostPlan, HostPaths, layout
from tests.support.settings import make_settings
from tests.support import yaml_docs

# The single staging host: every service on one compose network, Postgres on RDS.
STAGING_ENDPOINTS = Endpoints(
    region="us-east-1",
    database_host="llm-gateway-stg.abcdefghijkl.us-east-1.rds.amazonaws.com",
    redis_host="redis",
    redis_tls=False,
    clickhouse_host="clickhouse",
    langfuse_internal_url="http://langfuse-web:3000",
    litellm_internal_url="http://litellm:4000",
    langfuse_public_url="https://langfuse.llm.example.com",
    bucket="llm-gateway-stg-langfuse",
    team_document="s3://llm-gateway-stg-team-plane-20260101000000000000000001/team-plane/desired.json",
)
STAGING_PORTS = GATEWAY_HOST_PUBLISHED
CLICKHOUSE_PORTS = CLICKHOUSE_HOST_PUBLISHED
VOLUME_ID = "vol-0123456789abcdef0"


def staging_settings(team_count: int = 2) -> Settings:
    return make_settings(compute="ec2", teams=[{"name": f"team-{i}"} for i in range(team_count)])


def staging_specs(settings: Settings | None = None) -> tuple[ServiceSpec, ...]:
    settings = settings or staging_settings()
    return gateway_host_specs(settings, render_proxy_config(settings), STAGING_ENDPOINTS)


def clickhouse_specs(settings: Settings | None = None) -> tuple[ServiceSpec, ...]:
    return clickhouse_host_specs(settings or make_settings(compute="ecs"))


def pinned_images(specs) -> dict[str, str]:
    return {spec.name: f"{spec.image.split(':')[0]}@sha256:{hashlib.sha256(spec.name.encode()).hexdigest()}" for spec in specs}


def secret_arns(specs) -> dict[str, str]:
    names = {name for spec in specs for name in spec.read_secrets}
    return {name: f"arn:aws:secretsmanager:us-east-1:123456789012:secret:llm-gateway-stg/{name}-AbCdEf" for name in names}


def staging_plan(settings: Settings | None = None) -> ComposeHostPlan:
    specs = staging_specs(settings)
    return ComposeHostPlan(
        specs=specs, images=pinned_images(specs), secret_arns=secret_arns(specs), region="us-east-1",
        data_volume_id=VOLUME_ID, published=STAGING_PORTS, log_group="/llm-gateway-stg/gateway-host",
    )


def clickhouse_plan(settings: Settings | None = None) -> ComposeHostPlan:
    specs = clickhouse_specs(settings)
    return ComposeHostPlan(
        specs=specs, images=pinned_images(specs), secret_arns=secret_arns(specs), region="us-east-1",
        data_volume_id=VOLUME_ID, published=CLICKHOUSE_PORTS, log_group="/llm-gateway-prod/clickhouse-host",
    )


PLANS = {"staging": staging_plan, "clickhouse": clickhouse_plan}


def compose_file_of(specs, published, *, images=None, paths: HostPaths | None = None, logs: AwsLogs | None = None) -> str:
    """The compose file of a host running `specs`, through the boot's first three stages (for tests that
    start from specs rather than a plan)."""
    plan = ComposeHostPlan(
        specs=tuple(specs), images=pinned_images(specs) if images is None else images, secret_arns=secret_arns(specs),
        region=logs.region if logs else "us-east-1", data_volume_id=VOLUME_ID, published=published,
        log_group=logs.group if logs else None, paths=paths or HostPaths(),
    )
    host = layout(plan)
    return compose_file(host, imds_guard(host))


def written_files(user_data: str) -> dict[str, dict]:
    """path -> {"content": decoded text, "permissions", "owner"} as cloud-init writes them."""
    files = {}
    for entry in yaml_docs.load(user_data)["write_files"]:
        content = entry["content"]
        if entry.get("encoding") == "gz+b64":
            content = gzip.decompress(base64.b64decode(content)).decode()
        else:
            assert "encoding" not in entry
        files[entry["path"]] = {"content": content, "permissions": entry["permissions"], "owner": entry["owner"]}
    return files
