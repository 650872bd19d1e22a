"""The local stack (compute: local) under mocks: the shipped `Pulumi.local.yaml` (the stand-in models)
and LOCAL_BEDROCK (a named AWS profile, a team with existing keys). No AWS resource or call; every
port on 127.0.0.1; images by digest; one-off jobs in order, failing the deploy when a step fails;
secrets only as secret values; a bad local config refused with its key path."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess

import pulumi_docker as docker
import pytest

from components.docker_job import DockerJobError, DockerJobProvider
from config.loader import SettingsError, load_settings
from reference.images import parse_image, registry_problem
from renderers.docker import LOOPBACK, healthcheck
from services.specs import HealthCheck
from team_plane.key_source import MAX_VARIABLE_BYTES
from tests.support.fake_docker import Behaviour, FakeDocker
from tests.support.program import run_shipped
from tests.support.pulumi_mocks import ProgramRun, Registration, plain_strings, unwrap
from tests.support.settings import runtime_with_secrets, settings_config
from tests.support.stacks import ROOT
from tests.support.variants import LOCAL_BEDROCK
from tests.support import yaml_docs

PINNED = re.compile(r"^(?P<name>[^@\s]+)@sha256:[0-9a-f]{64}$")
CONTAINER = "docker:index/container:Container"
DYNAMIC = "pulumi-python:dynamic:Resource"
STACKS = {"shipped": lambda: run_shipped("local"), "bedrock": LOCAL_BEDROCK.run}


@pytest.fixture(scope="module", params=sorted(STACKS))
def local(request) -> ProgramRun:
    return STACKS[request.param]()


def containers(run: ProgramRun) -> dict[str, Registration]:
    return {r.name.removeprefix("local-"): r for r in run.of_type(CONTAINER)}


def jobs(run: ProgramRun) -> dict[str, Registration]:
    return {r.input("job"): r for r in run.of_type(DYNAMIC) if r.input("container_prefix")}


def by_urn(run: ProgramRun) -> dict[str, Registration]:
    return {r.urn: r for r in run.resources}


def engine_props(registration: Registration) -> dict:
    """A dynamic resource's inputs as the engine hands them to its provider (secrets unwrapped)."""
    return {key: registration.input(key) for key in registration.inputs}


def waits_for(run: ProgramRun, registration: Registration) -> set[str]:
    """The containers and jobs it is created after (their service or job names)."""
    urns = by_urn(run)
    names = {r.urn: name for name, r in containers(run).items()} | {r.urn: name for name, r in jobs(run).items()}
    return {names[urn] for urn in registration.dependencies if urn in names and urns[urn] is not registration}


def test_no_aws_resource_no_aws_call(local):
    assert not [r.typ for r in local.resources if r.typ.startswith(("aws:", "pulumi:providers:aws"))]
    assert not [c.token for c in local.mocks.calls]  # no invoke at all: neither AWS nor Docker lookups


def test_every_published_port_is_on_loopback_and_only_what_the_user_reaches(local):
    published = {}
    for name, container in containers(local).items():
        for port in container.input("ports") or []:
            assert port["ip"] == LOOPBACK, (name, port)
            published[name] = (port["internal"], port["external"])
    litellm = 14000 if local is LOCAL_BEDROCK.run() else 4000
    assert published == {"litellm": (4000, litellm), "langfuse-web": (3000, 3000), "objects": (8333, 9090)}
    assert local.outputs["litellmUrl"] == f"http://127.0.0.1:{litellm}"
    assert local.outputs["langfuseUrl"] == "http://127.0.0.1:3000"


def test_every_image_runs_by_digest_from_an_allowed_registry(local):
    images = {name: c.input("image") for name, c in containers(local).items()}
    images |= {f"{job}/{step['name']}": step["image"] for job, r in jobs(local).items() for step in r.input("steps")}
    for where, image in images.items():
        match = PINNED.match(image)
        assert match, (where, image)
        assert registry_problem(parse_image(f"{match['name']}:pinned")) is None, (where, image)
    assert set(images.values()) == set(local.outputs["resolvedImages"].values())


def test_one_offs_run_as_jobs_in_the_order_their_dependants_need(local):
    # stg's defaults: smokeTest on.
    assert set(jobs(local)) == {"db-init", "litellm-migrator", "langfuse-migrator", "team-plane-store", "team-plane",
                                "team-plane-smoke"}
    expected = {
        "db-init": {"postgres"},
        "litellm-migrator": {"db-init"},
        "langfuse-migrator": {"db-init", "clickhouse"},
        "team-plane-store": {"objects"},
        "litellm": {"db-init", "litellm-migrator", "team-plane-store"},
        "langfuse-web": {"langfuse-migrator", "clickhouse", "redis", "objects"},
        "langfuse-worker": {"langfuse-migrator", "redis", "objects"},
        "team-plane": {"litellm", "langfuse-web"},
        "team-plane-smoke": {"team-plane"},
    }
    registered = {**containers(local), **jobs(local)}
    assert {name: waits_for(local, registered[name]) for name in expected} == expected
    assert [step["name"] for step in jobs(local)["team-plane"].input("steps")] == [
        "team-plane-plan", "team-plane-apply", "team-plane-verify"]


def test_the_registered_jobs_run_with_a_fake_docker_and_a_failed_step_fails_the_deploy(local):
    """What the engine hands the provider (the registered inputs), run step by step."""
    docker = FakeDocker(behaviours={"team-plane-plan": Behaviour(writes={"/work/langfuse.sql": "BEGIN; COMMIT;"})})
    provider = DockerJobProvider(docker=docker, environ=lambda: {"PATH": "/usr/bin"})
    for job in ("db-init", "litellm-migrator", "langfuse-migrator", "team-plane-store", "team-plane", "team-plane-smoke"):
        provider.create(engine_props(jobs(local)[job]))
    ran = {c.step: c for c in docker.history}
    assert ran["team-plane-apply"].seen == {"/work/langfuse.sql": "BEGIN; COMMIT;"}  # one scratch volume
    assert ran["db-init"].network == "llm-gateway-local"
    assert ran["db-init"].env["PGHOST"] == "postgres" and ran["db-init"].env["PGSSLMODE"] == "require"
    document = json.loads(ran["team-plane-store"].files["/seed/desired.json"])
    assert document == json.loads(local.outputs["teamPlaneDocument"])

    failing = FakeDocker(behaviours={"db-init": Behaviour(exit_code=1, log="psql: could not connect\n")})
    with pytest.raises(DockerJobError, match=r"(?s)local job db-init, step db-init .* exited with code 1.*could not connect"):
        DockerJobProvider(docker=failing, environ=lambda: {"PATH": "/usr/bin"}).create(
            engine_props(jobs(local)["db-init"]))


def test_dependants_wait_for_health_as_long_as_docker_takes_and_a_changed_check_replaces(local):
    for name, container in containers(local).items():
        check = container.input("healthcheck")
        assert check, name  # every service has one: its dependants wait on it
        seconds = {key: int(check[key].removesuffix("s")) for key in ("interval", "timeout", "startPeriod")}
        assert container.input("wait") is True
        assert container.input("waitTimeout") == seconds["startPeriod"] + check["retries"] * (
            seconds["interval"] + seconds["timeout"])
        labels = {label["label"]: label["value"] for label in container.input("labels")}
        rendered = healthcheck(HealthCheck(tuple(check["tests"][1:]), seconds["interval"], seconds["timeout"],
                                           int(check["retries"]), seconds["startPeriod"]))
        assert labels["llm-gateway.healthcheck-sha256"] == rendered.digest, name


def test_litellm_restarts_on_a_new_document_and_the_team_plane_runs_again(local):
    digest = hashlib.sha256(local.outputs["teamPlaneDocument"].encode()).hexdigest()
    labels = {label["label"]: label["value"] for label in containers(local)["litellm"].input("labels")}
    assert labels["llm-gateway.team-document-sha256"] == digest
    assert jobs(local)["team-plane"].input("trigger") == jobs(local)["team-plane-smoke"].input("trigger") == digest


def test_secrets_reach_containers_as_secret_values_only(local):
    generated = set(local.mocks.generated_secrets)
    for registration in local.resources:
        leaked = [s for s in plain_strings(registration.inputs) if any(secret in s for secret in generated)]
        assert not leaked, registration.name
    for name in local.outputs:
        if name not in local.secret_outputs:
            assert not any(secret in json.dumps(unwrap(local.outputs[name])) for secret in generated), name
    assert local.secret_outputs == {"masterKey", "litellmUiPassword", "langfuseAdminPassword", "teamLitellmKeys"}
    assert "--show-secrets masterKey" in local.outputs["readSecrets"]


def test_data_volumes_are_named_after_the_stack(local):
    volumes = {r.input("name") for r in local.of_type("docker:index/volume:Volume")}
    assert volumes == {f"llm-gateway-local-{v}" for v in
                       ("postgres-data", "objects-data", "clickhouse-data", "clickhouse-logs", "redis-data")}


def test_without_a_profile_every_model_is_the_stand_in_and_with_one_bedrock_through_it():
    def models(run):
        config = containers(run)["litellm"].input("envs")
        text = next(e for e in config if e.startswith("LITELLM_PROXY_CONFIG=")).removeprefix("LITELLM_PROXY_CONFIG=")
        return [entry["litellm_params"] for entry in yaml_docs.load(text)["model_list"]]

    assert all("mock_response" in params and "aws_profile_name" not in params for params in models(run_shipped("local")))
    bedrock = models(LOCAL_BEDROCK.run())
    assert all(params["aws_profile_name"] == "gateway-dev" and "mock_response" not in params for params in bedrock)
    binds = [v for v in containers(LOCAL_BEDROCK.run())["litellm"].input("volumes") if v.get("hostPath")]
    assert [(b["containerPath"], b["readOnly"]) for b in binds] == [("/root/.aws", True)]
    assert not [v for v in containers(run_shipped("local"))["litellm"].input("volumes") or [] if v.get("hostPath")]


LOCAL = {"compute": "local", "environment": "stg", "domain": None, "allowedCidrs": None}


@pytest.mark.parametrize("overrides, expected", [
    ({"local": {"litellmPort": 70000}}, "local.litellmPort 70000 must be <= 65535"),
    ({"local": {"langfusePort": 4000}}, "local.litellmPort 4000 is local.langfusePort too (each service needs its own port)"),
    ({"domain": "llm.example.com"}, "domain applies to compute ecs and ec2 only: the load balancer answers on it"),
    ({"allowedCidrs": ["10.0.0.0/8"]}, "allowedCidrs applies to compute ecs and ec2 only: they gate the load balancer"),
    ({"aws:profile": "deploy"}, "aws:profile applies to compute ecs and ec2 only"),
    ({"region": None, "local": {"awsProfile": "dev"}},
     "models[0].region is required with local.awsProfile (or set aws:region, every model's default)"),
    ({"local": {"awsProfile": "has space"}}, "local.awsProfile 'has space' must match"),
    ({"local": {"awsConfigDir": "aws"}}, "local.awsConfigDir 'aws' must be an absolute path or start with ~/"),
])
def test_a_bad_local_config_is_refused_with_its_key_path(overrides, expected):
    config = settings_config(stack="local", **{**LOCAL, **overrides})
    with pytest.raises(SettingsError) as raised:
        load_settings(*runtime_with_secrets(config, None, "local"), stack="local")
    assert any(problem.startswith(expected) for problem in raised.value.problems), raised.value.problems


def test_a_local_stack_needs_no_region_nor_allowed_ranges_and_the_aws_ones_still_do():
    config = settings_config(stack="local", region=None, **LOCAL)
    assert load_settings(*runtime_with_secrets(config, None, "local"), stack="local").region is None
    # With prod's defaults too: Docker Hub credentials are the AWS platforms' (refused here, never required).
    prod = settings_config(stack="local", region=None, **{**LOCAL, "environment": "prod"})
    assert load_settings(*runtime_with_secrets(prod, {"dockerHubCredentials": None}, "local"), stack="local").protect
    aws = settings_config(compute="ecs", allowedCidrs=None, region=None)
    with pytest.raises(SettingsError) as raised:
        load_settings(*runtime_with_secrets(aws, None), stack="stg")
    assert {"aws:region is required (pulumi config set aws:region <region>)", "allowedCidrs is required"} <= set(
        raised.value.problems)


def test_the_mocks_refuse_a_relative_host_directory_as_the_provider_does():
    from tests.support.pulumi_mocks import run_pulumi

    def build():
        docker.Container("aws", name="aws", image=f"ghcr.io/x/y@sha256:{'a' * 64}",
                         volumes=[docker.ContainerVolumeArgs(host_path=".aws", container_path="/root/.aws")])

    with pytest.raises(Exception, match="host_path '.aws' must be an absolute path"):
        run_pulumi(build)


def test_every_teams_keys_fit_in_one_environment_string_at_200_teams():
    teams = [{"name": f"{'t' * 27}{i:03d}"} for i in range(200)]  # 30 characters, near the longest name
    run = LOCAL_BEDROCK.but(teams=[*LOCAL_BEDROCK.teams, *teams[2:]]).run()
    (litellm,) = [e for e in containers(run)["litellm"].input("envs") if e.startswith("LLM_GATEWAY_KEYS=")]
    plan = next(step for step in jobs(run)["team-plane"].input("steps") if step["name"] == "team-plane-plan")
    every = "LLM_GATEWAY_KEYS=" + plan["secrets"]["LLM_GATEWAY_KEYS"]
    litellm_keys = sum(len(team.get("keys", ())) for team in LOCAL_BEDROCK.teams)
    # LiteLLM's start: the teams' Langfuse pairs and the platform's; the team plane's steps: the LiteLLM keys too.
    assert len(json.loads(litellm.removeprefix("LLM_GATEWAY_KEYS="))) == 201
    assert len(json.loads(every.removeprefix("LLM_GATEWAY_KEYS="))) == 201 + litellm_keys
    assert len(every.encode()) < MAX_VARIABLE_BYTES / 2


def test_a_protected_local_stack_retains_a_removed_teams_keys_as_on_aws():
    """As tests/unit/test_foundation.py shows on AWS: removing a team removes nothing protected (Pulumi
    would stop there, after the team plane already deleted the team) and keeps what its keys were
    generated from (its Langfuse pair, its LiteLLM key), retained in the state's stead."""
    protected = LOCAL_BEDROCK.but(protect=True)
    assert [team["name"] for team in protected.with_teams(1).teams] == ["home-rentals"]
    before, after = protected.run(), protected.with_teams(1).run()
    kept = {r.urn for r in after.resources}
    removed = [r for r in before.resources if r.urn not in kept]

    assert [r.name for r in removed if r.protect] == []
    generated = {r.name: r for r in removed if r.custom}
    assert set(generated) == {"langfuse-keys-team-mle-public", "langfuse-keys-team-mle-secret",
                              "litellm-keys-team-mle.batch-value"}
    assert all(r.retain_on_delete for r in generated.values())
    # What the team's removal does not touch stays protected.
    assert all(v.protect for v in before.of_type("docker:index/volume:Volume"))


def test_the_shipped_local_stack_file_holds_no_ones_passphrase_salt():
    """`pulumi stack init local` with the passphrase provider writes its salt into Pulumi.local.yaml;
    committed, everyone else's init fails on it (`incorrect passphrase`, pulumi/pulumi#17759). README
    "The local stack" says to leave it uncommitted: what git would commit is checked (the index),
    not the working copy, where a contributor's own salt belongs."""
    staged = subprocess.run(["git", "-C", str(ROOT), "show", ":Pulumi.local.yaml"], capture_output=True, text=True)
    text = staged.stdout if staged.returncode == 0 else (ROOT / "Pulumi.local.yaml").read_text()  # not a checkout
    assert not {"encryptionsalt", "encryptedkey", "secretsprovider"} & set(yaml_docs.load(text))
