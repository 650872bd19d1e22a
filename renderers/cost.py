"""Fixed monthly cost of a stack, line by line, from its settings (on-demand, us-east-1).

Counts what runs whether or not anyone calls the gateway: load balancer, NAT, public IPv4,
compute, database, cache, volumes, secrets, keys. Usage (Bedrock tokens, data transfer, NAT and
LCU traffic beyond one LCU, logs, Container Insights metrics) is left out and named as such.
Prices: AWS public on-demand price lists for us-east-1 as of 2026; update PRICES when they move.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference.instance_types import INSTANCE_TYPES
from renderers.network import INTERFACE_ENDPOINT_SERVICES
from config.settings import Settings

HOURS_PER_MONTH = 730

PRICES = {
    "alb_hour": 0.0225,
    "alb_lcu_hour": 0.008,
    "nat_hour": 0.045,
    "ipv4_hour": 0.005,
    "fargate_arm_vcpu_hour": 0.03238,
    "fargate_arm_gb_hour": 0.00356,
    "ebs_gp3_gb_month": 0.08,
    "rds_gp3_gb_month": 0.115,
    "interface_endpoint_az_hour": 0.01,
    "secret_month": 0.40,
    "kms_key_month": 1.0,
}
INSTANCE_HOUR = {name: kind.hourly_usd for name, kind in INSTANCE_TYPES.items()}
RDS_HOUR = {
    "db.t4g.micro": 0.016, "db.t4g.small": 0.032, "db.t4g.medium": 0.065, "db.t4g.large": 0.129,
    "db.m7g.large": 0.168,
}
VALKEY_HOUR = {"cache.t4g.micro": 0.0128, "cache.t4g.small": 0.0256, "cache.t4g.medium": 0.0512, "cache.m7g.large": 0.1258}
ROOT_VOLUME_GB = 30  # the ClickHouse host's root volume


class UnknownPrice(KeyError):
    pass


@dataclass(frozen=True)
class CostLine:
    item: str
    detail: str
    monthly: float


def _price(table: dict[str, float], key: str) -> float:
    if key not in table:
        raise UnknownPrice(f"no price for {key}: add it to renderers/cost.py")
    return table[key]


def _fargate(count: int, cpu: int, memory: int) -> float:
    per_hour = cpu / 1024 * PRICES["fargate_arm_vcpu_hour"] + memory / 1024 * PRICES["fargate_arm_gb_hour"]
    return count * per_hour * HOURS_PER_MONTH


def fixed_monthly_cost(settings: Settings) -> list[CostLine]:
    hours = HOURS_PER_MONTH
    azs = settings.network.az_count
    nats = azs if settings.network.nat_gateways == "perAz" else 1
    db = settings.database
    db_copies = 2 if db.multi_az else 1
    # litellm, langfuse, the database's master, clickhouse, redis, the platform's keys; a Langfuse pair
    # per team and one per LiteLLM key of it; docker-hub, litellm-external, langfuse-external when set
    secrets = (6 + sum(1 + len(team.keys) for team in settings.teams) + bool(settings.docker_hub_credentials)
               + bool(settings.litellm_license_key) + bool(settings.langfuse_sso or settings.langfuse_ee_license_key))
    lines = [
        CostLine("Load balancer", "ALB + 1 LCU", (PRICES["alb_hour"] + PRICES["alb_lcu_hour"]) * hours),
        CostLine("NAT gateways", f"{nats} x NAT gateway", nats * PRICES["nat_hour"] * hours),
        CostLine("Public IPv4", f"{nats} NAT + {azs} load balancer addresses", (nats + azs) * PRICES["ipv4_hour"] * hours),
        CostLine(
            "PostgreSQL (RDS)",
            f"{db.instance_class}{' Multi-AZ' if db.multi_az else ''}, {db.allocated_storage_gb} GB gp3",
            db_copies * (_price(RDS_HOUR, db.instance_class) * hours + db.allocated_storage_gb * PRICES["rds_gp3_gb_month"]),
        ),
    ]
    if settings.compute == "ecs":
        litellm, langfuse, clickhouse, redis = settings.litellm, settings.langfuse, settings.clickhouse, settings.redis
        nodes = 1 + redis.replicas
        lines += [
            CostLine("LiteLLM (Fargate ARM)", f"{litellm.desired_count} x {litellm.cpu / 1024:g} vCPU / {litellm.memory / 1024:g} GB",
                     _fargate(litellm.desired_count, litellm.cpu, litellm.memory)),
            CostLine("Langfuse web (Fargate ARM)", f"{langfuse.web_desired_count} x {langfuse.web_cpu / 1024:g} vCPU / {langfuse.web_memory / 1024:g} GB",
                     _fargate(langfuse.web_desired_count, langfuse.web_cpu, langfuse.web_memory)),
            CostLine("Langfuse worker (Fargate ARM)", f"{langfuse.worker_desired_count} x {langfuse.worker_cpu / 1024:g} vCPU / {langfuse.worker_memory / 1024:g} GB",
                     _fargate(langfuse.worker_desired_count, langfuse.worker_cpu, langfuse.worker_memory)),
            CostLine("ClickHouse host (EC2)", f"{clickhouse.instance_type}, {clickhouse.data_volume_gb} GB data + {ROOT_VOLUME_GB} GB root gp3",
                     _price(INSTANCE_HOUR, clickhouse.instance_type) * hours
                     + (clickhouse.data_volume_gb + ROOT_VOLUME_GB) * PRICES["ebs_gp3_gb_month"])
            if clickhouse.hosted else CostLine("ClickHouse", "external, billed by its provider", 0.0),
            CostLine("Valkey (ElastiCache)", f"{nodes} x {redis.node_type}", nodes * _price(VALKEY_HOUR, redis.node_type) * hours),
        ]
    else:
        host = settings.host
        lines.append(CostLine(
            "Gateway host (EC2)", f"{host.instance_type}, {host.data_volume_gb} GB data + {host.root_volume_gb} GB root gp3",
            _price(INSTANCE_HOUR, host.instance_type) * hours
            + (host.data_volume_gb + host.root_volume_gb) * PRICES["ebs_gp3_gb_month"],
        ))
    if settings.network.interface_endpoints:
        count = len(INTERFACE_ENDPOINT_SERVICES)
        lines.append(CostLine("Interface endpoints", f"{count} services x {azs} AZs",
                              count * azs * PRICES["interface_endpoint_az_hour"] * hours))
    lines += [
        CostLine("Secrets Manager", f"{secrets} secrets", secrets * PRICES["secret_month"]),
        CostLine("KMS", "1 customer-managed key", PRICES["kms_key_month"]),
    ]
    return lines


def cost_table(settings: Settings) -> str:
    """Markdown table of the fixed monthly cost, with the total."""
    lines = fixed_monthly_cost(settings)
    rows = [f"| {line.item} | {line.detail} | ${line.monthly:,.2f} |" for line in lines]
    total = sum(line.monthly for line in lines)
    return "\n".join([
        "| item | sizing | per month |",
        "| --- | --- | ---: |",
        *rows,
        f"| **Total fixed** | | **${total:,.2f}** |",
    ])
