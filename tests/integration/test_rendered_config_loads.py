"""The rendered proxy config, loaded by the real pinned LiteLLM proxy."""

from __future__ import annotations

import json

import pytest

from renderers.litellm_proxy import render_proxy_config
from team_plane.litellm_start import write_config
from tests.support.litellm_proxy import LITELLM, base_environment, free_port, random_master_key, running_proxy
from tests.support.stacks import SHIPPED_STACKS, shipped_settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_real_proxy_serves_exactly_the_configured_models(stack, tmp_path):
    settings = shipped_settings(stack)
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

    with running_proxy([str(LITELLM), "--config", config_path], env, tmp_path) as proxy:
        status, body = proxy.request("GET", "/v1/models", master_key)
        assert status == 200, body
        served = sorted(model["id"] for model in json.loads(body)["data"])
        assert served == sorted(model.name for model in settings.models)

        # Any other key is refused: without a database the proxy knows no virtual keys.
        status, body = proxy.request("GET", "/v1/models", "sk-" + "0" * 48)
        assert (status, json.loads(body)["error"]["type"]) == (400, "no_db_connection"), body
