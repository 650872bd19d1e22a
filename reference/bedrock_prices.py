"""What the pinned LiteLLM knows of each Bedrock model's price (generated data, no litellm import).

`reference/bedrock_priced_models.json` is written by scripts/bedrock_prices.py from the installed,
pinned LiteLLM's bundled price map: each model it prices itself, with its mode (`chat`,
`embedding`, ...) and its USD per input and output token. tests/integration/test_litellm_prices.py
fails when they drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PRICED_MODELS_FILE = Path(__file__).with_name("bedrock_priced_models.json")


@dataclass(frozen=True)
class BedrockPrice:
    mode: str | None  # LiteLLM's: chat, embedding, image_generation, ...
    input_cost_per_token: float
    output_cost_per_token: float


@cache
def priced_models() -> dict[str, BedrockPrice]:
    return {model: BedrockPrice(entry["mode"], entry["inputCostPerToken"], entry["outputCostPerToken"])
            for model, entry in json.loads(PRICED_MODELS_FILE.read_text())["models"].items()}


def litellm_prices(bedrock_model: str) -> bool:
    """True when LiteLLM's bundled map has a per-token price for `bedrock/<bedrock_model>`."""
    return bedrock_model in priced_models()


def litellm_price(bedrock_model: str) -> BedrockPrice | None:
    return priced_models().get(bedrock_model)
