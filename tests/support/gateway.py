"""A LiteLLM task on loopback for the serving tests and `make bench`: the proxy started from the
`litellm` spec as the container starts it (tests/support/litellm_container.py), in front of what a
task talks to: a fake Bedrock, a fake Langfuse, a real redis-server as the stack's Redis, and moto's
S3 and Secrets Manager serving the team-plane document and keys."""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from renderers.litellm_proxy import render_proxy_config
from services.serving import SERVING, ServingTimeouts
from tests.support.fake_bedrock import FakeBedrock, running_fake_bedrock
from tests.support.fake_langfuse import running_fake_langfuse
from tests.support.litellm_container import (
    container_argv, container_environment, litellm_spec, with_test_additions, write_auth_module,
)
from tests.support.litellm_proxy import RunningProxy, random_master_key, running_proxy
from tests.support.moto_aws import running_loopback_aws
from tests.support.redis_server import RedisServer, running_redis_server
from tests.support.settings import make_settings

TEAM = "home-rentals"
LIMITED_TEAM = "forecasting"  # with an rpm limit, when the gateway is asked for one


def gateway_environment(workdir, settings, *, tokens, langfuse_url, bedrock_url, redis, aws, timeouts=SERVING):
    """A task's command and environment; the test-only auth gives each token's key its team's rpm
    limit from `settings`, as LiteLLM's database would."""
    auth_module = f"serving_auth_{uuid.uuid4().hex[:8]}"
    write_auth_module(workdir, auth_module, tokens, {team.name: team.rpm_limit for team in settings.teams if team.rpm_limit})
    proxy = with_test_additions(render_proxy_config(settings, timeouts), bedrock_url=bedrock_url, auth_module=auth_module)
    # The teams' key secrets and the document LiteLLM's start reads (tests/support/moto_aws.py).
    pairs = {team.name: {"publicKey": f"pk-lf-{team.name}", "secretKey": f"sk-lf-{team.name}"} for team in settings.teams}
    spec = litellm_spec(settings, proxy, langfuse_url, aws.serve_team_plane(settings, pairs), timeouts)
    env = {**container_environment(spec, {}, redis), "TMPDIR": str(workdir), "AWS_ENDPOINT_URL": aws.endpoint_url}
    return container_argv(spec), env, spec


def surroundings(stack: ExitStack, workdir: Path):
    """What a LiteLLM task talks to, on loopback: Bedrock, Langfuse, the stack's Redis, S3 and
    Secrets Manager (the team document and keys)."""
    return (stack.enter_context(running_fake_bedrock()), stack.enter_context(running_fake_langfuse({})),
            stack.enter_context(running_redis_server(workdir, random_master_key())),
            stack.enter_context(running_loopback_aws()))


@dataclass
class Gateway:
    proxy: RunningProxy
    bedrock: FakeBedrock
    redis: RedisServer
    token: str  # a key of TEAM
    limited_token: str | None  # a key of LIMITED_TEAM, if the gateway has it
    spec_environment: dict[str, str]
    another_task: Callable[[Path], AbstractContextManager[RunningProxy]]  # one more task beside this one, sharing all

    def call(self, body: dict, timeout: float = 120) -> http.client.HTTPResponse:
        parts = urlsplit(self.proxy.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        connection.request("POST", "/v1/chat/completions", body=json.dumps(body),
                           headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        return connection.getresponse()


@contextmanager
def gateway(workdir: Path, timeouts: ServingTimeouts = SERVING, started=None, limited_team_rpm: int | None = None,
            **litellm_settings) -> Iterator[Gateway]:
    """The proxy of a stack with TEAM, and LIMITED_TEAM at `limited_team_rpm` requests per minute if
    given; `started(argv, env)` may change how it starts (the bench's LiteLLM defaults, the serving
    tests' scaled recycling)."""
    teams = [{"name": TEAM}, *([{"name": LIMITED_TEAM, "rpmLimit": limited_team_rpm}] if limited_team_rpm else [])]
    settings = make_settings(teams=teams, **({"litellm": litellm_settings} if litellm_settings else {}))
    with ExitStack() as stack:
        bedrock, langfuse, redis, aws = surroundings(stack, workdir)
        token, limited_token = random_master_key(), random_master_key() if limited_team_rpm else None
        tokens = {token: TEAM, **({limited_token: LIMITED_TEAM} if limited_token else {})}

        def task(directory: Path) -> tuple[AbstractContextManager[RunningProxy], dict[str, str]]:
            argv, env, spec = gateway_environment(directory, settings, tokens=tokens, langfuse_url=langfuse.url,
                                                  bedrock_url=bedrock.url, redis=redis, aws=aws, timeouts=timeouts)
            if started is not None:
                argv, env = started(argv, env)
            return running_proxy(argv, env, directory), dict(spec.environment)

        first, spec_environment = task(workdir)
        yield Gateway(stack.enter_context(first), bedrock, redis, token, limited_token, spec_environment,
                      lambda directory: task(directory)[0])
