"""The one-off run that creates a team's Langfuse project: its shell wrapper and key check, run
with node (the Langfuse image's runtime) against a stand-in for the Langfuse web server."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from config.services import langfuse_project_init
from tests.support.hosts import STAGING_ENDPOINTS
from tests.support.litellm_proxy import free_port
from tests.support.settings import make_settings

pytestmark = pytest.mark.integration

# Stands in for the image's `node ./web/server.js`: healthy after a moment, and answering the
# public projects API for exactly one key pair, as a Langfuse whose init created that project.
FAKE_SERVER = """
const http = require('http');
const started = Date.now();
const expected = 'Basic ' + Buffer.from(process.env.FAKE_KEYS).toString('base64');
http.createServer((req, res) => {
  if (req.url === '/api/public/health') {
    res.writeHead(Date.now() - started > 500 ? 200 : 503); return res.end('{}');
  }
  if (req.url === '/api/public/projects') {
    if (req.headers.authorization !== expected) { res.writeHead(401); return res.end('{"message":"Invalid credentials"}'); }
    res.writeHead(200, {'content-type': 'application/json'});
    return res.end(JSON.stringify({data: [{id: process.env.FAKE_PROJECT, name: process.env.FAKE_PROJECT}]}));
  }
  res.writeHead(404); res.end();
}).listen(process.env.PORT, '127.0.0.1');
process.on('SIGTERM', () => { require('fs').writeFileSync('stopped', 'yes'); process.exit(0); });
"""


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is required (the Langfuse image's runtime): install Node.js", pytrace=False)
    return path


def run_init(tmp_path, *, served_keys: str, served_project: str, existing: bool = False):
    if existing:
        settings = make_settings(teams=[{"name": "mle", "langfuseKeys": "existing"}], secrets={
            "existingLangfuseKeys": {"mle": {"publicKey": "pk-lf-team", "secretKey": "sk-lf-team"}}})
    else:
        settings = make_settings(teams=[{"name": "mle"}])
    spec = langfuse_project_init(settings, STAGING_ENDPOINTS, settings.team("mle"))
    keys = ({"LLM_GATEWAY_EXISTING_PUBLIC_KEY": "pk-lf-team", "LLM_GATEWAY_EXISTING_SECRET_KEY": "sk-lf-team"} if existing
            else {"LANGFUSE_INIT_PROJECT_PUBLIC_KEY": "pk-lf-team", "LANGFUSE_INIT_PROJECT_SECRET_KEY": "sk-lf-team"})
    assert set(keys) <= set(spec.secrets)
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "server.js").write_text(FAKE_SERVER)
    entrypoint = tmp_path / "web" / "entrypoint.sh"
    entrypoint.write_text('#!/bin/sh\nexec "$@"\n')  # the image's entrypoint ends by exec-ing its arguments
    entrypoint.chmod(0o755)
    env = {
        "PATH": f"{os.path.dirname(node())}:/usr/bin:/bin",
        **spec.environment,
        "PORT": str(free_port()),
        **keys,
        "FAKE_KEYS": served_keys,
        "FAKE_PROJECT": served_project,
    }
    return subprocess.run(list(spec.entrypoint), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_project_ready_when_the_team_keys_authenticate_for_its_project(tmp_path):
    result = run_init(tmp_path, served_keys="pk-lf-team:sk-lf-team", served_project="mle")
    assert result.returncode == 0, result.stderr
    assert "project mle ready, keys verified" in result.stdout
    assert (tmp_path / "stopped").read_text() == "yes"  # the server is stopped, the job ends


def test_fails_loudly_when_the_keys_do_not_authenticate(tmp_path):
    result = run_init(tmp_path, served_keys="pk-lf-other:sk-lf-other", served_project="mle")
    assert result.returncode == 1
    assert "project mle: the team key pair does not authenticate (HTTP 401)" in result.stderr
    assert (tmp_path / "stopped").read_text() == "yes"


def test_fails_loudly_when_the_keys_belong_to_another_project(tmp_path):
    result = run_init(tmp_path, served_keys="pk-lf-team:sk-lf-team", served_project="platform")
    assert result.returncode == 1
    assert "project mle: the team key pair belongs to platform" in result.stderr


def test_existing_keys_adopt_the_project_they_belong_to(tmp_path):
    # A project made in the UI keeps its id: no `mle` project is created and the keys stay where they are.
    result = run_init(tmp_path, served_keys="pk-lf-team:sk-lf-team", served_project="cm3xyz", existing=True)
    assert result.returncode == 0, result.stderr
    assert 'team mle: existing keys belong to project cm3xyz ("cm3xyz"), adopted' in result.stdout
    assert (tmp_path / "stopped").read_text() == "yes"


def test_existing_keys_this_langfuse_refuses_fail_with_what_to_do(tmp_path):
    result = run_init(tmp_path, served_keys="pk-lf-other:sk-lf-other", served_project="cm3xyz", existing=True)
    assert result.returncode == 1
    assert ("team mle: the existing key pair (existingLangfuseKeys.mle) does not authenticate on this Langfuse "
            "(HTTP 401)") in result.stderr
