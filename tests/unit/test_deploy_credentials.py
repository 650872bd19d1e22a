"""The deploy's own AWS calls sign as the stack's AWS provider does: the loader reads the provider's
config (pulumi-aws 7: aws:profile, aws:assumeRoles) into Settings, and every dynamic resource that calls
AWS (one-off tasks, host commands) carries it in its inputs, never a secret. The session built from it
runs against moto in tests/integration/test_deploy_session.py."""

from __future__ import annotations

import pytest

from config.deploy_credentials import AssumedRole, DeployCredentials, assume_role_request
from config.loader import SettingsError
from tests.support.pulumi_mocks import is_secret
from tests.support.settings import make_settings
from tests.support.variants import DEPLOY_PROFILE, DEPLOY_ROLES, STG_EC2, STG_ECS

CHAIN = DeployCredentials(assume_roles=(
    AssumedRole("arn:aws:iam::111111111111:role/org-deployer", session_name="ci-hop"),
    AssumedRole("arn:aws:iam::123456789012:role/llm-gateway-deploy-stg", external_id="stg-7f3a"),
))


def test_the_provider_config_becomes_settings():
    assert make_settings().deploy_credentials == DeployCredentials()  # boto3's default chain, as the provider's
    assert STG_ECS.settings().deploy_credentials == CHAIN
    assert STG_EC2.settings().deploy_credentials == DeployCredentials(profile=DEPLOY_PROFILE)


def test_every_role_parameter_reaches_sts():
    role = {"roleArn": "arn:aws:iam::123456789012:role/deployer", "sessionName": "ci", "externalId": "x-1",
            "sourceIdentity": "alice", "policy": '{"Version":"2012-10-17","Statement":[]}',
            "policyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"], "tags": {"team": "platform"},
            "transitiveTagKeys": ["team"]}
    (parsed,) = make_settings(**{"aws:assumeRoles": [role]}).deploy_credentials.as_input()["assume_roles"]
    assert assume_role_request(parsed) == {
        "RoleArn": role["roleArn"], "RoleSessionName": "ci", "ExternalId": "x-1", "SourceIdentity": "alice",
        "Policy": role["policy"], "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
        "Tags": [{"Key": "team", "Value": "platform"}], "TransitiveTagKeys": ["team"],
    }


@pytest.mark.parametrize(("config", "problem"), [
    ({"aws:accessKey": "AKIAEXAMPLE"}, "aws:accessKey is not carried into the deploy's own AWS calls (one-off jobs, "
     "host commands): use a named profile (aws:profile) or the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"),
    ({"aws:assumeRoleWithWebIdentity": {"roleArn": "arn:aws:iam::123456789012:role/x"}},
     "aws:assumeRoleWithWebIdentity is not carried"),
    ({"aws:sharedConfigFiles": ["/etc/aws/config"]}, "use the environment (AWS_CONFIG_FILE)"),
    ({"aws:assumeRole": {"roleArn": "arn:aws:iam::123456789012:role/x"}},
     "aws:assumeRole is pulumi-aws 6's key: pulumi-aws 7 takes aws:assumeRoles, a list"),
    ({"aws:assumeRoles": {"roleArn": "arn:aws:iam::123456789012:role/x"}}, "aws:assumeRoles must be a list"),
    ({"aws:assumeRoles": [{"sessionName": "ci"}]}, "aws:assumeRoles[0].roleArn null must match"),
    ({"aws:assumeRoles": [{"roleArn": "deployer"}]}, "aws:assumeRoles[0].roleArn 'deployer' must match"),
    ({"aws:assumeRoles": [{"roleArn": "arn:aws:iam::123456789012:role/x", "sesionName": "ci"}]},
     "aws:assumeRoles[0].sesionName is not a key of aws:assumeRoles"),
    ({"aws:profile": "two words"}, "aws:profile must be a profile name"),
])
def test_what_the_jobs_cannot_follow_is_refused(config, problem):
    with pytest.raises(SettingsError) as raised:
        make_settings(**config)
    assert any(problem in line for line in raised.value.problems), raised.value.problems


@pytest.mark.parametrize(("variant", "expected"), [
    (STG_ECS, CHAIN.as_input()),
    (STG_EC2, DeployCredentials(profile=DEPLOY_PROFILE).as_input()),
])
def test_every_dynamic_resource_calling_aws_carries_the_provider_identity_in_plain_inputs(variant, expected):
    run = variant.run()
    callers = run.of_type("pulumi-python:dynamic:Resource")
    assert callers  # one-off tasks (ECS) or the team plane's host command (EC2)
    for caller in callers:
        assert not is_secret(caller.inputs["credentials"]), caller.name
        assert caller.input("credentials") == expected, caller.name
    assert [role["roleArn"] for role in DEPLOY_ROLES] == [r.role_arn for r in CHAIN.assume_roles]
