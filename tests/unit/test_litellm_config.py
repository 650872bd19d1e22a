"""The LiteLLM proxy config renderer: exact output, YAML round-trip, env contract, no secrets."""

from __future__ import annotations

import pytest
import yaml

from renderers.litellm_proxy import render_proxy_config, team_key_vars
from services.secret_refs import SecretRef
from tests.support.settings import make_settings
from tests.support import yaml_docs
from policy.rules import strings_in

BASE_EXPECTED = """\
# LiteLLM proxy config for llm-gateway-stg: rendered by config/litellm_config.py, do not edit.
model_list:
- model_name: sonnet
  litellm_params:
    model: bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0
    aws_region_name: us-east-1
- model_name: titan
  litellm_params:
    model: bedrock/amazon.titan-embed-text-v2:0
    aws_region_name: eu-central-1
router_settings:
  routing_strategy: simple-shuffle
  num_retries: 2
  timeout: 600
  retry_policy:
    TimeoutErrorRetries: 0
  allowed_fails: 3
  cooldown_time: 30
litellm_settings:
  drop_params: true
  request_timeout: 600
  success_callback:
  - langfuse
  failure_callback:
  - langfuse
  default_team_settings: []
  global_disable_no_log_param: true
  allow_dynamic_callback_disabling: false
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  database_url: os.environ/DATABASE_URL
  store_model_in_db: false
  coordination_redis:
    host: os.environ/REDIS_HOST
    port: os.environ/REDIS_PORT
    password: os.environ/REDIS_PASSWORD
    ssl: os.environ/REDIS_SSL
    db: 1
  custom_key_policy: llm_gateway_guard.key_policy
  use_redis_transaction_buffer: true
  proxy_batch_write_at: 60
"""

MODELS = [
    {"name": "sonnet", "bedrockModel": "us.anthropic.claude-sonnet-4-20250514-v1:0"},
    {"name": "titan", "bedrockModel": "amazon.titan-embed-text-v2:0", "region": "eu-central-1"},
]


@pytest.mark.parametrize("team_count", [1, 30])
def test_the_base_config_is_the_same_for_any_number_of_teams(team_count):
    """The teams' entries are added at start from the team-plane document (team_plane/litellm_start.py)."""
    settings = make_settings(models=MODELS, teams=[{"name": "home-rentals"}, *({"name": f"t-{i}"} for i in range(team_count - 1))])
    assert render_proxy_config(settings).text == BASE_EXPECTED
    assert render_proxy_config(settings).env == render_proxy_config(make_settings(models=MODELS, teams=[])).env


@pytest.mark.parametrize(
    "model, expected",
    [
        ({"name": "a", "bedrockModel": "amazon.titan-embed-text-v2:0"},
         {"model": "bedrock/amazon.titan-embed-text-v2:0", "aws_region_name": "us-east-1"}),
        ({"name": "b", "bedrockModel": "eu.anthropic.claude-sonnet-4-20250514-v1:0", "region": "eu-central-1"},
         {"model": "bedrock/eu.anthropic.claude-sonnet-4-20250514-v1:0", "aws_region_name": "eu-central-1"}),
        ({"name": "c", "bedrockModel": "global.anthropic.claude-sonnet-4-5-20250929-v1:0"},
         {"model": "bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0", "aws_region_name": "us-east-1"}),
    ],
)
def test_model_entries(model, expected):
    document = yaml_docs.load(render_proxy_config(make_settings(models=[model], teams=[])).text)
    assert document["model_list"] == [{"model_name": model["name"], "litellm_params": expected}]


def test_yaml_round_trips():
    text = render_proxy_config(make_settings(models=MODELS, teams=[{"name": "mle"}, {"name": "ops"}])).text
    document = yaml_docs.load(text)
    assert yaml_docs.load(yaml.safe_dump(document)) == document


def test_env_contract_lists_every_referenced_variable_and_which_are_secret():
    settings = make_settings(models=MODELS, teams=[{"name": "mle"}, {"name": "home-rentals"}])
    config = render_proxy_config(settings)
    referenced = {
        value.removeprefix("os.environ/")
        for value in strings_in(yaml_docs.load(config.text))
        if value.startswith("os.environ/")
    }
    assert referenced <= set(config.env.names)
    assert config.env.plain == ("LANGFUSE_HOST", "REDIS_HOST", "REDIS_PORT", "REDIS_SSL")
    assert config.env.secrets == {
        "LITELLM_MASTER_KEY": SecretRef("litellm", "masterKey"),
        "LITELLM_SALT_KEY": SecretRef("litellm", "saltKey"),
        "DATABASE_URL": SecretRef("litellm", "databaseUrl"),
        "LANGFUSE_PUBLIC_KEY": SecretRef("langfuse-keys/platform", "publicKey"),
        "LANGFUSE_SECRET_KEY": SecretRef("langfuse-keys/platform", "secretKey"),
        "REDIS_PASSWORD": SecretRef("redis", "authToken"),
        "UI_USERNAME": SecretRef("litellm", "uiUsername"),
        "UI_PASSWORD": SecretRef("litellm", "uiPassword"),
    }


def test_team_variable_names_are_deterministic_and_distinct():
    settings = make_settings(models=MODELS, teams=[{"name": "a-bc"}, {"name": "abc"}, {"name": "a-b-c"}])
    names = [var for team in settings.teams for var in team_key_vars(team)]
    assert len(names) == len(set(names))
    assert team_key_vars(settings.team("a-bc")) == ("LANGFUSE_PUBLIC_KEY_A_BC", "LANGFUSE_SECRET_KEY_A_BC")


def test_rendered_file_holds_no_secret_value():
    settings = make_settings(
        models=MODELS,
        teams=[{"name": "mle", "langfuseKeys": "existing"}],
        secrets={"existingLangfuseKeys": {"mle": {"publicKey": "pk-lf-existing-public", "secretKey": "sk-lf-existing-secret"}}},
    )
    text = render_proxy_config(settings).text
    assert "pk-lf-existing-public" not in text and "sk-lf-existing-secret" not in text
    for value in strings_in(yaml_docs.load(text)):
        assert not value.startswith(("sk-", "pk-lf-", "sk-lf-", "postgres")), value


# --- prices: a model LiteLLM cannot price never trips a budget ----------------------------------

UNPRICED = "eu.anthropic.claude-3-haiku-20240307-v1:0"  # absent from LiteLLM 1.104.0's bundled map


def test_a_priced_model_renders_its_prices_into_model_info():
    model = {"name": "haiku", "bedrockModel": UNPRICED, "region": "eu-central-1",
             "inputCostPerToken": 2.5e-07, "outputCostPerToken": 1.25e-06}
    document = yaml_docs.load(render_proxy_config(make_settings(models=[model], teams=[])).text)
    assert document["model_list"][0]["model_info"] == {"input_cost_per_token": 2.5e-07, "output_cost_per_token": 1.25e-06}


def test_a_model_litellm_prices_itself_gets_no_model_info():
    document = yaml_docs.load(render_proxy_config(make_settings(models=MODELS, teams=[])).text)
    assert [entry.get("model_info") for entry in document["model_list"]] == [None, None]
