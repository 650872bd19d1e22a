"""The local stack's LiteLLM, as its containers run it, with the real pinned proxy: the team-plane-store
job writes the code and the team document into an S3-compatible store (moto's server on loopback, in
place of SeaweedFS, reached through AWS_ENDPOINT_URL_S3 as the containers reach theirs), then LiteLLM's
start (the spec's own entrypoint, the bootstrap) reads them, takes every team's pair from its
environment (no Secrets Manager: its endpoint points at a closed port) and execs the proxy with the
rendered config: the shipped `Pulumi.local.yaml`'s stand-in models.

A call to a stand-in model answers without any model, and costs what the config says; the proxy's
own team budget check, fed with those costs, admits the shipped team `mle` (maxBudget 1.5) the
deploy's smoke call and three more. That check runs in process: team budgets need LiteLLM's database (the team and its spend),
which cannot start here; on the local stack PostgreSQL and Valkey hold them.

Deviations from the container, all test-only, as in tests/support/litellm_container.py: no
DATABASE_URL, this virtualenv's python, a loopback redis-server, --host/--port after the command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from renderers.litellm_proxy import STAND_IN_PRICES, STAND_IN_REPLY, render_proxy_config
from renderers.team_document import DOCUMENT_KEY, KeySecret, render_team_document, team_document
from services import secret_refs
from services.local import (
    CODE_FILE, DOCUMENT_FILE, S3_ENDPOINT_VAR, SEED_DIR_VAR, TEAM_PLANE_BUCKET, TEAM_PLANE_STORE, key_id, key_version,
    local_endpoints, local_specs,
)
from team_plane.key_source import KEYS_VAR, environment_keys
from team_plane.litellm_keys import VALUE_FIELD
from tests.support.litellm_container import container_argv, container_environment
from tests.support.litellm_proxy import base_environment, free_port, random_master_key, running_proxy, uncollected
from tests.support.moto_aws import running_loopback_aws
from tests.support.redis_server import running_redis_server
from tests.support.stacks import shipped_settings

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("local-litellm")]

SETTINGS = shipped_settings("local")
PREFIX = SETTINGS.name_prefix


def pairs() -> dict[str, dict[str, str]]:
    """Each team's Langfuse pair and LiteLLM keys, and the platform's pair, by the id the document names them with."""
    logical = [secret_refs.team_keys(team.name) for team in SETTINGS.teams] + [secret_refs.PLATFORM_KEYS]
    values = {key_id(PREFIX, name): {"publicKey": f"pk-lf-{uuid.uuid4()}", "secretKey": f"sk-lf-{uuid.uuid4()}"}
              for name in logical}
    return values | {key_id(PREFIX, secret_refs.team_litellm_key(team.name, key.name)): {VALUE_FIELD: random_master_key()}
                     for team in SETTINGS.teams for key in team.keys}


def document(values: dict[str, dict[str, str]]) -> str:
    def secret(logical: str) -> KeySecret:
        identifier = key_id(PREFIX, logical)
        return KeySecret(identifier, key_version(values[identifier]))

    return render_team_document(team_document(
        SETTINGS, {team.name: secret(secret_refs.team_keys(team.name)) for team in SETTINGS.teams},
        secret(secret_refs.PLATFORM_KEYS),
        {(team.name, key.name): secret(secret_refs.team_litellm_key(team.name, key.name))
         for team in SETTINGS.teams for key in team.keys}))


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """The store seeded by the team-plane-store job, then LiteLLM started as its container starts."""
    workdir = tmp_path_factory.mktemp("local-litellm")
    proxy = render_proxy_config(SETTINGS)
    specs = {s.name: s for s in local_specs(SETTINGS, proxy, local_endpoints(SETTINGS.local, DOCUMENT_KEY))}
    values = pairs()
    with running_loopback_aws() as store, running_redis_server(workdir, "local-redis-password") as redis:
        store.client("s3").create_bucket(Bucket=TEAM_PLANE_BUCKET)  # SeaweedFS creates it at start (`-bucket=`)
        reach_store = {S3_ENDPOINT_VAR: store.endpoint_url, "AWS_ACCESS_KEY_ID": "local-store-key",
                       "AWS_SECRET_ACCESS_KEY": "local-store-secret",
                       "AWS_ENDPOINT_URL_SECRETS_MANAGER": f"http://127.0.0.1:{free_port()}"}
        seed = specs[TEAM_PLANE_STORE]
        seed_dir = workdir / "seed"
        seed_dir.mkdir()
        (seed_dir / CODE_FILE).write_text(seed.config_files[f"/seed/{CODE_FILE}"])
        (seed_dir / DOCUMENT_FILE).write_text(document(values))
        seeded = subprocess.run([sys.executable, *seed.entrypoint[1:]], capture_output=True, text=True, timeout=60,
                                env={"PATH": os.environ["PATH"], **seed.environment, SEED_DIR_VAR: str(seed_dir),
                                     **reach_store})
        assert seeded.returncode == 0, seeded.stderr

        spec = specs["litellm"]
        master_key = random_master_key()
        env = container_environment(spec, {"LITELLM_MASTER_KEY": master_key}, redis)
        env.update({**reach_store, "LITELLM_MASTER_KEY": master_key, "TMPDIR": str(workdir),
                    # The Langfuse pairs only: the teams' LiteLLM keys are the team plane's steps' (services/local.py).
                    KEYS_VAR: environment_keys({i: (key_version(pair), pair) for i, pair in values.items()
                                                if "publicKey" in pair})})
        with running_proxy(container_argv(spec), env, workdir) as running:
            yield running, master_key, values, workdir, seeded.stdout


def test_the_store_job_writes_what_the_start_reads_and_the_start_reads_every_pair_from_its_environment(started):
    _, _, values, workdir, seeded = started
    assert f"wrote s3://{TEAM_PLANE_BUCKET}/{DOCUMENT_KEY}" in seeded
    config = yaml.safe_load((workdir / "litellm-config.yaml").read_text())
    assert [entry["team_id"] for entry in config["litellm_settings"]["default_team_settings"]] == ["home-rentals", "mle"]


def test_the_proxy_process_holds_each_pair_in_its_teams_variables_only(started):
    """What the start exec'd (same process): every team's pair in its own two variables, and not the
    key variable that holds every pair (and, for the team plane's steps, every LiteLLM key)."""
    proxy, _, values, *_ = started
    environment = dict(entry.split("=", 1) for entry in
                       Path(f"/proc/{proxy.process.pid}/environ").read_text().split("\0") if "=" in entry)
    assert KEYS_VAR not in environment
    pair = values[key_id(PREFIX, secret_refs.team_keys("mle"))]
    assert (environment["LANGFUSE_PUBLIC_KEY_MLE"], environment["LANGFUSE_SECRET_KEY_MLE"]) == (
        pair["publicKey"], pair["secretKey"])


def test_the_proxy_serves_exactly_the_configured_models_each_a_stand_in(started):
    proxy, master_key, *_ = started
    status, body = proxy.request("GET", "/v1/models", master_key)
    assert status == 200, body
    assert sorted(model["id"] for model in json.loads(body)["data"]) == sorted(m.name for m in SETTINGS.models)


# The pinned proxy's own team budget check (litellm/proxy/auth/auth_checks.py `_team_max_budget_check`),
# before each call with the team's spend so far; in its own interpreter, as the proxy imports it.
BUDGET_CHECK = """
import asyncio, json, sys
import litellm
from litellm.caching.caching import DualCache
from litellm.proxy._types import LiteLLM_TeamTable
from litellm.proxy.auth.auth_checks import _team_max_budget_check
from litellm.proxy.utils import ProxyLogging

costs, max_budget = json.loads(sys.argv[1]), float(sys.argv[2])
spent, admitted = 0.0, 0
for cost in costs:
    team = LiteLLM_TeamTable(team_id="mle", max_budget=max_budget, spend=spent)
    try:
        asyncio.run(_team_max_budget_check(team, None, ProxyLogging(user_api_key_cache=DualCache())))
    except litellm.BudgetExceededError:
        break
    spent, admitted = spent + cost, admitted + 1
print(admitted)
"""


def admitted_calls(costs: list[float], max_budget: float) -> int:
    checked = subprocess.run([sys.executable, "-c", uncollected(BUDGET_CHECK), json.dumps(costs), str(max_budget)],
                             capture_output=True, text=True, env=base_environment(), timeout=120)
    assert checked.returncode == 0, checked.stderr
    return int(checked.stdout.split()[-1])


def call(proxy, master_key: str, body: dict) -> tuple[dict, float]:
    """The answer and what the proxy charged for it (its x-litellm-response-cost header)."""
    request = urllib.request.Request(proxy.url + "/v1/chat/completions", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {master_key}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read()), float(response.headers["x-litellm-response-cost"])


def test_a_call_to_the_stand_in_answers_and_its_cost_stops_a_small_budget_within_a_few_calls(started):
    proxy, master_key, *_ = started
    costs = []
    for _ in range(5):  # the deploy's smoke call (a stand-in call of the team's), then the team's own
        answer, cost = call(proxy, master_key, {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hello"}]})
        assert answer["choices"][0]["message"]["content"] == STAND_IN_REPLY
        usage = answer["usage"]
        assert cost == pytest.approx(usage["prompt_tokens"] * STAND_IN_PRICES["input_cost_per_token"]
                                     + usage["completion_tokens"] * STAND_IN_PRICES["output_cost_per_token"])
        costs.append(cost)
    assert costs[0] == pytest.approx(0.5)  # 10 prompt + 20 completion tokens at the stand-in's prices
    (mle,) = [team for team in SETTINGS.teams if team.name == "mle"]
    assert admitted_calls(costs, mle.max_budget) == 4  # the smoke call and three more, not a fourth


def test_a_caller_cannot_ask_for_a_mock_itself(started):
    """The stand-in is the config's; a request's own `mock_response` is dropped (litellm_pre_call_utils.py)."""
    proxy, master_key, *_ = started
    status, body = proxy.request("POST", "/v1/chat/completions", master_key, {
        "model": "claude-sonnet-4", "messages": [{"role": "user", "content": "hi"}], "mock_response": "from the caller"})
    assert status == 200, body
    assert json.loads(body)["choices"][0]["message"]["content"] == STAND_IN_REPLY
