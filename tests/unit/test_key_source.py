"""The team plane's key source on the local platform (team_plane/key_source.py): the start's and the
job's Secrets Manager calls answered from the container's environment, with Secrets Manager's
shapes, so the start's refusals and the job's pinned versions hold there too."""

from __future__ import annotations

import io
import json

import pytest

from renderers.litellm_proxy import render_proxy_config
from renderers.team_document import KeySecret, render_team_document, team_document
from team_plane import job
from team_plane.key_source import (
    ENVIRONMENT, KEY_SOURCE_VAR, KEYS_VAR, EnvironmentKeys, KeyNotFound, environment_keys, secrets_client,
)
from team_plane.litellm_start import Refusal, prepare
from tests.support.settings import make_settings

PAIR = {"publicKey": "pk-lf-mle", "secretKey": "sk-lf-mle"}
MLE = "llm-gateway-local/langfuse-keys/teams/mle"


class DocumentOnly:
    """S3 holding the team document only (what the start reads besides the keys)."""

    def __init__(self, text: str):
        self.text = text

    def get_object(self, Bucket, Key):  # noqa: N803
        return {"Body": io.BytesIO(self.text.encode())}


def document(teams: dict[str, str]) -> str:
    """The document naming each team's key secret id at `version`, as the deploy renders it."""
    settings = make_settings(teams=[{"name": name} for name in teams])
    return render_team_document(team_document(
        settings, {name: KeySecret(f"llm-gateway-local/langfuse-keys/teams/{name}", version) for name, version in teams.items()},
        KeySecret("llm-gateway-local/langfuse-keys/platform", "p1")))


def start_environ(keys: str) -> dict[str, str]:
    settings = make_settings(teams=[{"name": "mle"}])
    return {"LITELLM_REQUIRED_ENV": "LANGFUSE_HOST", "LANGFUSE_HOST": "http://langfuse-web:3000",
            "LITELLM_PROXY_CONFIG": render_proxy_config(settings).text, "LLM_GATEWAY_TEAM_DOCUMENT": "s3://team-plane/desired.json",
            KEY_SOURCE_VAR: ENVIRONMENT, KEYS_VAR: keys}


def test_the_start_reads_every_teams_pair_from_the_environment():
    environ = start_environ(environment_keys({MLE: ("v1", PAIR)}))

    _, environment = prepare(environ, DocumentOnly(document({"mle": "v1"})), secrets_client(environ))

    assert (environment["LANGFUSE_PUBLIC_KEY_MLE"], environment["LANGFUSE_SECRET_KEY_MLE"]) == ("pk-lf-mle", "sk-lf-mle")
    # The proxy gets each team's pair once, in its team's two variables: not the one that holds them all.
    assert KEYS_VAR not in environment


@pytest.mark.parametrize("keys, reason", [
    ({}, "(ResourceNotFoundException)"),
    ({MLE: ("v1", {"publicKey": "pk-lf-mle", "secretKey": ""})}, f"(no publicKey/secretKey in {MLE})"),
])
def test_the_start_refuses_a_team_whose_pair_the_environment_does_not_hold(keys, reason):
    environ = start_environ(environment_keys(keys))

    with pytest.raises(Refusal) as refused:
        prepare(environ, DocumentOnly(document({"mle": "v1"})), secrets_client(environ))

    assert str(refused.value) == f"unreadable Langfuse keys of teams: mle {reason}"


def test_the_job_reads_a_pair_at_the_version_the_document_names_only(monkeypatch):
    monkeypatch.setenv(KEY_SOURCE_VAR, ENVIRONMENT)
    monkeypatch.setenv(KEYS_VAR, environment_keys({MLE: ("v2", PAIR)}))

    assert job.boto3_keys(MLE, "v2") == PAIR
    with pytest.raises(KeyNotFound, match=f"holds {MLE} at version v2, not v1"):
        job.boto3_keys(MLE, "v1")  # a document older than the keys: that team fails, as with Secrets Manager


def test_batches_answer_like_secrets_manager():
    keys = EnvironmentKeys(environment_keys({MLE: ("v1", PAIR)}))

    answer = keys.batch_get_secret_value(SecretIdList=[MLE, "llm-gateway-local/langfuse-keys/teams/gone"])

    assert answer["SecretValues"] == [{"ARN": MLE, "SecretString": json.dumps(PAIR), "VersionId": "v1"}]
    assert [(e["SecretId"], e["ErrorCode"]) for e in answer["Errors"]] == [
        ("llm-gateway-local/langfuse-keys/teams/gone", "ResourceNotFoundException")]


def test_an_unknown_source_is_refused_and_none_means_secrets_manager(monkeypatch):
    with pytest.raises(ValueError, match=f"{KEY_SOURCE_VAR}='vault': the only other source is 'environment'"):
        secrets_client({KEY_SOURCE_VAR: "vault"})
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert secrets_client({}).meta.service_model.service_name == "secretsmanager"


def test_a_variable_no_process_could_start_with_is_refused():
    keys = {f"llm-gateway-local/litellm-keys/teams/t{i:04d}/k": ("0" * 32, {"apiKey": "sk-" + "0" * 48}) for i in range(2000)}
    with pytest.raises(ValueError, match=r"LLM_GATEWAY_KEYS would hold 2000 keys in \d+ bytes: Linux starts no process"):
        environment_keys(keys)
    assert environment_keys(dict(list(keys.items())[:100]))
