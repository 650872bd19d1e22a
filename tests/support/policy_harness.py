"""Drive the policy pack (policy/) as the Pulumi engine would, on resources the program registers.

No Pulumi CLI here, so the engine's side is played from recordings:

- `record(stack)` takes the program's run for a shipped stack under the recording mocks
  (`tests.support.program.run_shipped`), with each registration's per-property dependencies,
  which the engine hands to stack policies.
- A `Node` is one resource in the engine's wire form: inputs (what `Analyze` gets), outputs (what
  `AnalyzeStack` gets: the final state, with `id`), options, parent and dependencies. Secrets keep
  the engine's secret envelope; the SDK unwraps them, as for the real engine.
- `resource_args` / `stack_args` build the SDK's argument objects the way its analyzer servicer
  does (properties through protobuf `Struct`, the SDK's deserializer and unknown-checking proxy;
  parents and dependencies linked to the same `PolicyResource` objects).
- `first_preview` turns recorded nodes into what a first `pulumi preview` shows (computed values
  unknown), to show the pack judges the graph without ids and defers what it cannot see.
- `analyze` goes one step further: it feeds `Analyze`/`AnalyzeStack`/`Configure` protobuf requests
  to the SDK's own servicer (`pulumi_policy.policy._PolicyAnalyzerServicer`, private but pinned at
  1.21.0), exactly the calls the engine makes over gRPC, and returns its diagnostics.
"""

from __future__ import annotations

import base64
import copy
import functools
import gzip
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import yaml
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from tests.support.program import run_shipped
from tests.support.pulumi_mocks import unwrap
from tests.support import yaml_docs

PACK_NAME = "llm-gateway"


@dataclass(frozen=True)
class Node:
    """One resource as the engine presents it to an analyzer (wire form: secrets in envelopes)."""

    typ: str
    name: str
    urn: str
    inputs: dict
    outputs: dict
    protect: bool = False
    parent: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    custom: bool = True


def record(stack: str) -> list[Node]:
    """The program for a shipped stack (as run_shipped), as nodes."""
    run = run_shipped(stack)
    return [
        Node(
            typ=reg.typ, name=reg.name, urn=reg.urn, inputs=dict(reg.inputs),
            outputs={**reg.outputs, "id": reg.id} if reg.custom else dict(reg.outputs),
            protect=bool(reg.protect), parent=reg.parent or "", dependencies=tuple(reg.dependencies),
            property_dependencies={k: tuple(v) for k, v in reg.property_dependencies.items()},
            custom=reg.custom,
        )
        for reg in run.resources
    ]


# --- finding and changing nodes -------------------------------------------------------------------

def find(nodes: Iterable[Node], typ: str, name: str | None = None) -> Node:
    found = [n for n in nodes if n.typ == typ and (name is None or n.name == name)]
    assert found, f"no {typ} {name or ''} recorded"
    return found[0]


def of_type(nodes: Iterable[Node], typ: str) -> list[Node]:
    return [n for n in nodes if n.typ == typ]


def changed(node: Node, *, name: str | None = None, **props: Any) -> Node:
    """A copy with input AND output properties changed (None removes one); a new name gets a new URN."""
    def apply(values: dict) -> dict:
        result = copy.deepcopy(values)
        for key, value in props.items():
            if value is None:
                result.pop(key, None)
            else:
                result[key] = value
        return result

    node = replace(node, inputs=apply(node.inputs), outputs=apply(node.outputs))
    if name is not None:
        node = replace(node, name=name, urn=node.urn.rsplit("::", 1)[0] + "::" + name)
    return node


def swap(nodes: list[Node], old: Node, new: Node | None) -> list[Node]:
    """`nodes` with `old` replaced by `new` (or removed)."""
    return [new if n.urn == old.urn else n for n in nodes if n.urn != old.urn or new is not None]


def edit_json(node: Node, key: str, edit: Callable[[Any], Any]) -> Node:
    """Change a property the program passes as JSON text (container definitions, policies)."""
    document = json.loads(node.inputs[key])
    return changed(node, **{key: json.dumps(edit(document))})


def edit_user_data_file(user_data: str, path: str, edit: Callable[[str], str]) -> str:
    """Rewrite one write_files entry of a cloud-config, keeping its encoding (gz+b64 or plain)."""
    document = yaml_docs.load(user_data)
    for entry in document["write_files"]:
        if entry["path"] != path:
            continue
        if entry.get("encoding") == "gz+b64":
            text = gzip.decompress(base64.b64decode(entry["content"])).decode()
            entry["content"] = base64.b64encode(gzip.compress(edit(text).encode(), mtime=0)).decode()
        else:
            entry["content"] = edit(entry["content"])
        return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=1 << 16)
    raise AssertionError(f"user data writes no {path}")


def first_preview(nodes: Iterable[Node]) -> list[Node]:
    """The stack as a first `pulumi preview` shows it: nothing exists yet, so every value a provider
    computes (ids, ARNs, generated names, endpoints) is unknown, and so is every input or output
    string built from one (JSON policies, container definitions, user data)."""
    nodes = list(nodes)
    computed = set()
    for node in nodes:
        inputs, outputs = unwrap(node.inputs), unwrap(node.outputs)
        computed |= {v for k, v in outputs.items() if k not in inputs and isinstance(v, str) and len(v) >= 8}

    # One pattern for every computed value: a string built from any of them is unknown.
    holds_computed = re.compile(any_literal(computed)) if computed else None

    def blank(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: blank(v) for k, v in unwrap(value).items()}
        if isinstance(value, list):
            return [blank(v) for v in value]
        if isinstance(value, str) and holds_computed and holds_computed.search(value):
            return UNKNOWN_STRING_VALUE
        return value

    return [
        replace(node, inputs=blank(node.inputs), outputs={
            **blank(node.outputs),
            **{k: UNKNOWN_STRING_VALUE for k in unwrap(node.outputs) if k not in unwrap(node.inputs)},
        })
        for node in nodes
    ]


def any_literal(literals: Iterable[str]) -> str:
    """A pattern matching wherever one of `literals` occurs, as `a|b|...` does, with the literals
    merged by common prefix (a trie): `re` tries an alternation's branches one by one at every
    position, and 600 computed values, most starting `arn:aws:`, made that a third of a second a stack."""
    trie: dict = {}
    for literal in literals:
        node = trie
        for char in literal:
            node = node.setdefault(char, {})
        node[""] = {}  # a literal ends here: whatever follows, it has matched
    if not trie:
        return "(?!)"  # no literal: nowhere
    # Each node's pattern from its children's, deepest first (a literal may be longer than Python's
    # recursion allows).
    patterns: dict[int, str] = {}
    pending = [(trie, False)]
    while pending:
        node, children_done = pending.pop()
        if "" in node:
            patterns[id(node)] = ""
        elif not children_done:
            pending += [(node, True), *((child, False) for child in node.values())]
        else:
            branches = [re.escape(char) + patterns[id(child)] for char, child in sorted(node.items())]
            patterns[id(node)] = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    return patterns[id(trie)]


# --- the SDK's argument objects -------------------------------------------------------------------

# The tests analyze the same few hundred resources dozens of times: each conversion is kept by the
# JSON text of what it converts (a value changed in place is a new text). Its result is only read:
# a request copies a Struct, and the unknown-checking proxy copies every dict and list it wraps.

def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    return _struct_of(json.dumps(values))


@functools.lru_cache(maxsize=8192)
def _struct_of(text: str) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(json.loads(text), struct)
    return struct


def sdk_props(values: Mapping[str, Any]):
    """Properties as the SDK hands them to a policy: via Struct, deserialized, unknown-checking."""
    return unknown_checking_proxy(_deserialized(json.dumps(values)))


@functools.lru_cache(maxsize=8192)
def _deserialized(text: str) -> dict[str, Any]:
    return deserialize_properties(json_format.MessageToDict(_struct_of(text)))


def _options(node: Node) -> PolicyResourceOptions:
    return PolicyResourceOptions(node.protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], node.parent or None)


def resource_args(node: Node, config: Mapping[str, Any] | None = None) -> ResourceValidationArgs:
    return ResourceValidationArgs(node.typ, sdk_props(node.inputs), node.urn, node.name, _options(node), None,
                                  dict(config) if config else None)


def stack_args(nodes: Iterable[Node], config: Mapping[str, Any] | None = None) -> StackValidationArgs:
    nodes = list(nodes)
    resources = [PolicyResource(n.typ, sdk_props(n.outputs), n.urn, n.name, _options(n), None, None, [], {})
                 for n in nodes]
    by_urn = {res.urn: res for res in resources}
    for node, res in zip(nodes, resources, strict=True):
        res.parent = by_urn.get(node.parent)
        res.dependencies = [by_urn[d] for d in node.dependencies if d in by_urn]
        res.property_dependencies = {k: [by_urn[d] for d in v if d in by_urn] for k, v in node.property_dependencies.items()}
    return StackValidationArgs(resources, dict(config) if config else None)


def violations(policy, args) -> list[str]:
    """Messages a policy reports for these args (resource or stack validation)."""
    messages: list[str] = []
    policy.validate(args, lambda message, urn=None: messages.append(message))
    return messages


def stack_violations(policy, args) -> list[tuple[str | None, str]]:
    found: list[tuple[str | None, str]] = []
    policy.validate(args, lambda message, urn=None: found.append((urn, message)))
    return found


# --- the engine's calls, against the SDK's servicer -----------------------------------------------

@dataclass(frozen=True)
class Diagnostic:
    policy: str
    level: str  # "mandatory" | "advisory" | ...
    message: str
    urn: str


_LEVELS = {proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory", proto.REMEDIATE: "remediate",
           proto.DISABLED: "disabled"}


def servicer(policies: list, config: Mapping[str, Mapping[str, Any]] | None = None) -> _PolicyAnalyzerServicer:
    """The SDK's analyzer for `policies`, configured as the CLI would (`--policy-pack-config`)."""
    service = _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", policies, EnforcementLevel.ADVISORY)
    if config:
        service.Configure(proto.ConfigureAnalyzerRequest(policyConfig={
            name: proto.PolicyConfig(
                enforcementLevel=proto.MANDATORY if values.get("enforcementLevel") == "mandatory" else proto.ADVISORY,
                properties=_struct({k: v for k, v in values.items() if k != "enforcementLevel"}),
            )
            for name, values in config.items()
        }), None)
    return service


def _wire_options(node: Node):
    return proto.AnalyzerResourceOptions(protect=node.protect, parent=node.parent)


def analyze(nodes: Iterable[Node], policies: list, config: Mapping[str, Mapping[str, Any]] | None = None) -> list[Diagnostic]:
    """Every diagnostic of a preview/up: Analyze per resource (inputs), then AnalyzeStack (outputs)."""
    nodes = list(nodes)
    service = servicer(policies, config)
    responses = [
        service.Analyze(proto.AnalyzeRequest(type=n.typ, properties=_struct(n.inputs), urn=n.urn, name=n.name,
                                             options=_wire_options(n)), None)
        for n in nodes
    ]
    responses.append(service.AnalyzeStack(proto.AnalyzeStackRequest(resources=[
        proto.AnalyzerResource(
            type=n.typ, properties=_struct(n.outputs), urn=n.urn, name=n.name, options=_wire_options(n),
            parent=n.parent, dependencies=list(n.dependencies),
            propertyDependencies={k: proto.AnalyzerPropertyDependencies(urns=list(v))
                                  for k, v in n.property_dependencies.items()},
        )
        for n in nodes
    ]), None))
    return [
        Diagnostic(d.policyName, _LEVELS[d.enforcementLevel], d.message, d.urn)
        for response in responses for d in response.diagnostics
    ]
