"""YAML as a compose host's files want it: multi-line strings (the proxy config, scripts) as literal
blocks, no aliases, long values on one line. Shared by the compose file and the cloud-config stages."""

from __future__ import annotations

from typing import Any

import yaml

from renderers import yaml_text

WIDTH = 1 << 16  # long values stay on one line instead of folding


class _LiteralDumper(yaml_text.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml_text.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_LiteralDumper.add_representer(str, _represent_str)


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_LiteralDumper, sort_keys=False, width=WIDTH)
