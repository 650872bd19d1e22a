"""The boto3 session of the deploy's own AWS calls (components/deploy_session.py) against moto's STS
and ECS, and a temporary AWS config: a profile-based deploy signs with the profile, an assumed-role
deploy with the last role of the chain (each hop assumed with the previous one's credentials, with its
external id), never with what boto3's default chain finds first. Integration tier: moto."""

from __future__ import annotations

import re

import pytest
from moto import mock_aws
from moto.sts.models import sts_backends

from components.deploy_session import deploy_session
from components.host_command import ssm_client_for
from components.one_off_task import ecs_client_for
from tests.unit.test_deploy_credentials import CHAIN

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
ENVIRONMENT_KEY = "AKIAENVIRONMENT00001"  # what the default chain would find first
PROFILE_KEY = "AKIAPROFILEDEPLOY0001"


@pytest.fixture
def aws(monkeypatch, tmp_path):
    """moto, with credentials in the environment and a profile in a temporary AWS config."""
    (tmp_path / "credentials").write_text(
        f"[llm-gateway-stg]\naws_access_key_id = {PROFILE_KEY}\naws_secret_access_key = profile-secret\n")
    (tmp_path / "config").write_text("[profile llm-gateway-stg]\nregion = us-west-2\n")
    with mock_aws():  # sets credentials of its own in the environment: ours go in after
        for key, value in {"AWS_ACCESS_KEY_ID": ENVIRONMENT_KEY, "AWS_SECRET_ACCESS_KEY": "environment-secret",
                           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
                           "AWS_CONFIG_FILE": str(tmp_path / "config")}.items():
            monkeypatch.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(key, raising=False)
        yield


def signing_key(client) -> str:
    """The access key id the client's next request is signed with (its SigV4 Authorization header)."""
    seen = []
    client.meta.events.register("before-send", lambda request, **_: seen.append(request.headers["Authorization"]))
    client.list_clusters() if client.meta.service_model.service_name == "ecs" else client.list_commands()
    return re.search(r"Credential=([A-Z0-9]+)/", seen[-1].decode() if isinstance(seen[-1], bytes) else seen[-1]).group(1)


def test_without_provider_config_the_default_chain_signs(aws):
    assert signing_key(ecs_client_for(REGION, {})) == ENVIRONMENT_KEY


def test_a_profile_based_deploy_signs_with_the_profile_in_the_stacks_region(aws):
    credentials = {"profile": "llm-gateway-stg", "assume_roles": []}
    assert signing_key(ecs_client_for(REGION, credentials)) == PROFILE_KEY
    assert signing_key(ssm_client_for(REGION, credentials)) == PROFILE_KEY
    assert deploy_session(REGION, credentials).region_name == REGION  # aws:region, not the profile's


def test_an_assumed_role_deploy_signs_as_the_last_role_of_the_chain(aws):
    credentials = {"profile": "llm-gateway-stg", **CHAIN.as_input()}
    key = signing_key(ecs_client_for(REGION, credentials))
    # moto keeps an assumed role in the account of its ARN.
    assumed = {role.access_key_id: role for account in ("111111111111", "123456789012")
               for role in sts_backends[account]["aws"].assumed_roles}
    first, last = CHAIN.assume_roles
    assert key in assumed and key not in (PROFILE_KEY, ENVIRONMENT_KEY)
    assert (assumed[key].role_arn, assumed[key].session_name, assumed[key].external_id) == (
        last.role_arn, "llm-gateway-deploy", "stg-7f3a")
    # The first hop was assumed too, with the profile's credentials, under its own session name.
    assert [(r.role_arn, r.session_name) for r in assumed.values()] == [
        (first.role_arn, "ci-hop"), (last.role_arn, "llm-gateway-deploy")]
    identity = deploy_session(REGION, credentials).client("sts").get_caller_identity()
    assert identity["Arn"].endswith("assumed-role/llm-gateway-deploy-stg/llm-gateway-deploy")


def test_the_assumed_credentials_are_refreshed_not_fixed(aws):
    session = deploy_session(REGION, CHAIN.as_input())
    credentials = session._session.get_credentials()  # botocore's: what every client of the session signs with
    assert credentials.method == "assume-role" and credentials.refresh_needed() is False
