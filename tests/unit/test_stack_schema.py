"""The stack file's JSON Schema and the README's settings tables: made from the settings models, kept
equal to them, and agreeing with the loader on what a stack file may hold."""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema
import pytest

from config.defaults import GROUP_DEFAULTS
from config.loader import SettingsError, load_settings
from config.stack_file import to_runtime
from config.stack_schema import SCHEMA_FILE, schema_text, settings_tables, stack_file_schema, with_settings_tables
from tests.support.settings import OPERATOR_SECRETS, variant_documents
from tests.support.stacks import ROOT, SHIPPED_STACKS
from tests.support import yaml_docs

MODELINE = "# yaml-language-server: $schema=./schema/stack.schema.json\n"
VALIDATOR = jsonschema.Draft7Validator(stack_file_schema())


def problems(document: dict[str, Any]) -> list[str]:
    return [f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in VALIDATOR.iter_errors(document)]


def test_the_committed_schema_is_what_the_models_make():
    assert (ROOT / SCHEMA_FILE).read_text() == schema_text(), "run `make schema`"


def test_the_readme_tables_are_what_the_models_make():
    readme = (ROOT / "README.md").read_text()
    assert readme == with_settings_tables(readme), "run `make schema`"


def test_the_schema_is_draft_07_as_the_yaml_language_server_reads_it():
    jsonschema.Draft7Validator.check_schema(stack_file_schema())


def test_every_key_of_the_schema_has_its_row_in_the_readme():
    schema = stack_file_schema()
    definitions = schema["definitions"]

    def keys(prop: dict[str, Any], prefix: str) -> list[str]:
        """Every key below `prop`, its entries' keys and theirs (`teams[].members[].email`)."""
        for inner, suffix in ((prop.get("items"), "[]"), (prop.get("additionalProperties"), ".<team>"), (prop, "")):
            if isinstance(inner, dict) and "$ref" in inner:
                definition = definitions[inner["$ref"].rsplit("/", 1)[-1]]
                return [found for key, sub in definition["properties"].items()
                        for found in (f"{prefix}{suffix}.{key}", *keys(sub, f"{prefix}{suffix}.{key}"))]
        return []
    expected = set()
    for key, prop in schema["properties"]["config"]["properties"].items():
        key = key.removeprefix("llm-gateway:")
        expected |= {*keys(prop, key), *((key,) if key not in GROUP_DEFAULTS else ())}  # a group's keys only
    rows = set(re.findall(r"^\| `([^`]+)` \|", settings_tables(), re.M))
    assert rows == expected


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_stack_files_name_the_schema_and_are_valid(stack):
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    assert text.startswith(MODELINE)
    assert problems(yaml_docs.load(text)) == []


@pytest.mark.parametrize("name, document", variant_documents().items())
def test_the_schema_accepts_every_stack_the_unit_tier_runs(name, document):
    assert problems(document) == []


SHIPPED_PROD = yaml_docs.load((ROOT / "Pulumi.prod.yaml").read_text())


def changed(path: str, value: Any = None, *, remove: bool = False) -> dict[str, Any]:
    """The shipped prod stack with the value at `path` (keys and list indexes split by '/') changed."""
    document = copy.deepcopy(SHIPPED_PROD)
    *parents, last = path.split("/")
    holder = document["config"]
    for part in parents:
        holder = holder[int(part)] if isinstance(holder, list) else holder.setdefault(part, {})
    if remove:
        del holder[last]
    else:
        holder[int(last) if isinstance(holder, list) else last] = value
    return document


REFUSED = [
    (changed("llm-gateway:domian", "llm.example.com"), "'llm-gateway:domian' does not match any of the regexes"),
    (changed("llm-gateway:teams/0/nmae", "mle"), "llm-gateway:teams.0: Additional properties are not allowed ('nmae'"),
    (changed("llm-gateway:database/instanceClas", "db.t4g.small"), "Additional properties are not allowed ('instanceClas'"),
    (changed("llm-gateway:compute", "k8s"), "llm-gateway:compute: 'k8s' is not one of ['ecs', 'ec2', 'local']"),
    (changed("llm-gateway:teams/1/name", "Home Rentals"), "llm-gateway:teams.1.name: 'Home Rentals' does not match"),
    (changed("llm-gateway:teams/1/name", "ml"), "llm-gateway:teams.1.name: 'ml' is too short"),
    (changed("llm-gateway:teams/1/name", "litellm-dashboard"), "llm-gateway:teams.1.name: 'litellm-dashboard' should not be"),
    (changed("llm-gateway:clickhouse", {"externalUrl": "https://abc.clickhouse.cloud:8443", "externalUser": "lf&ops"}),
     "llm-gateway:clickhouse.externalUser: 'lf&ops' does not match"),
    (changed("aws:profile", "two words"), "aws:profile: 'two words' does not match"),
    (changed("aws:assumeRoles", [{"roleArn": "arn:aws:iam::123456789012:role/x", "sesionName": "ci"}]),
     "aws:assumeRoles.0: Additional properties are not allowed ('sesionName'"),
    (changed("aws:assumeRoles", [{"sessionName": "ci"}]), "aws:assumeRoles.0: 'roleArn' is a required property"),
    (changed("llm-gateway:network/azCount", 7), "llm-gateway:network.azCount: 7 is greater than the maximum of 6"),
    (changed("llm-gateway:litellm/cpu", 300), "llm-gateway:litellm.cpu: 300 is not one of"),
    (changed("llm-gateway:protect", "yes"), "llm-gateway:protect: 'yes' is not of type 'boolean'"),
    (changed("llm-gateway:models", remove=True), "'llm-gateway:models' is a required property"),
    (changed("llm-gateway:models", []), "llm-gateway:models: [] should be non-empty"),
    (changed("aws:region", "us-gov-west-1"), "aws:region: 'us-gov-west-1' is not one of"),
    (changed("llm-gateway:clickhouseExternalPassword", "in-plain-text"), "'in-plain-text' is not of type 'object'"),
    (changed("llm-gateway:dockerHubCredentials", {"username": "gateway-pulls", "accessToken": "in-plain-text"}),
     "llm-gateway:dockerHubCredentials.accessToken: 'in-plain-text' is not of type 'object'"),
]


@pytest.mark.parametrize("document, expected", REFUSED, ids=[expected for _, expected in REFUSED])
def test_the_schema_and_the_loader_refuse_what_a_stack_may_not_hold(document, expected):
    assert any(problem.startswith(expected) or expected in problem for problem in problems(document)), problems(document)
    with pytest.raises(SettingsError):
        load_settings(*with_operator_secrets(document), stack="prod")


def with_operator_secrets(document: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    secrets = {f"llm-gateway:{key}": {k: {"secure": "v1:A"} for k in value}
               for key, value in OPERATOR_SECRETS["prod"].items()}
    return to_runtime({**secrets, **document["config"]})


@pytest.mark.parametrize("key, value", [
    ("aws:profile", "deployer"),  # the provider's own keys, and any other namespace's
    ("random:seed", "x"),
    ("llm-gateway:clickhouseExternalPassword", {"secure": "v1:AAAA"}),
])
def test_other_namespaces_and_encrypted_secrets_are_accepted(key, value):
    assert problems(changed(key, value)) == []


def test_a_secret_is_what_pulumi_config_set_secret_writes():
    password = stack_file_schema()["properties"]["config"]["properties"]["llm-gateway:clickhouseExternalPassword"]
    assert (password["properties"], password["required"]) == ({"secure": {"type": "string"}}, ["secure"])
