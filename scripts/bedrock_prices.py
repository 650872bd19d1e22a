"""Write reference/bedrock_priced_models.json: the Bedrock model ids the pinned LiteLLM prices itself,
each with its mode (chat, embedding, ...) and its per-token prices.

With LITELLM_LOCAL_MODEL_COST_MAP=True (the container's setting) LiteLLM prices a call only from
the price map bundled in its package (litellm/model_prices_and_context_window_backup.json). A
model missing there costs 0: no spend is recorded and no budget ever stops the team. The deploy
must not import litellm (a dev dependency), so the loader reads this generated map instead; the
smoke test's model choice (the team's cheapest chat model) reads it too.

Run `.venv/bin/python scripts/bedrock_prices.py` after moving the LiteLLM pin;
tests/integration/test_litellm_prices.py fails while the file and the installed LiteLLM disagree.
"""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reference.bedrock_prices import PRICED_MODELS_FILE  # noqa: E402


def priced_bedrock_models() -> dict[str, dict[str, object]]:
    """Every map key LiteLLM resolves `bedrock/<key>` to with a per-input-token price, sorted: its mode
    and prices (USD per token) as get_model_info answers them."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # the bundled map, as the container reads it
    import litellm

    priced = {}
    for key, entry in litellm.model_cost.items():
        if "/" in key or not str(entry.get("litellm_provider", "")).startswith("bedrock"):
            continue
        try:
            info = litellm.get_model_info(model=f"bedrock/{key}")
        except Exception:  # noqa: BLE001 (get_model_info raises plain Exception for an unmapped model)
            continue
        if (info.get("input_cost_per_token") or 0) > 0:
            priced[key] = {"mode": info.get("mode"), "inputCostPerToken": info["input_cost_per_token"],
                           "outputCostPerToken": info.get("output_cost_per_token") or 0.0}
    return dict(sorted(priced.items()))


def render(models: dict[str, dict[str, object]]) -> str:
    """One model per line: a LiteLLM upgrade's diff shows each model whose price moved."""
    lines = ",\n".join(f"  {json.dumps(model)}: {json.dumps(entry)}" for model, entry in models.items())
    return f'{{\n "litellm": {json.dumps(version("litellm"))},\n "models": {{\n{lines}\n }}\n}}\n'


def main() -> None:
    PRICED_MODELS_FILE.write_text(render(priced_bedrock_models()))
    print(f"wrote {PRICED_MODELS_FILE}")


if __name__ == "__main__":
    main()
