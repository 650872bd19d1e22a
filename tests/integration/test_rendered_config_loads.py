"""The rendered proxy config, loaded by the real pinned LiteLLM proxy with the command the container's
start runs (team_plane/litellm_start.py: SERVE, with the `litellm` spec's command), in an environment
of the config's own variables only."""

from __future__ import annotations

import json
import sys

import pytest

from renderers.litellm_proxy import render_proxy_config
from team_plane.litellm_start import SERVE, write_config
from tests.support.litellm_container import litellm_spec
from tests.support.litellm_proxy import base_environment, free_port, random_master_key, running_proxy
from tests.support.stacks import SHIPPED_STACKS, shipped_settings
from tests.support.variants import LOCAL_BEDROCK

pytestmark = pytest.mark.integration


SETTINGS = {**{stack: lambda stack=stack: shipped_settings(stack) for stack in SHIPPED_STACKS},
            # The local stack with Bedrock through a named profile (the stand-in's: test_local_litellm.py).
            "local-bedrock": LOCAL_BEDROCK.settings}


@pytest.mark.parametrize("stack", sorted(SETTINGS))
def test_real_proxy_serves_exactly_the_configured_models(stack, tmp_path):
    settings = SETTINGS[stack]()
    proxy_config = render_proxy_config(settings)
    # Written as the container's start writes it: beside it, the guard module the config names.
    config_path = write_config(str(tmp_path), proxy_config.text)

    master_key = random_master_key()
    env = base_environment()
    # Dummy values for every variable of the contract except the database (none runs here).
    env.update({name: f"dummy-{name.lower()}" for name in proxy_config.env.names if name != "DATABASE_URL"})
    env.update({"LITELLM_MASTER_KEY": master_key, "LANGFUSE_HOST": "http://127.0.0.1:9"})
    # A Redis that does not answer: the proxy still starts and serves (it falls back to memory).
    env.update({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(free_port()), "REDIS_SSL": "False"})

    command = litellm_spec(settings, proxy_config, env["LANGFUSE_HOST"]).command
    with running_proxy([sys.executable, "-c", SERVE, "--config", config_path, *command], env, tmp_path) as proxy:
        status, body = proxy.request("GET", "/v1/models", master_key)
        assert status == 200, body
        served = sorted(model["id"] for model in json.loads(body)["data"])
        assert served == sorted(model.name for model in settings.models)

        # Any other key is refused: without a database the proxy knows no virtual keys.
        status, body = proxy.request("GET", "/v1/models", "sk-" + "0" * 48)
        assert (status, json.loads(body)["error"]["type"]) == (400, "no_db_connection"), body
