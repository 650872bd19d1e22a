"""The renderers write YAML with libyaml's emitter (renderers/yaml_text.py); LiteLLM and cloud-init read
it with PyYAML's own parser (Docker Compose with Go's):

- every document rendered reads back, under PyYAML's parser and libyaml's alike, as the document
  the renderer dumped;
- the shipped documents are the very text PyYAML's own emitter writes, so the change of emitter
  changed no task definition, compose file or user data. Where the two emitters differ (a quoted,
  escaped string longer than the line width: they fold it at different places), the text is
  libyaml's on every machine."""

from __future__ import annotations

import pytest
import yaml

from renderers.compose_host.boot import boot
from renderers.litellm_proxy import render_proxy_config
from tests.support.hosts import PLANS, staging_plan, staging_settings
from tests.support.stacks import SHIPPED_STACKS, shipped_settings
from tests.support.variants import LOCAL_BEDROCK

SHIPPED = {
    **{f"{name} host": (lambda plan=plan: boot(plan())) for name, plan in PLANS.items()},
    "staging host, 200 teams": lambda: boot(staging_plan(staging_settings(200))),
    **{f"{stack} proxy config": (lambda stack=stack: render_proxy_config(shipped_settings(stack)))
       for stack in (*SHIPPED_STACKS, "local")},
}
# An AWS profile name may hold any character but whitespace and brackets: a long non-ASCII one is
# escaped in double quotes and folds past the proxy config's width of 120.
FOLDED = {"local proxy config, a long non-ASCII AWS profile": lambda: render_proxy_config(
    LOCAL_BEDROCK.but(local={**LOCAL_BEDROCK.config["local"], "awsProfile": "équipe-" + "é" * 100}).settings())}


def on_pyyaml_emitter(dumper: type) -> type:
    """`dumper` with its representers and alias rule, on PyYAML's pure-Python emitter."""
    own = {key: value for key, value in vars(dumper).items() if key in ("yaml_representers", "ignore_aliases")}
    return type(f"Pure{dumper.__name__}", (yaml.SafeDumper,), own)


def dumped_by(render) -> list[tuple[object, str, str]]:
    """(document, libyaml's text, PyYAML's text) for each document `render` dumps."""
    dumped = []
    real_dump = yaml.dump

    def recording_dump(document, stream=None, Dumper=yaml.Dumper, **options):  # noqa: N803 (PyYAML's name)
        text = real_dump(document, stream, Dumper=Dumper, **options)
        dumped.append((document, text, real_dump(document, Dumper=on_pyyaml_emitter(Dumper), **options)))
        return text

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(yaml, "dump", recording_dump)
        render()
    assert dumped
    return dumped


@pytest.mark.parametrize("render", SHIPPED.values(), ids=SHIPPED.keys())
def test_a_shipped_document_is_the_text_pyyamls_own_emitter_writes(render):
    for _, libyaml_text, pyyaml_text in dumped_by(render):
        assert libyaml_text == pyyaml_text


@pytest.mark.parametrize("render", [*SHIPPED.values(), *FOLDED.values()], ids=[*SHIPPED, *FOLDED])
def test_every_document_reads_back_as_dumped_under_either_parser(render):
    for document, text, _ in dumped_by(render):
        read = yaml.load(text, Loader=yaml.SafeLoader)
        assert read == yaml.load(text, Loader=yaml.CSafeLoader)
        as_yaml_has_it = yaml.load(yaml.dump(document, Dumper=yaml.CSafeDumper), Loader=yaml.CSafeLoader)  # tuples are lists
        assert read == as_yaml_has_it


def test_the_emitters_fold_a_long_escaped_string_differently():
    """Why the text is libyaml's on every machine: PyYAML's emitter also breaks a double-quoted string
    after an escape, libyaml only at spaces; both read back the same."""
    document, options = {"awsProfile": "équipe-" + "é" * 100}, {"width": 120}
    libyaml_text = yaml.dump(document, Dumper=yaml.CSafeDumper, **options)
    pyyaml_text = yaml.dump(document, Dumper=yaml.SafeDumper, **options)
    assert libyaml_text != pyyaml_text and yaml.safe_load(libyaml_text) == yaml.safe_load(pyyaml_text) == document
