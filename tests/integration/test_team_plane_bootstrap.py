"""The containers' bootstrap (team_plane/embed.py BOOTSTRAP) run as they run it, `python3 -c`, in a
fresh interpreter against S3 on loopback (moto's server): it runs the stored code of its entry and
refuses code that is not what was deployed. The loopback server logs no request."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid

import pytest

from team_plane.embed import BOOTSTRAP, code, code_key, entrypoint_environment
from team_plane.job import DEADLINE_VAR
from tests.support.moto_aws import running_loopback_aws

# One worker takes the module (make test: --dist loadgroup): moto starts once (the `loopback_aws` fixture).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("team-plane-bootstrap")]


@pytest.fixture(scope="module")
def loopback_aws():
    with running_loopback_aws() as aws:
        yield aws


def bootstrap(aws, bucket: str, entry: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The containers' entrypoint, run as they run it (python3 -c BOOTSTRAP), S3 on loopback."""
    environment = {"PATH": os.environ["PATH"], "AWS_ENDPOINT_URL": aws.endpoint_url, "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": "fake", "AWS_SECRET_ACCESS_KEY": "fake",
                   **entrypoint_environment(bucket, entry), **(env or {})}
    return subprocess.run([sys.executable, "-c", BOOTSTRAP, *args], capture_output=True, text=True, env=environment,
                          timeout=60)


def test_the_bootstrap_runs_the_stored_code_of_its_entry(loopback_aws, tmp_path):
    bucket = f"code-{uuid.uuid4().hex[:8]}"
    loopback_aws.client("s3").create_bucket(Bucket=bucket)
    loopback_aws.serve_code(bucket)

    result = bootstrap(loopback_aws, bucket, "job", "verify", env={
        "LLM_GATEWAY_TEAM_DOCUMENT": str(tmp_path / "missing.json"), "LLM_GATEWAY_TEAM_PLANE_WORK": str(tmp_path),
        DEADLINE_VAR: "60"})

    # The job ran (its verify step), and failed only on the document this test left out.
    assert "FileNotFoundError" in result.stderr and "missing.json" in result.stderr
    assert len(BOOTSTRAP) < 2_000  # what every task definition, compose file and user data carries


def test_the_bootstrap_refuses_code_that_is_not_what_was_deployed(loopback_aws, tmp_path):
    bucket = f"code-{uuid.uuid4().hex[:8]}"
    s3 = loopback_aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=code_key(), Body=code().replace("def main", "def main_").encode())

    result = bootstrap(loopback_aws, bucket, "job", "verify")

    assert result.returncode != 0
    assert result.stderr.strip().endswith(f"s3://{bucket}/{code_key()} is not the code this container was deployed "
                                          "with (SHA-256 differs)")


def test_the_loopback_server_logs_no_request(loopback_aws, caplog):
    """werkzeug would log each call at INFO, to stderr outside pytest (`make bench`'s gateway)."""
    caplog.set_level(logging.DEBUG)
    loopback_aws.client("s3").list_buckets()
    assert not [record for record in caplog.records if record.name == "werkzeug"]
