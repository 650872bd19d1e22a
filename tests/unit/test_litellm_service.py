"""The `litellm` container spec: how it serves, recycles, logs, sizes its Langfuse clients, reaches
Redis, and what it waits for."""

from __future__ import annotations

import pytest

from renderers.litellm_proxy import render_proxy_config
from renderers.network import security_group_rules
from services.specs import Endpoints, litellm
from tests.support.settings import make_settings


def endpoints(redis_host: str = "master.valkey.cache.amazonaws.com", tls: bool = True) -> Endpoints:
    return Endpoints(
        region="us-east-1", database_host="db", redis_host=redis_host, redis_tls=tls, clickhouse_host="ch",
        langfuse_internal_url="http://langfuse-web:3000", litellm_internal_url="http://litellm:4000", langfuse_public_url="https://langfuse.example.com", bucket="b", team_document="s3://t/team-plane/desired.json",
    )


def spec(teams: int = 2, tls: bool = True, **litellm_settings):
    settings = make_settings(teams=[{"name": f"team-{i}"} for i in range(teams)],
                             **({"litellm": litellm_settings} if litellm_settings else {}))
    return litellm(settings, render_proxy_config(settings), endpoints(tls=tls))


def test_runs_under_gunicorn_so_a_recycled_worker_is_replaced_not_the_process_ended():
    service = spec(maxRequestsBeforeRestart=5000)
    assert service.command[0] == "--run_gunicorn"
    assert service.environment["MAX_REQUESTS_BEFORE_RESTART"] == "5000"
    assert service.environment["MAX_REQUESTS_BEFORE_RESTART_JITTER"] == "500"


def test_json_logs():
    assert spec().environment["JSON_LOGS"] == "True"


@pytest.mark.parametrize("teams", [2, 60])
def test_nothing_in_the_container_depends_on_the_team_count(teams):
    """The teams, their keys and the Langfuse client ceiling come from the document at start."""
    service = spec(teams=teams)
    assert "MAX_LANGFUSE_INITIALIZED_CLIENTS" not in service.environment
    assert service.environment["LLM_GATEWAY_TEAM_DOCUMENT"] == "s3://t/team-plane/desired.json"
    assert service == spec(teams=0)


@pytest.mark.parametrize("tls, expected", [(True, "True"), (False, "False")])
def test_reaches_the_stacks_redis(tls, expected):
    service = spec(tls=tls)
    assert (service.environment["REDIS_HOST"], service.environment["REDIS_PORT"], service.environment["REDIS_SSL"]) == (
        "master.valkey.cache.amazonaws.com", "6379", expected,
    )
    assert service.secrets["REDIS_PASSWORD"].secret == "redis"
    assert {"REDIS_HOST", "REDIS_PORT", "REDIS_SSL", "REDIS_PASSWORD"} <= set(service.environment["LITELLM_REQUIRED_ENV"].split(","))


def test_litellm_may_reach_redis_on_ecs():
    rules = security_group_rules(make_settings(compute="ecs"))
    assert [(r.source, r.target, r.port) for r in rules if r.source == "litellm" and r.target == "redis"] == [
        ("litellm", "redis", 6379)
    ]


def test_the_admin_ui_login_is_its_own_secret():
    secrets = spec().secrets
    assert (secrets["UI_USERNAME"].secret, secrets["UI_USERNAME"].key) == ("litellm", "uiUsername")
    assert (secrets["UI_PASSWORD"].secret, secrets["UI_PASSWORD"].key) == ("litellm", "uiPassword")


def test_waits_on_nothing_of_langfuse_and_is_probed_on_liveness():
    service = spec(teams=3)
    assert dict(service.depends_on) == {"db-init": "completed", "litellm-migrator": "completed"}
    assert service.http_health_path == "/health/liveliness"
