"""On a fresh stack only what needs PostgreSQL waits for it, and why each must.

Creating the RDS instance is the longest step of a first deploy (about 12 minutes Multi-AZ). This
walks the dependency graph the program registers (every resource's dependencies and per-property
dependencies, as the engine orders creation) from the database instance and requires every
resource that waits for it, directly or through others, to belong to an entry of WAITS_FOR_THE_DATABASE
(the resource or a component above it), and every entry to still wait. The floor on ECS: the
database -> its name -> db-init -> the migrations -> the services -> the team plane. The ClickHouse
host (whose boot used to wait for a secret version carrying the database's address) and
everything else come up meanwhile."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.support.program import run_shipped
from tests.support.pulumi_mocks import ProgramRun, Registration

DATABASE_INSTANCE = "aws:rds/instance:Instance"
NAME = {"database-dns-postgres": "the database's name: a CNAME to the instance's endpoint, which exists once the instance does"}
WAITS_FOR_THE_DATABASE = {
    "ecs": {
        **NAME,
        "ecs-db-init": "creates the apps' databases and users on the instance; every other client of it comes after",
        "ecs-litellm-migrator": "LiteLLM's schema migrations, in its database",
        "ecs-langfuse-migrator": "Langfuse's migrations, in its database (and ClickHouse)",
        "ecs-litellm": "serves from its database, migrated first (DISABLE_SCHEMA_UPDATE)",
        "ecs-langfuse-web": "serves from its database, migrated first (its own migrations off)",
        "ecs-langfuse-worker": "works from its database, migrated first",
        "ecs-team-plane": "reconciles LiteLLM and Langfuse through their APIs and writes Langfuse's database",
        "ecs-team-plane-smoke": "a call per team through LiteLLM, traced by Langfuse, after the team plane (prod runs it "
                                "with `make smoke`: its task definition carries the endpoints the team plane's does)",
    },
    "ec2": {
        **NAME,
        "gateway-host": "its boot runs db-init and both migrations (compose jobs) before the apps start",
        "team-plane-run": "the team plane's steps, run on the host",
        "team-plane-smoke-run": "a call per team through LiteLLM, traced by Langfuse, after the team plane",
    },
}


def waiting_for_the_database(run: ProgramRun) -> list[Registration]:
    dependants = defaultdict(set)
    for resource in run.resources:
        for urn in {*resource.dependencies, *(u for urns in resource.property_dependencies.values() for u in urns)}:
            dependants[urn].add(resource.urn)
    (database,) = run.of_type(DATABASE_INSTANCE)
    waiting, frontier = set(), [database.urn]
    while frontier:
        for urn in dependants[frontier.pop()] - waiting:
            waiting.add(urn)
            frontier.append(urn)
    return [resource for resource in run.resources if resource.urn in waiting]


def allowed_by(resource: Registration, run: ProgramRun, allowed: dict[str, str]) -> str | None:
    """The entry of `allowed` naming the resource or a component above it."""
    by_urn = {r.urn: r for r in run.resources}
    while resource is not None:
        if resource.name in allowed:
            return resource.name
        resource = by_urn.get(resource.parent)
    return None


@pytest.mark.parametrize("stack, compute", [("prod", "ecs"), ("stg", "ec2")])
def test_only_what_needs_the_database_waits_for_it(stack, compute):
    run, allowed = run_shipped(stack), WAITS_FOR_THE_DATABASE[compute]
    waiting = waiting_for_the_database(run)
    unexplained = sorted(f"{r.typ} {r.name}" for r in waiting if allowed_by(r, run, allowed) is None)
    assert not unexplained, f"wait for the database without needing it: {unexplained}"
    assert {allowed_by(r, run, allowed) for r in waiting} == set(allowed), "an entry that no longer waits"


def test_the_clickhouse_host_boots_while_the_database_is_created():
    """It read a secret version whose database URL carried the name of the record, and so waited."""
    run = run_shipped("prod")
    waiting = {r.name for r in waiting_for_the_database(run)}
    assert not {"clickhouse-host-instance", "ecs-clickhouse-ready-run", "secrets-litellm", "secrets-langfuse"} & waiting
