"""One contract per service on all three platforms: the same environment names and the same secret
names on ECS (task definitions), on the EC2 host (its compose file and the secrets its boot fetches)
and on the local platform (its containers and jobs), read from what each registers under mocks.
Where the local platform differs, each difference is listed with its reason (services/local.py
`local_differences`, `STANDS_IN`, `left_out`), and nothing else differs."""

from __future__ import annotations

import json

import pytest

from renderers.compose_host.user_data import COMPOSE_FILE, SECRETS_PLAN
from services.local import STANDS_IN, left_out, local_differences
from tests.support.hosts import written_files
from tests.support.program import run_shipped
from tests.support.pulumi_mocks import ProgramRun, is_secret, unwrap
from tests.support.variants import STG_ECS, STG_EC2
from tests.support import yaml_docs

Contract = dict[str, tuple[frozenset[str], frozenset[str]]]  # service -> (plain names, secret names)
# Where ECS differs from the EC2 host: (service, variable) -> why.
ECS_ONLY = {
    ("litellm", "LLM_GATEWAY_TEAM_DOCUMENT_VERSION"): "a task definition revision pins the team document's version, "
    "so a rollback or a scale-out reads the document it was deployed with; the host recreates LiteLLM after each "
    "team change and reads the latest (services/specs.py `litellm`)",
}


def ecs(run: ProgramRun) -> Contract:
    found = {}
    for task in run.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        for container in json.loads(task.input("containerDefinitions")):
            found[container["name"]] = (frozenset(e["name"] for e in container["environment"]),
                                        frozenset(s["name"] for s in container["secrets"]))
    return found


def host(run: ProgramRun) -> Contract:
    (instance,) = [i for i in run.of_type("aws:ec2/instance:Instance") if i.name.startswith("gateway-host")]
    files = written_files(unwrap(instance.inputs["userData"]))
    compose = yaml_docs.load(files[COMPOSE_FILE]["content"])["services"]
    fetched = json.loads(files[SECRETS_PLAN]["content"])["env_files"]
    secrets = {path.rsplit("/", 1)[1].removesuffix(".env"): frozenset(e["env"] for e in entries)
               for path, entries in fetched.items()}
    return {name: (frozenset(service.get("environment") or {}), secrets.get(name, frozenset()))
            for name, service in compose.items()}


def by_secrecy(entries: dict[str, object]) -> tuple[frozenset[str], frozenset[str]]:
    """(plain names, secret names) of variables, each by whether its value reached the engine as a secret."""
    return (frozenset(name for name, value in entries.items() if not is_secret(value)),
            frozenset(name for name, value in entries.items() if is_secret(value)))


def local(run: ProgramRun) -> Contract:
    """Each variable plain or secret as the registration sent it (a secret value in a plain entry,
    or a secret entry sent plain, shows as a difference)."""
    found = {}
    for container in run.of_type("docker:index/container:Container"):
        labels = {label["label"]: label["value"] for label in container.input("labels")}
        found[labels["llm-gateway.service"]] = by_secrecy(
            {unwrap(entry).split("=", 1)[0]: entry for entry in container.as_sent("envs")})
    for job in run.of_type("pulumi-python:dynamic:Resource"):
        for step in job.as_sent("steps") or []:
            found[step["name"]] = by_secrecy({**step["environment"], **step["secrets"]})
    return found


@pytest.fixture(scope="module")
def platforms() -> dict[str, Contract]:
    return {"ecs": ecs(STG_ECS.run()), "ec2": host(STG_EC2.run()), "local": local(run_shipped("local"))}


def test_ecs_and_the_host_run_each_service_with_the_same_contract(platforms):
    both = set(platforms["ecs"]) & set(platforms["ec2"])
    assert both >= {"db-init", "litellm", "litellm-migrator", "langfuse-migrator", "langfuse-web", "langfuse-worker",
                    "team-plane-plan", "team-plane-apply", "team-plane-verify"}
    for name in both:
        (plain, secret), (host_plain, host_secret) = platforms["ecs"][name], platforms["ec2"][name]
        assert plain - host_plain == {variable for service, variable in ECS_ONLY if service == name}, name
        assert (host_plain - plain, secret) == (set(), host_secret), name


def test_the_local_platform_runs_each_service_with_the_same_contract_but_its_listed_differences(platforms):
    from tests.support.stacks import shipped_settings

    settings = shipped_settings("local")
    differences = local_differences(settings)
    # The host's containers (one machine, like the local platform's), and what runs on ECS alone.
    reference = {**platforms["ecs"], **platforms["ec2"]}
    assert set(platforms["local"]) - set(reference) == set(STANDS_IN)
    assert set(reference) - set(platforms["local"]) == set(left_out(settings))
    for service in set(reference) & set(platforms["local"]):
        (plain, secret), (local_plain, local_secret) = reference[service], platforms["local"][service]
        listed = [d for d in differences if service in d.services]
        added_plain = {name for d in listed for name in d.environment}
        added_secret = {name for d in listed for name in d.secrets}
        removed = {name for d in listed for name in d.removed}
        assert local_plain == (plain - removed) | added_plain, service
        assert local_secret == secret | added_secret, service
    # Every listed difference shows: it changes what it says, for a service that runs.
    for difference in differences:
        for service in difference.services:
            assert set(difference.environment) <= platforms["local"][service][0], (service, difference.why)
            assert set(difference.secrets) <= platforms["local"][service][1], (service, difference.why)
            assert not set(difference.removed) & platforms["local"][service][0], (service, difference.why)
