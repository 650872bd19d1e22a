"""The `litellm` container as the integration tests run it: the spec's own entrypoint (the startup
guard), command and environment, with the test-only deviations listed in
tests/integration/test_team_tracing.py (no database, custom auth, fake Bedrock, loopback Redis)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from renderers.litellm_proxy import ProxyConfig
from services.serving import SERVING, ServingTimeouts
from services.specs import Endpoints, ServiceSpec, litellm
from config.settings import Settings
from tests.support.litellm_proxy import base_environment, random_master_key
from tests.support.redis_server import RedisServer
from tests.support import yaml_docs

REGION = "us-east-1"
VENV_BIN = Path(sys.executable).parent

AUTH_MODULE_TEMPLATE = '''\
"""Test-only custom auth for the LiteLLM proxy: bearer token -> team (None: no team), and the
team's rpm limit as LiteLLM puts it on each key of a team that has one (team_rpm_limit)."""
from litellm.proxy._types import UserAPIKeyAuth

TEAM_OF_TOKEN = {tokens!r}
RPM_LIMIT_OF_TEAM = {rpm_limits!r}


async def user_api_key_auth(request, api_key: str) -> UserAPIKeyAuth:
    token = api_key.removeprefix("Bearer ").strip()
    if token not in TEAM_OF_TOKEN:
        raise Exception("unknown test token")
    team = TEAM_OF_TOKEN[token]
    return UserAPIKeyAuth(api_key=token, team_id=team, team_rpm_limit=RPM_LIMIT_OF_TEAM.get(team))
'''

def write_auth_module(workdir: Path, name: str, tokens: dict[str, str | None], rpm_limits: dict[str, int] | None = None) -> None:
    """`<workdir>/<name>.py`: bearer token -> team, and team -> its rpm limit on each of its keys."""
    (workdir / f"{name}.py").write_text(AUTH_MODULE_TEMPLATE.format(tokens=tokens, rpm_limits=rpm_limits or {}))


def with_test_additions(proxy: ProxyConfig, *, bedrock_url: str, auth_module: str) -> ProxyConfig:
    """The rendered config plus the test-only custom auth and Bedrock endpoint; same contract."""
    header = "".join(line for line in proxy.text.splitlines(keepends=True) if line.startswith("#"))
    document = yaml_docs.load(proxy.text)
    for model in document["model_list"]:
        model["litellm_params"]["aws_bedrock_runtime_endpoint"] = bedrock_url
    document["general_settings"]["custom_auth"] = f"{auth_module}.user_api_key_auth"
    return ProxyConfig(text=header + yaml.safe_dump(document, sort_keys=False), env=proxy.env)


def litellm_spec(settings: Settings, proxy: ProxyConfig, langfuse_url: str, team_document: str = "s3://unused/unused",
                 timeouts: ServingTimeouts = SERVING) -> ServiceSpec:
    endpoints = Endpoints(
        region=REGION, database_host="unused.invalid", redis_host="unused.invalid", redis_tls=True,
        clickhouse_host="unused.invalid", langfuse_internal_url=langfuse_url, litellm_internal_url="http://unused.invalid",
        langfuse_public_url="http://unused.invalid", bucket="unused", team_document=team_document,
    )
    return litellm(settings, proxy, endpoints, timeouts)


def container_argv(spec: ServiceSpec) -> list[str]:
    """The spec's entrypoint and command, with this virtualenv's python for `python3`."""
    assert spec.entrypoint is not None and spec.entrypoint[0] == "python3", spec.entrypoint
    return [sys.executable, *spec.entrypoint[1:], *(spec.command or ())]


def container_environment(spec: ServiceSpec, secret_values: dict[str, str], redis: RedisServer) -> dict[str, str]:
    """The spec's plain environment plus a value for each of its secrets; no database (see top)."""
    env = base_environment()
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env.update(spec.environment)
    env["LITELLM_REQUIRED_ENV"] = ",".join(
        name for name in spec.environment["LITELLM_REQUIRED_ENV"].split(",") if name != "DATABASE_URL"
    )
    for name in spec.secrets:
        if name != "DATABASE_URL":
            env[name] = secret_values.get(name, f"dummy-{name.lower().replace('_', '-')}")
    env["LITELLM_MASTER_KEY"] = random_master_key()  # never used (custom auth), but must be strong
    env.update({"REDIS_HOST": redis.host, "REDIS_PORT": str(redis.port), "REDIS_SSL": "False",
                "REDIS_PASSWORD": redis.password})
    env.update({"AWS_ACCESS_KEY_ID": "AKIAFAKETEAMTRACING", "AWS_SECRET_ACCESS_KEY": "fake-secret-access-key"})
    return env
