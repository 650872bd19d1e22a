"""Container health checks as ECS and docker compose receive them: none gives up on a healthy container
during a dependency outage (an RDS Multi-AZ failover, a Valkey failover)."""

from __future__ import annotations

import json

import pytest

from services.specs import DEPENDENCY_OUTAGE_SECONDS
from tests.support.hosts import CLICKHOUSE_PORTS, STAGING_PORTS, clickhouse_specs, compose_file_of, staging_specs
from tests.support.program import run_shipped
from tests.support import yaml_docs

# ECS API Reference, HealthCheck: interval 5-300 s, timeout 2-60 s, retries 1-10, startPeriod 0-300 s.
ECS_LIMITS = {"interval": (5, 300), "timeout": (2, 60), "retries": (1, 10), "startPeriod": (0, 300)}


def tolerated_outage(interval: float, retries: int) -> float:
    """The longest run of failing checks a container survives: it turns unhealthy at the `retries`-th
    failure in a row, each check starting `interval` after the previous one ended (Docker reference,
    HEALTHCHECK; the ECS agent runs Docker's semantics). Checks that fail at once are the worst case:
    the outage meets checks at 0, interval, 2 x interval, ..."""
    return (retries - 1) * interval


def seconds(duration: str) -> float:
    assert duration.endswith("s"), duration  # renderers/compose_host/compose_file.py writes whole seconds
    return float(duration[:-1])


def ecs_health_checks() -> dict[str, dict]:
    run = run_shipped("prod")
    return {
        definition["name"]: definition["healthCheck"]
        for task in run.of_type("aws:ecs/taskDefinition:TaskDefinition")
        for definition in json.loads(task.input("containerDefinitions"))
        if "healthCheck" in definition
    }


def compose_health_checks() -> dict[str, dict]:
    found = {}
    for host, (specs, ports) in {"gateway": (staging_specs(), STAGING_PORTS),
                                 "clickhouse": (clickhouse_specs(), CLICKHOUSE_PORTS)}.items():
        services = yaml_docs.load(compose_file_of(specs, ports))["services"]
        found |= {f"{host}/{name}": service["healthcheck"] for name, service in services.items() if "healthcheck" in service}
    return found


def test_every_ecs_health_check_tolerates_a_dependency_outage():
    checks = ecs_health_checks()
    assert set(checks) == {"litellm", "langfuse-web", "langfuse-worker"}
    for name, check in checks.items():
        assert tolerated_outage(check["interval"], check["retries"]) >= DEPENDENCY_OUTAGE_SECONDS, (name, check)
        for key, (low, high) in ECS_LIMITS.items():
            assert low <= check[key] <= high, (name, key, check[key])


def test_every_compose_health_check_tolerates_a_dependency_outage():
    checks = compose_health_checks()
    assert set(checks) == {"gateway/litellm", "gateway/langfuse-web", "gateway/langfuse-worker", "gateway/clickhouse",
                           "gateway/redis", "clickhouse/clickhouse"}
    for name, check in checks.items():
        assert tolerated_outage(seconds(check["interval"]), check["retries"]) >= DEPENDENCY_OUTAGE_SECONDS, (name, check)


@pytest.mark.parametrize(("interval", "retries", "outage", "unhealthy"), [
    (30, 3, 90, True),  # the old worker check: three failures 0, 30 and 60 s into a 90 s failover
    (30, 8, 180, False),
    (30, 8, 211, True),
])
def test_the_tolerance_counts_checks_as_docker_runs_them(interval, retries, outage, unhealthy):
    # Simulate: checks at 0, interval, ...; each one inside the outage fails at once.
    failures, t = 0, 0
    while t < outage and failures < retries:
        failures, t = failures + 1, t + interval
    assert (failures >= retries) is unhealthy
    assert (outage > tolerated_outage(interval, retries)) is unhealthy
