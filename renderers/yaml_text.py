"""YAML text from PyYAML with libyaml's emitter where the installed wheel carries it (PyPI's wheels
do): the same text as PyYAML's own emitter (tests/unit/test_yaml_text.py holds the two together on
every rendered document) in about a tenth of the time, which every preview and test pays."""

from __future__ import annotations

from typing import Any

import yaml

SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def safe_dump(document: Any, **options: Any) -> str:
    return yaml.dump(document, Dumper=SafeDumper, **options)
