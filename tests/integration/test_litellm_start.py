"""LiteLLM's start (team_plane/litellm_start.py) against S3 and Secrets Manager as moto serves them
in-process: the teams of the document become config entries and key variables, whatever their count;
a task reads the document version it was deployed with.
(Its Langfuse client ceiling alone: tests/unit/test_litellm_client_ceiling.py.)"""

from __future__ import annotations

import pytest
import yaml
from moto import mock_aws

from renderers.litellm_proxy import render_proxy_config
from renderers.team_document import DOCUMENT_KEY, parse_team_document, render_team_document
from team_plane.litellm_start import DOCUMENT_VERSION_VAR, Refusal, prepare, team_settings_entry
from tests.support.moto_aws import LoopbackAws
from tests.support.settings import make_settings

pytestmark = pytest.mark.integration


def start(team_count: int, pairs=None):
    settings = make_settings(teams=[{"name": f"team-{i:02d}"} for i in range(team_count)])
    aws = LoopbackAws(endpoint_url=None)  # in-process moto (mock_aws): no endpoint
    pairs = pairs or {t.name: {"publicKey": f"pk-lf-{t.name}", "secretKey": f"sk-lf-{t.name}"} for t in settings.teams}
    url = aws.serve_team_plane(settings, pairs)
    secrets = aws.client("secretsmanager")
    batches = []
    secrets.meta.events.register("provide-client-params.secrets-manager.BatchGetSecretValue",
                                 lambda params, **_: batches.append(len(params["SecretIdList"])))
    proxy = render_proxy_config(settings)
    environ = {"LITELLM_REQUIRED_ENV": "LANGFUSE_HOST", "LANGFUSE_HOST": "http://langfuse-web:3000",
               "LITELLM_PROXY_CONFIG": proxy.text, "LLM_GATEWAY_TEAM_DOCUMENT": url}
    text, environment = prepare(environ, aws.client("s3"), secrets)
    return settings, yaml.safe_load(text), environment, batches


@mock_aws
def test_45_teams_become_entries_and_key_variables_in_batches_of_20():
    settings, config, environment, batches = start(45)
    assert batches == [20, 20, 5]  # BatchGetSecretValue: at most 20 ids per call
    entries = config["litellm_settings"]["default_team_settings"]
    assert entries == [team_settings_entry(t.name, f"LANGFUSE_PUBLIC_KEY_{t.env_suffix}", f"LANGFUSE_SECRET_KEY_{t.env_suffix}")
                       for t in settings.teams]
    assert environment["LANGFUSE_SECRET_KEY_TEAM_44"] == "sk-lf-team-44"
    assert environment["MAX_LANGFUSE_INITIALIZED_CLIENTS"] == "92"


@mock_aws
def test_a_team_without_a_readable_pair_refuses_the_start():
    pairs = {"team-00": {"publicKey": "pk-lf-a", "secretKey": "sk-lf-a"}, "team-01": {"publicKey": "pk-lf-b", "secretKey": ""}}
    with pytest.raises(Refusal, match=r"unreadable Langfuse keys of teams: team-01 \("):
        start(2, pairs)


@mock_aws
def test_a_task_starts_on_the_document_version_it_was_deployed_with():
    """A later document that refuses the start (a team whose key secret cannot be read) breaks
    neither a rollback to the previous task definition nor a scale-out of it: each reads its version."""
    settings = make_settings(teams=[{"name": "team-00"}, {"name": "team-01"}])
    aws = LoopbackAws(endpoint_url=None)
    url = aws.serve_team_plane(settings, {t.name: {"publicKey": f"pk-lf-{t.name}", "secretKey": f"sk-lf-{t.name}"}
                                          for t in settings.teams})
    s3, bucket = aws.client("s3"), url.split("/")[2]
    deployed = s3.head_object(Bucket=bucket, Key=DOCUMENT_KEY)["VersionId"]
    document = parse_team_document(s3.get_object(Bucket=bucket, Key=DOCUMENT_KEY)["Body"].read().decode())
    newcomer = {**document["teams"][0], "name": "newcomer", "keySecretArn": document["teams"][0]["keySecretArn"] + "-gone"}
    later = s3.put_object(Bucket=bucket, Key=DOCUMENT_KEY,
                          Body=render_team_document({**document, "teams": [*document["teams"], newcomer]}).encode())
    environ = {"LITELLM_REQUIRED_ENV": "LANGFUSE_HOST", "LANGFUSE_HOST": "http://langfuse-web:3000",
               "LITELLM_PROXY_CONFIG": render_proxy_config(settings).text, "LLM_GATEWAY_TEAM_DOCUMENT": url}
    secrets = aws.client("secretsmanager")

    text, environment = prepare({**environ, DOCUMENT_VERSION_VAR: deployed}, s3, secrets)
    assert [e["team_id"] for e in yaml.safe_load(text)["litellm_settings"]["default_team_settings"]] == ["team-00", "team-01"]
    assert environment["LANGFUSE_SECRET_KEY_TEAM_01"] == "sk-lf-team-01"

    for pinned in ({DOCUMENT_VERSION_VAR: later["VersionId"]}, {}):  # that later revision; the host (latest)
        with pytest.raises(Refusal, match=r"unreadable Langfuse keys of teams: newcomer \("):
            prepare({**environ, **pinned}, s3, secrets)
    with pytest.raises(Refusal, match=rf"cannot read the team-plane document {url} \(version v-unknown\): "):
        prepare({**environ, DOCUMENT_VERSION_VAR: "v-unknown"}, s3, secrets)
