"""Offline render for reviewers: every generated artifact of a stack, under build/<stack>/.

Needs no cloud credentials and no Pulumi engine: settings come from Pulumi.<stack>.yaml and the
renderers are the same pure functions the program uses. Values only a deployment knows (ARNs,
endpoints, image digests, the data volume) are shown as recognisable placeholders.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from renderers.cost import cost_table  # noqa: E402
from renderers.ecs import container_definition  # noqa: E402
from renderers.litellm_proxy import render_proxy_config  # noqa: E402
from services.specs import (  # noqa: E402
    CLICKHOUSE_HOST_PUBLISHED,
    GATEWAY_HOST_PUBLISHED,
    LANGFUSE_WEB_PORT,
    LITELLM_PORT,
    Endpoints,
    ServiceSpec,
    clickhouse_host_specs,
    ecs_specs,
    gateway_host_specs,
)
from config.settings import Settings  # noqa: E402
from config.stack_file import settings_from_stack_file  # noqa: E402
from renderers.compose_host.boot import boot  # noqa: E402
from renderers.compose_host.layout import ComposeHostPlan  # noqa: E402

PLACEHOLDER_VOLUME = "vol-00000000000000000"


def _secret_arns(settings: Settings, specs: tuple[ServiceSpec, ...]) -> dict[str, str]:
    names = {name for spec in specs for name in spec.read_secrets}
    return {
        name: f"arn:aws:secretsmanager:{settings.region}:ACCOUNT:secret:{settings.name_prefix}/{name}-SUFFIX"
        for name in sorted(names)
    }


def _host_files(settings: Settings, specs: tuple[ServiceSpec, ...], published, log_group: str) -> dict[str, str]:
    plan = ComposeHostPlan(
        specs=specs,
        images={spec.name: spec.image for spec in specs},  # the deployment runs name@sha256 instead
        secret_arns=_secret_arns(settings, specs),
        region=settings.region,
        data_volume_id=PLACEHOLDER_VOLUME,
        published=published,
        log_group=log_group,
    )
    host = boot(plan)
    return {"compose.yaml": host.compose_file, "user-data.yaml": host.user_data}


def render(stack: str, out_dir: Path) -> list[Path]:
    settings = settings_from_stack_file(ROOT, stack)
    proxy = render_proxy_config(settings)
    artifacts = {"litellm-config.yaml": proxy.text, "cost.md": cost_table(settings) + "\n"}
    public_langfuse = f"https://{settings.langfuse_host}" if settings.domain else "http://LOAD_BALANCER_DNS:3000"
    if settings.compute == "ec2":
        endpoints = Endpoints(
            region=settings.region, database_host="RDS_ENDPOINT", redis_host="redis", redis_tls=False,
            clickhouse_host="clickhouse", langfuse_internal_url=f"http://langfuse-web:{LANGFUSE_WEB_PORT}",
            litellm_internal_url=f"http://litellm:{LITELLM_PORT}",
            langfuse_public_url=public_langfuse, bucket="LANGFUSE_BUCKET", team_document="s3://TEAM_PLANE_BUCKET/team-plane/desired.json",
        )
        specs = gateway_host_specs(settings, proxy, endpoints)
        artifacts |= _host_files(settings, specs, GATEWAY_HOST_PUBLISHED, f"/{settings.name_prefix}/gateway-host")
    else:
        domain = f"{settings.name_prefix}.internal"
        endpoints = Endpoints(
            region=settings.region, database_host="RDS_ENDPOINT", redis_host="ELASTICACHE_ENDPOINT", redis_tls=True,
            clickhouse_host=f"clickhouse.{domain}", langfuse_internal_url=f"http://langfuse-web.{domain}:{LANGFUSE_WEB_PORT}",
            litellm_internal_url=f"http://litellm.{domain}:{LITELLM_PORT}",
            langfuse_public_url=public_langfuse, bucket="LANGFUSE_BUCKET", team_document="s3://TEAM_PLANE_BUCKET/team-plane/desired.json",
        )
        specs = tuple(ecs_specs(settings, proxy, endpoints).values())
        arns = _secret_arns(settings, specs)
        definitions = {
            spec.name: container_definition(spec, image=spec.image, secret_arns=arns,
                                            log_group=f"/{settings.name_prefix}/{spec.name}", region=settings.region)
            for spec in specs
        }
        artifacts["ecs-container-definitions.json"] = json.dumps(definitions, indent=2) + "\n"
        host = _host_files(settings, clickhouse_host_specs(settings), CLICKHOUSE_HOST_PUBLISHED,
                           f"/{settings.name_prefix}/clickhouse-host")
        artifacts |= {f"clickhouse-host/{name}": text for name, text in host.items()}
    written = []
    for name, text in artifacts.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: render.py <stack>")
    stack_name = sys.argv[1]
    for path in render(stack_name, ROOT / "build" / stack_name):
        print(path.relative_to(ROOT))
