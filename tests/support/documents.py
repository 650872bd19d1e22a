"""Walk parsed YAML/JSON documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def strings_in(node: Any) -> Iterator[str]:
    """Every string leaf of a nested dict/list document."""
    if isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_in(value)
    elif isinstance(node, str):
        yield node
