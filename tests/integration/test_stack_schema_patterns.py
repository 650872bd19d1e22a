"""The stack file schema's patterns in the editor's regex engine. The YAML language server compiles
each with `new RegExp(pattern, "u")`, falls back to no flag, and ignores a pattern neither compiles
(yaml-language-server src/languageservice/utils/strings.ts, extendedRegExp, forked from
vscode-json-languageservice). Node runs that engine here: every pattern compiles with "u", and it
judges every value of the shipped stacks and of the unit tier's stacks, and each with a trailing
newline, as the loader does (re.fullmatch)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from config.stack_schema import stack_file_schema
from tests.support.settings import variant_documents
from tests.support.stacks import ROOT, SHIPPED_STACKS

pytestmark = pytest.mark.integration

JUDGE = """
const {patterns, cases} = JSON.parse(require("fs").readFileSync(0, "utf8"));
patterns.forEach((pattern) => new RegExp(pattern, "u"));  // throws on one the editors would ignore
process.stdout.write(JSON.stringify(cases.map(([pattern, value]) => new RegExp(pattern, "u").test(value))));
"""


def patterned(node: dict[str, Any], value: Any, definitions: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(pattern, string) for every string of `value` whose schema has a pattern."""
    if "$ref" in node:
        node = definitions[node["$ref"].rsplit("/", 1)[-1]]
    if isinstance(value, str) and "pattern" in node:
        yield node["pattern"], value
    if isinstance(value, dict):
        for key, child in value.items():
            inner = node.get("properties", {}).get(key, node.get("additionalProperties"))
            if isinstance(inner, dict):
                yield from patterned(inner, child, definitions)
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        for child in value:
            yield from patterned(node["items"], child, definitions)


def every_pattern(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        yield from ([node["pattern"]] if isinstance(node.get("pattern"), str) else [])
    for child in node.values() if isinstance(node, dict) else node if isinstance(node, list) else ():
        yield from every_pattern(child)


def test_editors_judge_every_value_as_the_loader_does():
    if shutil.which("node") is None:
        pytest.fail("node is not installed: the editors' regex engine is JavaScript's", pytrace=False)
    schema = stack_file_schema()
    documents = [yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()) for stack in SHIPPED_STACKS]
    documents += variant_documents().values()
    pairs = sorted({pair for document in documents for pair in patterned(schema, document, schema["definitions"])})
    cases = pairs + [(pattern, f"{value}\n") for pattern, value in pairs]
    assert len({pattern for pattern, _ in pairs}) >= 12
    patterns = [*every_pattern(schema), *schema["properties"]["config"]["patternProperties"]]  # `\-` would not compile
    judged = subprocess.run(["node", "-e", JUDGE], input=json.dumps({"patterns": patterns, "cases": cases}),
                            capture_output=True, text=True, check=True)
    assert json.loads(judged.stdout) == [re.fullmatch(pattern, value) is not None for pattern, value in cases]
