"""Images without deploy-time lookups, from registries without Docker Hub's anonymous limits.

The AWS stacks' preview and up need AWS credentials and the Pulumi CLI only: no Docker daemon, no
registry lookup (pulumi-docker's provider pings the local daemon before any call,
pulumi/pulumi-docker#1106). Only the local platform (compute: local), which runs on a Docker daemon
by design, loads pulumi-docker. Every image the program renders, on ECS, in the hosts' compose files
and on the local platform, runs by digest from a registry that reference/images.py REGISTRIES allows.
"""

from __future__ import annotations

import ast
import json
import re

import pytest

from reference.images import DEFAULT_IMAGES, DOCKER_HUB_ONLY, REGISTRIES, parse_image, registry_problem
from config.loader import SettingsError, load_settings
from renderers.compose_host.user_data import COMPOSE_FILE
from tests.support.hosts import written_files
from tests.support.program import run_shipped
from tests.support.pulumi_mocks import unwrap
from tests.support.settings import runtime_with_secrets, settings_config
from tests.support.stacks import ROOT
from tests.support.variants import AWS_VARIANTS, EU_ECS
from tests.support.workflows import WORKFLOWS_DIR, load_workflow, steps
from tests.support import yaml_docs

PINNED = re.compile(r"^(?P<name>[^@\s]+)@sha256:[0-9a-f]{64}$")
STACKS = ("stg", "prod")
# What the deploying machine runs: the program and its own modules (not tests, scripts or tooling).
PROGRAM_DIRS = ("components", "config", "program", "reference", "renderers", "services")
# The local platform's modules: the only ones that may import pulumi_docker.
DOCKER_MODULES = {"components/local_platform.py"}


@pytest.fixture(scope="module", params=STACKS)
def shipped(request):
    return run_shipped(request.param)


def problems_of(**overrides) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        load_settings(*runtime_with_secrets(settings_config(**overrides), None), stack="stg")
    return raised.value.problems


def rendered_images(run) -> dict[str, str]:
    """Where -> image, for every ECS container and every service of every host's compose file."""
    found = {}
    for task in run.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        for definition in json.loads(task.input("containerDefinitions")):
            found[f"ecs {definition['name']}"] = definition["image"]
    for instance in run.of_type("aws:ec2/instance:Instance"):
        compose = yaml_docs.load(written_files(unwrap(instance.inputs["userData"]))[COMPOSE_FILE]["content"])
        for service, spec in compose["services"].items():
            found[f"{instance.name} {service}"] = spec["image"]
    return found


# --- finding 3: no Docker daemon, no registry lookup at deploy time -------------------------------

def assert_no_docker(run) -> None:
    assert not [call.token for call in run.mocks.calls if call.token.startswith("docker:")]
    assert not [r.typ for r in run.resources if r.typ.startswith(("docker:", "pulumi:providers:docker"))]


def test_the_program_invokes_nothing_of_docker_and_registers_no_docker_provider(shipped):
    assert_no_docker(shipped)


@pytest.mark.parametrize("variant", sorted(AWS_VARIANTS))
def test_no_aws_variant_registers_anything_of_docker(variant):
    assert_no_docker(AWS_VARIANTS[variant].run())


def _imports(tree: ast.AST, top_level_only: bool) -> set[str]:
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _module(path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def test_only_the_local_platform_imports_pulumi_docker_and_only_a_local_stack_loads_it():
    modules = {_module(path): path for d in PROGRAM_DIRS for path in sorted((ROOT / d).rglob("*.py"))}
    trees = {name: ast.parse(path.read_text()) for name, path in modules.items()}
    importing = {str(modules[name].relative_to(ROOT)) for name, tree in trees.items()
                 if any(i.split(".")[0] == "pulumi_docker" for i in _imports(tree, top_level_only=False))}
    assert importing == DOCKER_MODULES
    # What an AWS stack loads: __main__.py's module-level imports, and theirs in turn.
    main = ast.parse((ROOT / "__main__.py").read_text())
    loaded, frontier = set(), [i for i in _imports(main, top_level_only=True) if i in modules]
    while frontier:
        name = frontier.pop()
        if name not in loaded:
            loaded.add(name)
            frontier += [i for i in _imports(trees[name], top_level_only=True) if i in modules]
    assert "program.local" not in loaded  # imported in the `compute == LOCAL` branch alone
    assert not [name for name in loaded if str(modules[name].relative_to(ROOT)) in DOCKER_MODULES]
    # The release whose bridged provider (terraform-provider-docker v4.5.0) was read (components/local_platform.py).
    assert re.search(r"^pulumi-docker==5\.1\.0$", (ROOT / "requirements.txt").read_text(), re.M)


def test_what_runs_is_exactly_the_pin(shipped):
    resolved = shipped.outputs["resolvedImages"]
    assert resolved == {reference: parse_image(reference).pinned for reference in resolved}
    assert set(rendered_images(shipped).values()) <= set(resolved.values())


def test_a_pinned_override_runs_by_its_own_digest():
    image = parse_image(DEFAULT_IMAGES["litellm"])
    override = f"{image.tagged}@sha256:{'1' * 64}"
    assert EU_ECS.config["litellm"] == {"image": override}
    run = EU_ECS.run()
    images = rendered_images(run)
    assert images["ecs litellm"] == images["ecs litellm-migrator"] == parse_image(override).pinned


@pytest.mark.parametrize("key, group", [("image", "litellm"), ("webImage", "langfuse"), ("image", "clickhouse")])
def test_a_tag_only_override_is_refused_with_how_to_read_its_digest(key, group):
    tagged = parse_image(DEFAULT_IMAGES[{"litellm": "litellm", "langfuse": "langfuse-web"}.get(group, group)]).tagged
    problems = problems_of(**{group: {key: tagged}})
    assert (f"{group}.{key} '{tagged}' must carry its digest (name:tag@sha256:<64 hex>): read it where the registry "
            f"is reachable with `scripts/pin_images.py --resolve {tagged}` or `docker buildx imagetools inspect {tagged}`"
            ) in problems


# --- finding 4: registries without anonymous pull limits ------------------------------------------

def test_every_rendered_image_is_pinned_and_from_an_allowed_registry(shipped):
    images = rendered_images(shipped)
    assert images
    for where, image in images.items():
        match = PINNED.match(image)
        assert match, (where, image)
        assert registry_problem(parse_image(f"{match['name']}:pinned")) is None, (where, image)


def test_docker_hub_serves_only_the_listed_exceptions():
    hub = {parse_image(r).repository for r in DEFAULT_IMAGES.values() if parse_image(r).registry == "docker.io"}
    assert hub == set(DOCKER_HUB_ONLY)  # an exception no default needs any more is dropped
    assert "library/postgres" not in hub  # Docker's official images are on ECR Public, same bytes


@pytest.mark.parametrize("reference, problem", [
    (f"docker.io/library/postgres:17-alpine@sha256:{'a' * 64}", "is on Docker Hub"),
    (f"postgres:17-alpine@sha256:{'a' * 64}", "is on Docker Hub"),
    (f"quay.io/team/app:1@sha256:{'a' * 64}", "must come from one of the registries"),
    (f"public.ecr.aws/docker/library/postgres:17-alpine@sha256:{'a' * 64}", None),
    (f"ghcr.io/berriai/litellm-database:v1.104.0@sha256:{'a' * 64}", None),
    (f"valkey/valkey:8.1@sha256:{'a' * 64}", None),
])
def test_registry_policy(reference, problem):
    found = registry_problem(parse_image(reference))
    assert (found is None) if problem is None else (problem in found)


def test_an_override_from_a_registry_outside_the_policy_is_refused():
    reference = f"quay.io/team/clickhouse:25.12@sha256:{'a' * 64}"
    problems = problems_of(clickhouse={"image": reference})
    assert any(p.startswith(f"clickhouse.image '{reference}' must come from one of the registries "
                            f"{', '.join(REGISTRIES)}") for p in problems)


# --- the drift check runs where registries are reachable ------------------------------------------

def test_a_weekly_and_manual_workflow_runs_the_drift_check():
    workflow = load_workflow(WORKFLOWS_DIR / "image-drift.yml")
    assert set(workflow.triggers) == {"schedule", "workflow_dispatch"}
    assert [entry["cron"] for entry in workflow.triggers["schedule"]]
    (job,) = workflow.jobs.values()
    assert workflow.doc["permissions"] == {} and job["permissions"] == {"contents": "read"}
    assert [step["run"] for step in steps(job) if "run" in step] == ["make check-images"]
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^check-images:.*\n\t(?P<recipe>.+)$", makefile, re.M)
    assert target and "scripts/pin_images.py --check" in target["recipe"] and "--annotate" in target["recipe"]
