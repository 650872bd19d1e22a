"""Model prices: the loader refuses a model that LiteLLM cannot price (it would cost 0: no spend
recorded, no budget ever tripped). That the shipped list is what the pinned LiteLLM prices is
checked by running it: tests/integration/test_litellm_prices.py."""

from __future__ import annotations

import json

import pytest

from reference.bedrock_prices import PRICED_MODELS_FILE, litellm_prices
from config.loader import SettingsError
from tests.support.settings import make_settings
from tests.support.stacks import shipped_settings

UNPRICED = "eu.anthropic.claude-3-haiku-20240307-v1:0"  # a real profile, absent from 1.104.0's bundled map
PRICES = {"inputCostPerToken": 2.5e-07, "outputCostPerToken": 1.25e-06}


def test_the_list_is_for_the_litellm_the_image_runs():
    from reference.images import DEFAULT_IMAGES, parse_image

    pinned = ".".join(map(str, parse_image(DEFAULT_IMAGES["litellm"]).version))
    assert json.loads(PRICED_MODELS_FILE.read_text())["litellm"] == pinned


@pytest.mark.parametrize("stack", ["stg", "prod"])
def test_every_shipped_model_is_priced(stack):
    settings = shipped_settings(stack)
    assert [m.bedrock_model for m in settings.models if not litellm_prices(m.bedrock_model)] == []


def test_an_unpriced_model_without_prices_is_refused():
    with pytest.raises(SettingsError) as raised:
        make_settings(region="eu-central-1", models=[{"name": "haiku", "bedrockModel": UNPRICED}])
    assert raised.value.problems == [
        f"models[0].bedrockModel '{UNPRICED}' has no price in the pinned LiteLLM's price map: set "
        "inputCostPerToken and outputCostPerToken (USD per token), or budgets never stop a team using it"
    ]


def test_an_unpriced_model_with_prices_is_accepted():
    settings = make_settings(region="eu-central-1", models=[{"name": "haiku", "bedrockModel": UNPRICED, **PRICES}])
    assert (settings.models[0].input_cost_per_token, settings.models[0].output_cost_per_token) == (2.5e-07, 1.25e-06)


@pytest.mark.parametrize("given, problem", [
    ({"inputCostPerToken": 1e-06}, "models[0].outputCostPerToken is required with inputCostPerToken"),
    ({"outputCostPerToken": 1e-06}, "models[0].inputCostPerToken is required with outputCostPerToken"),
    ({"inputCostPerToken": -1, "outputCostPerToken": 1e-06}, "models[0].inputCostPerToken -1 must be >= 0"),
])
def test_prices_come_in_pairs_and_are_not_negative(given, problem):
    with pytest.raises(SettingsError) as raised:
        make_settings(region="eu-central-1", models=[{"name": "haiku", "bedrockModel": UNPRICED, **given}])
    assert raised.value.problems == [problem]


def test_a_priced_model_may_override_litellm_prices():
    settings = make_settings(models=[{"name": "sonnet", "bedrockModel": "us.anthropic.claude-sonnet-4-20250514-v1:0", **PRICES}])
    assert settings.models[0].input_cost_per_token == 2.5e-07
