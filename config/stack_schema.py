"""The JSON Schema of `Pulumi.<stack>.yaml` and the README's settings tables, both made from the
models of config/settings.py: `make schema` writes them, tests/unit/test_stack_schema.py holds the
committed ones equal to these.

Draft-07: the YAML language server (and so VS Code's YAML extension) validates with draft-07 only
(redhat-developer/yaml-language-server#856). A stack file's `config` holds this program's keys
under its namespace (`llm-gateway:teams`), `aws:region`, and any other namespace's keys (a provider's
`aws:profile`); a secret is what `pulumi config set --secret` writes, `{secure: <ciphertext>}`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from config.defaults import GROUP_DEFAULTS, TOP_LEVEL_DEFAULTS
from reference.images import DEFAULT_IMAGES
from config.settings import NAMESPACE, Settings

SCHEMA_FILE = "schema/stack.schema.json"
README_START = "<!-- settings tables: written by `make schema` from config/settings.py -->"
README_END = "<!-- end of settings tables -->"


class _WithoutFieldTitles(GenerateJsonSchema):
    """A field's title would only repeat its key."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _settings_schema() -> dict[str, Any]:
    schema = Settings.model_json_schema(by_alias=True, ref_template="#/definitions/{model}",
                                        schema_generator=_WithoutFieldTitles)
    definitions = schema.setdefault("$defs", {})
    for node in [schema, *definitions.values()]:
        for prop in [node, *node.get("properties", {}).values()]:
            if prop.get("default", ...) is None:
                del prop["default"]  # absent is the default: null is no value a stack file can hold
            if "description" in prop:
                prop["description"] = " ".join(prop["description"].split())  # docstrings wrap their lines
    return schema


def _definition(schema: dict[str, Any], key: str) -> dict[str, Any]:
    return schema["$defs"][schema["properties"][key]["$ref"].rsplit("/", 1)[-1]]


def _defaults(per_environment: dict[str, dict[str, Any]], key: str) -> tuple[Any, Any]:
    return per_environment["stg"][key], per_environment["prod"][key]


def stack_file_schema(project: str = NAMESPACE) -> dict[str, Any]:
    schema = _settings_schema()
    for group in GROUP_DEFAULTS:  # every key of a group has a default per environment
        definition = _definition(schema, group)
        definition.pop("required", None)
        for key, prop in definition["properties"].items():
            _describe_defaults(prop, *_defaults(GROUP_DEFAULTS[group], key))
    for key in TOP_LEVEL_DEFAULTS["stg"]:
        _describe_defaults(schema["properties"][key], *_defaults(TOP_LEVEL_DEFAULTS, key))
    filled = {*GROUP_DEFAULTS, *TOP_LEVEL_DEFAULTS["stg"]}
    namespaced = {key: key if ":" in key else f"{project}:{key}" for key in schema["properties"]}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"Pulumi.<stack>.yaml of {project}",
        "description": "A stack's settings (README, Stack settings). Written by `make schema` from config/settings.py.",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": {namespaced[key]: prop for key, prop in schema["properties"].items()},
                "required": [namespaced[key] for key in schema["required"] if key not in filled],
                # Another namespace's keys are its own (`aws:profile`); this one's are all listed above. A
                # project name needs no escaping (names.STACK_NAME), and `\-` is no ECMAScript escape.
                "patternProperties": {f"^(?!{project}:)": True},
                "additionalProperties": False,
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
        },
        "definitions": schema["$defs"],
    }


def _describe_defaults(prop: dict[str, Any], stg: Any, prod: Any) -> None:
    text = f"Default: {_shown(stg)}." if stg == prod else f"Default: stg {_shown(stg)}, prod {_shown(prod)}."
    prop["description"] = f"{prop['description']} {text}" if "description" in prop else text


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if value in DEFAULT_IMAGES.values():
        return "see `reference/images.py`"
    return f"`{value if isinstance(value, str) else json.dumps(list(value) if isinstance(value, tuple) else value)}`"


def schema_text() -> str:
    return json.dumps(stack_file_schema(), indent=2, ensure_ascii=False) + "\n"


# --- the README's tables ---------------------------------------------------------------------------

def settings_tables() -> str:
    """The keys of a stack (with the keys of their entries) and the sizing groups, one row each."""
    schema = _settings_schema()
    definitions = schema["$defs"]
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key, prop in schema["properties"].items():
        if key in GROUP_DEFAULTS:
            continue
        default = (f"stg {_shown(TOP_LEVEL_DEFAULTS['stg'][key])}, prod {_shown(TOP_LEVEL_DEFAULTS['prod'][key])}"
                   if key in TOP_LEVEL_DEFAULTS["stg"] else _default(prop, key in schema["required"]))
        rows.append(_row(key, prop, definitions, default))
        rows += _entry_rows(key, prop, definitions)
    groups = ["| group.key | stg | prod | meaning |", "| --- | --- | --- | --- |"]
    for group in GROUP_DEFAULTS:
        for key, prop in _definition(schema, group)["properties"].items():
            stg, prod = _defaults(GROUP_DEFAULTS[group], key)
            groups.append(f"| `{group}.{key}` | {_shown(stg)} | {_shown(prod)} | {_meaning(prop)} |")
    return "\n".join([*rows, "", "Sizing groups (any key may be overridden; the rest keep their defaults):", "", *groups])


def _entry_rows(key: str, prop: dict[str, Any], definitions: dict[str, Any]) -> list[str]:
    """A row per key of the entries below `prop`, and of theirs (`teams[].members[].email`)."""
    entries, nested = _entries(prop, definitions)
    rows = []
    for sub, sub_prop in (nested or {}).get("properties", {}).items():
        path = f"{key}{entries}.{sub}"
        rows.append(_row(path, sub_prop, definitions, _default(sub_prop, sub in nested.get("required", ()))))
        rows += _entry_rows(path, sub_prop, definitions)
    return rows


def _entries(prop: dict[str, Any], definitions: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """How an entry's keys are written below `prop` (`[]`, `.<team>`, ``), and the entry's schema."""
    for where, inner in (("[]", prop.get("items")), (".<team>", prop.get("additionalProperties")), ("", prop)):
        if isinstance(inner, dict) and "$ref" in inner:
            return where, definitions[inner["$ref"].rsplit("/", 1)[-1]]
    return "", None


def _default(prop: dict[str, Any], required: bool) -> str:
    return "required" if required else _shown(prop.get("default"))


def _row(key: str, prop: dict[str, Any], definitions: dict[str, Any], default: str) -> str:
    return f"| `{key}` | {_type(prop, definitions)} | {default} | {_meaning(prop)} |"


def _meaning(prop: dict[str, Any]) -> str:
    return prop.get("description", "").replace("|", "\\|")


def _type(prop: dict[str, Any], definitions: dict[str, Any]) -> str:
    _, entry = _entries(prop, definitions)
    if _secret(prop, definitions):
        return "secret" if "secure" in prop.get("properties", {}) else "secret object"
    if "enum" in prop and len(prop["enum"]) <= 4:
        return " \\| ".join(f"`{choice}`" for choice in prop["enum"])
    if prop.get("type") == "array":
        return f"list of {'objects' if entry else _type(prop['items'], definitions) + 's'}"
    bounds = [f"{word} {prop[limit]}" for limit, word in (("minimum", ">="), ("maximum", "<=")) if limit in prop]
    return {"boolean": "bool", None: "object"}.get(prop.get("type"), prop.get("type", "")) + (
        f" ({', '.join(bounds)})" if bounds else "")


def _secret(prop: dict[str, Any], definitions: dict[str, Any]) -> bool:
    """Every value below it is `{secure: ...}`."""
    if "$ref" in prop:
        prop = definitions[prop["$ref"].rsplit("/", 1)[-1]]
    if "secure" in prop.get("properties", {}):
        return True
    children = [*prop.get("properties", {}).values(), *([prop["additionalProperties"]]
                                                        if isinstance(prop.get("additionalProperties"), dict) else [])]
    return bool(children) and all(_secret(child, definitions) for child in children)


def with_settings_tables(readme: str) -> str:
    """The README with its settings tables replaced by the ones the models make."""
    start, end = readme.index(README_START) + len(README_START), readme.index(README_END)
    return f"{readme[:start]}\n{settings_tables()}\n{readme[end:]}"
