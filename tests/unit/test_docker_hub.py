"""Docker Hub pulls authenticated: settings, the pull secret, ECS repositoryCredentials, the hosts' login.

Docker Hub limits anonymous pulls per address, and Fargate tasks and the hosts all pull through
the NAT address; reference/images.py DOCKER_HUB_ONLY lists the images with no same-digest copy elsewhere.
"""

from __future__ import annotations

import json

import pytest

from config.loader import SettingsError
from renderers.compose_host.layout import DOCKER_HUB_AUTH_KEY
from renderers.compose_host.user_data import SECRETS_PLAN, UNIT_FILE
from tests.support.hosts import written_files
from tests.support.program import run_shipped
from tests.support.pulumi_mocks import is_secret, unwrap
from tests.support.settings import OPERATOR_SECRETS, make_settings
from tests.support.variants import EU_ECS, PROD_ECS, STG_EC2, STG_ECS

SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
CREDENTIALS = OPERATOR_SECRETS["prod"]["dockerHubCredentials"]
GHCR_LANGFUSE = {  # digests are only shapes here: the loader checks the registry, not the content
    "webImage": "ghcr.io/langfuse/langfuse:4.50.0@sha256:" + "1" * 64,
    "workerImage": "ghcr.io/langfuse/langfuse-worker:4.50.0@sha256:" + "2" * 64,
}


def problems(**kwargs) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        make_settings(**kwargs)
    return raised.value.problems


# --- settings ---------------------------------------------------------------------------------------

def test_prod_refuses_to_pull_docker_hub_images_anonymously():
    (problem,) = problems(stack="prod", secrets={"dockerHubCredentials": None})
    assert problem.startswith(
        "dockerHubCredentials is required in prod: docker.io/clickhouse/clickhouse-server:25.12, "
        "docker.io/langfuse/langfuse-worker:4.50.0, docker.io/langfuse/langfuse:4.50.0 come from Docker Hub"
    )
    assert "'Repo Public Read-only'" in problem
    assert "pulumi config set --secret --path dockerHubCredentials.username" in problem
    assert "pulumi config set --secret --path dockerHubCredentials.accessToken" in problem


def test_prod_needs_no_credentials_when_nothing_it_runs_is_on_docker_hub():
    """ECS prod with Langfuse from GHCR and an external ClickHouse: Valkey is ElastiCache there."""
    settings = make_settings(
        stack="prod", langfuse=GHCR_LANGFUSE, clickhouse={"externalUrl": "https://ch.example.com:8443"},
        secrets={"dockerHubCredentials": None, "clickhouseExternalPassword": "FAKE-password"},
    )
    assert settings.docker_hub_credentials is None
    # The same on the EC2 host still runs ClickHouse and Valkey from Docker Hub.
    (problem,) = problems(stack="prod", compute="ec2", langfuse=GHCR_LANGFUSE, secrets={"dockerHubCredentials": None})
    assert "docker.io/clickhouse/clickhouse-server:25.12, docker.io/valkey/valkey:8.1 come from Docker Hub" in problem


def test_stg_pulls_anonymously_unless_given_credentials():
    assert make_settings(stack="stg").docker_hub_credentials is None
    given = make_settings(stack="stg", secrets={"dockerHubCredentials": CREDENTIALS}).docker_hub_credentials
    assert given.username.reveal() == "gateway-pulls" and given.access_token.reveal() == "dckr_pat_FAKE-token"
    assert "FAKE" not in repr(given)


@pytest.mark.parametrize("value, expected", [
    ({"username": "gateway-pulls"}, ["dockerHubCredentials.accessToken is required, a non-empty string: create a "
                                     "Docker Hub personal access token"]),
    ({"username": "", "accessToken": 42}, ["dockerHubCredentials.username is required", "dockerHubCredentials.accessToken is required"]),
    ({**CREDENTIALS, "password": "FAKE-pw"}, ["dockerHubCredentials.password is not a known key"]),
    ("FAKE-text", ["dockerHubCredentials must be an object"]),  # the value is a secret: never echoed
])
def test_credentials_must_hold_a_username_and_an_access_token(value, expected):
    found = problems(stack="stg", secrets={"dockerHubCredentials": value})
    assert len(found) == len(expected)
    for problem, start in zip(found, expected, strict=True):
        assert problem.startswith(start)
    assert not any("FAKE" in p or "42" in p for p in found)


def test_credentials_in_plain_text_are_refused():
    with pytest.raises(SettingsError) as raised:
        make_settings(stack="stg", dockerHubCredentials=CREDENTIALS)
    assert raised.value.problems == [
        "dockerHubCredentials must be set with `pulumi config set --secret --path ...`, never in plain text"
    ]


# --- the secret and the ECS task definitions ---------------------------------------------------------

def docker_hub_secret(run):
    found = [s for s in run.of_type(SECRET) if s.input("namePrefix").endswith("/docker-hub-")]
    return found[0] if found else None


def test_the_pull_secret_holds_the_ecs_format_encrypted_and_protected():
    """Amazon ECS Developer Guide, "Private registry authentication for tasks": the secret is
    {"username": ..., "password": ...}."""
    run = PROD_ECS.run()  # with the credentials the README has an operator set
    secret = docker_hub_secret(run)
    assert secret.input("namePrefix") == "llm-gateway-prod/docker-hub-"
    assert secret.input("kmsKeyId") == run.of_type("aws:kms/key:Key")[0].outputs["arn"]
    (version,) = [v for v in run.of_type(SECRET_VERSION) if v.parent == secret.parent]
    assert is_secret(version.inputs["secretString"])
    assert json.loads(version.input("secretString")) == {"username": "gateway-pulls", "password": "dckr_pat_FAKE-token"}
    assert secret.protect and version.protect
    assert docker_hub_secret(STG_ECS.run()) is None  # no credentials, no secret


def container_definitions(run) -> list[dict]:
    return [definition for task in run.of_type(TASK_DEFINITION) for definition in json.loads(task.input("containerDefinitions"))]


@pytest.mark.parametrize("run", [
    pytest.param(lambda: run_shipped("prod"), id="shipped prod"),
    pytest.param(EU_ECS.run, id="stg with credentials, external ClickHouse"),
])
def test_every_docker_hub_container_pulls_with_the_secret_and_no_other(run):
    run = run()
    arn = docker_hub_secret(run).outputs["arn"]
    definitions = container_definitions(run)
    on_hub = {d["name"] for d in definitions if d["image"].startswith("docker.io/")}
    # clickhouse-ready runs only with a ClickHouse host of the stack's own
    assert on_hub >= {"langfuse-web", "langfuse-worker"} | ({"clickhouse-ready"} & {d["name"] for d in definitions})
    for definition in definitions:
        expected = {"credentialsParameter": arn} if definition["name"] in on_hub else None
        assert definition.get("repositoryCredentials") == expected, definition["name"]


def test_without_credentials_every_pull_stays_anonymous():
    definitions = container_definitions(STG_ECS.run())
    assert definitions and not any("repositoryCredentials" in d for d in definitions)


# --- the hosts ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("run", [
    pytest.param(lambda: run_shipped("prod"), id="prod clickhouse host"),
    pytest.param(STG_EC2.run, id="stg gateway host"),
])
def test_hosts_log_compose_in_to_docker_hub_with_the_secret(run):
    run = run()
    (instance,) = run.of_type("aws:ec2/instance:Instance")
    files = written_files(unwrap(instance.inputs["userData"]))
    plan = json.loads(files[SECRETS_PLAN]["content"])
    assert plan["docker_config"] == {
        "path": "/run/llm-gateway/docker/config.json",
        "auths": {DOCKER_HUB_AUTH_KEY: docker_hub_secret(run).outputs["arn"]},
    }
    assert "Environment=DOCKER_CONFIG=/run/llm-gateway/docker\n" in files[UNIT_FILE]["content"]
    assert "gateway-pulls" not in unwrap(instance.inputs["userData"])  # the ARN travels, never the value


def test_a_host_without_credentials_pulls_anonymously():
    (instance,) = run_shipped("stg").of_type("aws:ec2/instance:Instance")
    files = written_files(unwrap(instance.inputs["userData"]))
    assert "docker_config" not in json.loads(files[SECRETS_PLAN]["content"])
    assert "DOCKER_CONFIG" not in files[UNIT_FILE]["content"]

