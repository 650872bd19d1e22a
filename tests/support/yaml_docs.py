"""Reading the YAML the renderers write with libyaml's parser (PyPI's PyYAML wheels carry it): the
documents yaml.safe_load reads, several times faster; the unit tier reads hundreds of them."""

from __future__ import annotations

from typing import Any

import yaml


def load(text: str) -> Any:
    return yaml.load(text, Loader=yaml.CSafeLoader)
