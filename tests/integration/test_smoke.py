"""The smoke step end to end on loopback: the step as its container runs it (`python3 -c <bootstrap>
smoke`, this venv's python, reading the document and keys from moto's S3 and Secrets Manager), the
real LiteLLM proxy started from the `litellm` spec (tests/support/litellm_container.py) in front of
the fake Bedrock, and a fake Langfuse that receives the proxy's OTLP exports and answers its public
read API with a trace only seconds after it arrived (tests/support/fake_langfuse_reads.py).

LiteLLM's key routes need its database, which cannot start here: one address (as LITELLM_INTERNAL_URL
is one address in the stack) routes /key/ and /team/ to the fake admin API built from the pinned
source, every call to the real proxy, whose test-only custom auth asks that fake which team a key
belongs to (/key/info by the key's hash), as the proxy's own auth would read its database."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from contextlib import ExitStack

import pytest

from renderers.litellm_proxy import render_proxy_config
from renderers.team_document import DOCUMENT_KEY, KeySecret, render_team_document, team_document
from team_plane.embed import BOOTSTRAP, entrypoint_environment
from team_plane.job import DEADLINE_VAR
from tests.support.fake_bedrock import running_fake_bedrock
from tests.support.fake_langfuse_reads import running_readable_langfuse
from tests.support.fake_litellm_admin import running_fake_admin
from tests.support.litellm_container import container_argv, container_environment, litellm_spec, with_test_additions
from tests.support.litellm_proxy import random_master_key, running_proxy
from tests.support.loopback_router import routing
from tests.support.moto_aws import running_loopback_aws
from tests.support.redis_server import running_redis_server
from tests.support.settings import make_settings

pytestmark = pytest.mark.integration

AUTH_MODULE = '''\
"""Test-only custom auth: the key's team, as the fake admin API (LiteLLM's database here) has it."""
import hashlib, json, urllib.request
from litellm.proxy._types import UserAPIKeyAuth


async def user_api_key_auth(request, api_key):
    token = api_key.removeprefix("Bearer ").strip()
    lookup = urllib.request.Request({admin!r} + "/key/info?key=" + hashlib.sha256(token.encode()).hexdigest(),
                                    headers={{"Authorization": "Bearer " + {master!r}}})
    with urllib.request.urlopen(lookup, timeout=10) as answer:
        info = json.load(answer)["info"]
    if info["status"] != "active":
        raise Exception("key " + info["status"])
    return UserAPIKeyAuth(api_key=token, team_id=info["team_id"], models=info["models"])
'''
TEAMS = {"alpha": ["sonnet"], "beta": ["sonnet"], "gamma": ["titan"]}  # gamma: an embedding model only
VISIBLE_AFTER_SECONDS = 4.0
DEADLINE_SECONDS = 45


def serve_document(aws, settings, pairs) -> str:
    """The teams' Langfuse key secrets and the team document naming them, as the deploy writes it."""
    secrets, s3 = aws.client("secretsmanager"), aws.client("s3")
    suffix = uuid.uuid4().hex[:8]
    keys = {}
    for team in settings.teams:
        made = secrets.create_secret(Name=f"llm-gateway-stg/langfuse-keys/teams/{team.name}-{suffix}",
                                     SecretString=json.dumps(pairs[team.name]))
        keys[team.name] = KeySecret(made["ARN"], made["VersionId"])
    bucket = f"team-plane-{suffix}"
    s3.create_bucket(Bucket=bucket)
    document = team_document(settings, keys, keys[settings.teams[0].name])
    s3.put_object(Bucket=bucket, Key=DOCUMENT_KEY, Body=render_team_document(document).encode())
    aws.serve_code(bucket)
    return f"s3://{bucket}/{DOCUMENT_KEY}"


def test_each_team_call_is_found_in_its_own_project_and_a_missing_trace_fails_by_name(tmp_path):
    settings = make_settings(teams=[{"name": name, "models": models} for name, models in TEAMS.items()])
    pairs = {name: {"publicKey": f"pk-lf-{name}-{uuid.uuid4().hex[:8]}", "secretKey": f"sk-lf-{uuid.uuid4().hex}"}
             for name in TEAMS}
    master = random_master_key()
    with ExitStack() as stack:
        bedrock = stack.enter_context(running_fake_bedrock())
        langfuse = stack.enter_context(running_readable_langfuse(
            {pair["publicKey"]: (pair["secretKey"], name) for name, pair in pairs.items()},
            visible_after_seconds=VISIBLE_AFTER_SECONDS, dropped_projects={"beta"}))
        admin = stack.enter_context(running_fake_admin(master))
        for name in TEAMS:
            admin.add_team(name, team_alias=name, models=TEAMS[name], metadata={"managed-by": "llm-gateway"})
        redis = stack.enter_context(running_redis_server(tmp_path, random_master_key()))
        aws = stack.enter_context(running_loopback_aws())
        document = serve_document(aws, settings, pairs)
        auth_module = f"smoke_auth_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{auth_module}.py").write_text(AUTH_MODULE.format(admin=admin.url, master=master))
        proxy_config = with_test_additions(render_proxy_config(settings), bedrock_url=bedrock.url, auth_module=auth_module)
        spec = litellm_spec(settings, proxy_config, langfuse.url, document)
        env = {**container_environment(spec, {}, redis), "TMPDIR": str(tmp_path), "AWS_ENDPOINT_URL": aws.endpoint_url}
        proxy = stack.enter_context(running_proxy(container_argv(spec), env, tmp_path))
        litellm = stack.enter_context(routing([("/key/", admin.url), ("/team/", admin.url)], default=proxy.url))

        smoke = subprocess.run([sys.executable, "-c", BOOTSTRAP, "smoke"], capture_output=True, text=True, timeout=300, env={
            "PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": aws.endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            **entrypoint_environment(document.split("/")[2], "job"), "LLM_GATEWAY_TEAM_DOCUMENT": document,
            "LITELLM_INTERNAL_URL": litellm.url, "LITELLM_MASTER_KEY": master, "LANGFUSE_INTERNAL_URL": langfuse.url,
            DEADLINE_VAR: str(DEADLINE_SECONDS)})

    lines = smoke.stdout.splitlines()
    assert smoke.returncode == 1, smoke.stdout + smoke.stderr + proxy.log()[-3000:]
    generated = [r.body for r in admin.requests if r.path == "/key/generate"]
    markers = {body["team_id"]: body["metadata"]["llm-gateway-smoke"] for body in generated}
    assert sorted(markers) == ["alpha", "beta"]
    assert lines[0].startswith(f"llm-gateway smoke: team alpha: smoke passed (sonnet answered; trace {markers['alpha']} "
                               "in Langfuse project alpha after "), lines
    assert lines[1].startswith(f"llm-gateway smoke: team beta: smoke failed (sonnet answered; no trace {markers['beta']} "
                               "in the team's Langfuse project within "), lines
    assert lines[1].endswith("(last answer: /api/public/v2/observations: HTTP 200 without an observation of the trace))")
    assert lines[2] == "llm-gateway smoke: team gamma: smoke skipped (the team has no chat model)"
    assert "beta" in smoke.stderr and "alpha" not in smoke.stderr
    # One call per team, max_tokens 1, traced with the team's own pair under the marker.
    calls = bedrock.snapshot()
    assert len(calls) == 2 and all(call.body["inferenceConfig"]["maxTokens"] == 1 for call in calls)
    exported = {(export.public_key, span.trace_id) for export in langfuse.otel_requests() for span in export.spans()}
    assert {(pairs[team]["publicKey"], marker) for team, marker in markers.items()} <= exported
    # The keys: short-lived, a tiny positive budget, the one model, deleted afterwards.
    assert all((body["duration"], body["models"], 0 < body["max_budget"] <= 0.01) == ("10m", ["sonnet"], True)
               for body in generated)
    assert not admin.keys and len(admin.deleted_keys) == 2
    # Nothing of a key in any line: the smoke keys, the master key, the teams' Langfuse secrets.
    output = smoke.stdout + smoke.stderr
    for secret in [master, *(body["key"] for body in generated), *(pair["secretKey"] for pair in pairs.values())]:
        assert secret not in output and secret[-4:] not in output
