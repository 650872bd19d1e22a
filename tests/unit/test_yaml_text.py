"""The renderers write YAML with libyaml's emitter when PyYAML has it (renderers/yaml_text.py): every
document they render reads the same, byte for byte, as PyYAML's own emitter writes it, so which
emitter a machine has never changes a task definition, a compose file or a host's user data."""

from __future__ import annotations

import pytest
import yaml

from renderers.compose_host.boot import boot
from renderers.litellm_proxy import render_proxy_config
from tests.support.hosts import PLANS, staging_plan, staging_settings
from tests.support.stacks import SHIPPED_STACKS, shipped_settings

RENDERS = {
    **{f"{name} host": (lambda plan=plan: boot(plan())) for name, plan in PLANS.items()},
    "staging host, 200 teams": lambda: boot(staging_plan(staging_settings(200))),
    **{f"{stack} proxy config": (lambda stack=stack: render_proxy_config(shipped_settings(stack)))
       for stack in (*SHIPPED_STACKS, "local")},
}


def on_pyyaml_emitter(dumper: type) -> type:
    """`dumper` with its representers and alias rule, on PyYAML's pure-Python emitter."""
    own = {key: value for key, value in vars(dumper).items() if key in ("yaml_representers", "ignore_aliases")}
    return type(f"Pure{dumper.__name__}", (yaml.SafeDumper,), own)


def test_pyyaml_here_has_libyaml():
    # Otherwise the comparison below compares PyYAML's emitter with itself.
    assert yaml.__with_libyaml__


@pytest.mark.parametrize("render", RENDERS.values(), ids=RENDERS.keys())
def test_every_rendered_document_reads_as_pyyamls_own_emitter_writes_it(render, monkeypatch):
    dumped = []
    real_dump = yaml.dump

    def recording_dump(document, stream=None, Dumper=yaml.Dumper, **options):  # noqa: N803 (PyYAML's name)
        text = real_dump(document, stream, Dumper=Dumper, **options)
        dumped.append((text, real_dump(document, Dumper=on_pyyaml_emitter(Dumper), **options)))
        return text

    monkeypatch.setattr(yaml, "dump", recording_dump)
    render()
    assert dumped
    for libyaml_text, pyyaml_text in dumped:
        assert libyaml_text == pyyaml_text
