"""S3 and Secrets Manager on loopback (moto's server): what LiteLLM's start reads in AWS, its
code, the team-plane document and each team's key secret, served with AWS's API and id shapes. The proxy's
start reaches it through AWS_ENDPOINT_URL (boto3's service endpoint override)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
from moto.server import ThreadedMotoServer

from config.settings import Settings
from renderers.team_document import DOCUMENT_KEY, KeySecret, render_team_document, team_document
from team_plane.embed import code, code_key

REGION = "us-east-1"


@dataclass(frozen=True)
class LoopbackAws:
    endpoint_url: str

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION,
                            aws_access_key_id="AKIAFAKETEAMPLANE", aws_secret_access_key="fake")

    def serve_team_plane(self, settings: Settings, pairs: Mapping[str, Mapping[str, str] | None]) -> str:
        """Each team's key secret (None: never created, so unreadable) and the document naming
        them, as the deploy writes it; returns the document's s3:// URL."""
        secrets, keys = self.client("secretsmanager"), {}
        prefix = settings.name_prefix
        suffix = uuid.uuid4().hex  # moto keeps one account per process: each call its own names
        for team in settings.teams:
            name = f"{prefix}/langfuse-keys/teams/{team.name}-{suffix}"
            if pairs[team.name] is None:
                arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:{name}-AbCdEf"
                keys[team.name] = KeySecret(arn, "00000000-0000-4000-8000-000000000000")
            else:
                made = secrets.create_secret(Name=name, SecretString=json.dumps(pairs[team.name]))
                keys[team.name] = KeySecret(made["ARN"], made["VersionId"])
        platform = secrets.create_secret(Name=f"{prefix}/langfuse-keys/platform-{suffix}", SecretString="{}")
        s3, bucket = self.client("s3"), f"{prefix}-team-plane-{suffix}"
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        document = team_document(settings, keys, KeySecret(platform["ARN"], platform["VersionId"]))
        s3.put_object(Bucket=bucket, Key=DOCUMENT_KEY, Body=render_team_document(document).encode(),
                      ContentType="application/json")
        self.serve_code(bucket)
        return f"s3://{bucket}/{DOCUMENT_KEY}"

    def serve_code(self, bucket: str) -> None:
        """The code the containers' bootstrap runs, where the deploy stores it (team_plane/embed.py)."""
        self.client("s3").put_object(Bucket=bucket, Key=code_key(), Body=code().encode(), ContentType="application/json")


@contextmanager
def running_loopback_aws() -> Iterator[LoopbackAws]:
    # werkzeug logs each request at INFO, to a stderr handler of its own where no handler takes INFO
    # (werkzeug/_internal.py _log): outside pytest, as under `make bench`, a line per call.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield LoopbackAws(f"http://{host}:{port}")
    finally:
        server.stop()
