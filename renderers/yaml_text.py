"""YAML text written by libyaml's emitter, which PyYAML's wheels carry (requirements.lock): about ten
times faster than PyYAML's own emitter, which every preview and test pays. Always libyaml, so a
task definition, compose file or host's user data never depends on the deploying machine's PyYAML.
tests/unit/test_yaml_text.py holds every rendered document to reading back as it was meant, and the
shipped ones to the very text PyYAML's own emitter writes."""

from __future__ import annotations

from typing import Any

import yaml

SafeDumper = yaml.CSafeDumper


def safe_dump(document: Any, **options: Any) -> str:
    return yaml.dump(document, Dumper=SafeDumper, **options)
