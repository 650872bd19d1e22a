"""Proof with the real proxy, started from the `litellm` spec (tests/support/litellm_container.py):

- it keeps serving past its recycling limit (MAX_REQUESTS_BEFORE_RESTART): a worker is replaced,
  the process never ends (it did under plain uvicorn with one worker: exit 0, "Maximum request
  limit ... Terminating process");
- two proxies sharing one real Redis (Debian's redis-server, started here) hold a team's rpm limit
  across both, as the 2-6 tasks of prod must (without it each task counts on its own).

What the second test proves and what it does not: the team's limit arrives on the key exactly as
LiteLLM's auth puts it there (`UserAPIKeyAuth.team_rpm_limit`, here from the test's custom auth,
as there is no database), and the v3 limiter (litellm/proxy/hooks/parallel_request_limiter_v3.py)
counts it in the shared Redis. Budgets and key revocation across tasks need LiteLLM's database
(Prisma), which cannot start here; they go through the same `coordination_redis` client (spend
counters, litellm/proxy/proxy_server.py `_attach_redis_usage_cache`), which this does not exercise.
"""

from __future__ import annotations

import json
import urllib.error
import uuid
from contextlib import ExitStack

import pytest

from config.litellm_config import LITELLM_REDIS_DB, render_proxy_config
from tests.support.fake_bedrock import running_fake_bedrock
from tests.support.fake_langfuse import running_fake_langfuse
from tests.support.litellm_container import (
    container_argv, container_environment, litellm_spec, with_test_additions, write_auth_module,
)
from tests.support.litellm_proxy import random_master_key, running_proxy
from tests.support.moto_aws import running_loopback_aws
from tests.support.redis_server import running_redis_server
from tests.support.settings import make_settings

pytestmark = pytest.mark.integration

TEAM = "home-rentals"
RECYCLE_AFTER = 100  # the loader's floor; the shipped stacks use 10000
RPM_LIMIT = 4
MAX_PROBES = 20 * RECYCLE_AFTER  # ends a proxy that never recycles; two recycles take ~300
RECYCLE_LOGGED = "Maximum request limit of"  # uvicorn/server.py, as a worker stops at its limit


def gateway_environment(workdir, settings, *, tokens, rpm_limit=None, langfuse_url, bedrock_url, redis, aws):
    auth_module = f"serving_auth_{uuid.uuid4().hex[:8]}"
    write_auth_module(workdir, auth_module, tokens, rpm_limit)
    proxy = with_test_additions(render_proxy_config(settings), bedrock_url=bedrock_url, auth_module=auth_module)
    # The teams' key secrets and the document LiteLLM's start reads (tests/support/moto_aws.py).
    pairs = {team.name: {"publicKey": f"pk-lf-{team.name}", "secretKey": f"sk-lf-{team.name}"} for team in settings.teams}
    spec = litellm_spec(settings, proxy, langfuse_url, aws.serve_team_plane(settings, pairs))
    env = {**container_environment(spec, {}, redis), "TMPDIR": str(workdir), "AWS_ENDPOINT_URL": aws.endpoint_url}
    return container_argv(spec), env, spec


def probe(proxy, token: str) -> int:
    """The liveness status, or 0 when nothing answers any more (the process ended)."""
    try:
        return proxy.request("GET", "/health/liveliness", token, timeout=30)[0]
    except (urllib.error.URLError, ConnectionError):
        return 0


def recycles_logged(proxy) -> int:
    return proxy.log().count(RECYCLE_LOGGED)


def surroundings(stack: ExitStack, tmp_path):
    """What a LiteLLM task talks to, on loopback: Bedrock, Langfuse, the stack's Redis, S3 and
    Secrets Manager (the team document and keys)."""
    return (stack.enter_context(running_fake_bedrock()), stack.enter_context(running_fake_langfuse({})),
            stack.enter_context(running_redis_server(tmp_path, random_master_key())),
            stack.enter_context(running_loopback_aws()))


def test_the_proxy_keeps_serving_past_its_recycling_limit(tmp_path):
    settings = make_settings(teams=[{"name": TEAM}], litellm={"maxRequestsBeforeRestart": RECYCLE_AFTER})
    with ExitStack() as stack:
        bedrock, langfuse, redis, aws = surroundings(stack, tmp_path)
        token = random_master_key()
        argv, env, spec = gateway_environment(
            tmp_path, settings, tokens={token: TEAM}, langfuse_url=langfuse.url,
            bedrock_url=bedrock.url, redis=redis, aws=aws,
        )
        assert spec.environment["NUM_WORKERS"] == "1"  # the shape that used to end the process
        assert env["MAX_REQUESTS_BEFORE_RESTART"] == str(RECYCLE_AFTER)
        proxy = stack.enter_context(running_proxy(argv, env, tmp_path))

        # Probe until a worker has been replaced twice (health probes alone get there in
        # production). Not a fixed count: uvicorn checks the limit on a 0.1 s tick
        # (uvicorn/server.py on_tick), so a worker serves whatever arrives in that tick on top of
        # its limit: workers here served 104 to 218 requests each. The retiring worker logs the
        # recycle as it shuts down, which on a busy machine is a moment after the requests.
        statuses = []
        while recycles_logged(proxy) < 2 and len(statuses) < MAX_PROBES:
            statuses.extend(probe(proxy, token) for _ in range(RECYCLE_AFTER // 10))
        log = proxy.log()
        assert recycles_logged(proxy) >= 2, f"{len(statuses)} probes, fewer than two recycles:\n{log[-3000:]}"
        assert proxy.process.poll() is None, f"the proxy process ended ({proxy.process.returncode}):\n{log[-3000:]}"
        # A client retries a connection reset once: that is the recycle's documented cost (below).
        for attempt in range(2):
            try:
                status, body = proxy.request("POST", "/v1/chat/completions", token, {
                    "model": "sonnet", "messages": [{"role": "user", "content": "still there?"}],
                })
                break
            except ConnectionResetError:
                if attempt:
                    raise
        assert status == 200 and json.loads(body)["choices"][0]["message"]["content"] == bedrock.reply_text
        # What a recycle costs: the connection the retiring worker had just accepted is reset
        # (uvicorn closes it on shutdown; the next worker takes the rest from the master's socket).
        lost = [i for i, status in enumerate(statuses) if status != 200]
        assert set(statuses) <= {200, 0} and len(lost) <= recycles_logged(proxy), (lost, recycles_logged(proxy))


def test_a_team_rpm_limit_holds_across_two_proxies_sharing_one_redis(tmp_path):
    settings = make_settings(teams=[{"name": TEAM, "rpmLimit": RPM_LIMIT}])
    with ExitStack() as stack:
        bedrock, langfuse, redis, aws = surroundings(stack, tmp_path)
        token = random_master_key()
        proxies = []
        for name in ("task-a", "task-b"):
            workdir = tmp_path / name
            workdir.mkdir()
            argv, env, _ = gateway_environment(
                workdir, settings, tokens={token: TEAM}, rpm_limit=RPM_LIMIT,
                langfuse_url=langfuse.url, bedrock_url=bedrock.url, redis=redis, aws=aws,
            )
            proxies.append(stack.enter_context(running_proxy(argv, env, workdir)))

        statuses = []
        for i in range(2 * RPM_LIMIT):  # alternate: each task alone would let RPM_LIMIT through
            status, _ = proxies[i % 2].request("POST", "/v1/chat/completions", token, {
                "model": "sonnet", "messages": [{"role": "user", "content": f"call {i}"}],
            })
            statuses.append(status)

        logs = "\n".join(proxy.log()[-2000:] for proxy in proxies)
        assert statuses.count(200) == RPM_LIMIT, (statuses, logs)
        assert statuses.count(429) == RPM_LIMIT, (statuses, logs)
        assert len(bedrock.snapshot()) == RPM_LIMIT  # the refused calls never reached Bedrock
        # The counters live in LiteLLM's own database of the shared Redis, none in Langfuse's (0).
        team_keys = [k for k in redis.client(LITELLM_REDIS_DB).keys("*") if f"team:{TEAM}" in k]
        assert team_keys, redis.client(LITELLM_REDIS_DB).keys("*")
        assert redis.client(0).keys("*") == []
