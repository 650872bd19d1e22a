"""Which Bedrock models the pinned LiteLLM can price on its own (generated data, no litellm import).

`reference/bedrock_priced_models.json` is written by scripts/bedrock_prices.py from the installed,
pinned LiteLLM's bundled price map; tests/integration/test_litellm_prices.py fails when they drift apart.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

PRICED_MODELS_FILE = Path(__file__).with_name("bedrock_priced_models.json")


@cache
def priced_models() -> frozenset[str]:
    return frozenset(json.loads(PRICED_MODELS_FILE.read_text())["models"])


def litellm_prices(bedrock_model: str) -> bool:
    """True when LiteLLM's bundled map has a per-token price for `bedrock/<bedrock_model>`."""
    return bedrock_model in priced_models()
