"""Where the team plane's desired state lives: one JSON object in a bucket of its own.

The deploy writes the document (renderers/team_document.py) as `DOCUMENT_KEY`; the bucket is private,
KMS-encrypted, versioned (each deploy's document stays readable for a while, and its version id
is what restarts LiteLLM), TLS-only and access-logged. The reader policy is what LiteLLM's
identity (the ECS task role, or the host's instance role) needs to start: the document, and
every team's key secret through ONE name-prefix wildcard, so its size does not grow with the teams.
The team plane's identity also gets the key policy: every team's LiteLLM virtual keys, through one
wildcard likewise (LiteLLM itself never reads them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent
from components.secure_bucket import create_secure_bucket, expire_noncurrent
from reference import names
from services import secret_refs
from config.settings import Settings
from team_plane.embed import code, code_key
from renderers.team_document import DOCUMENT_KEY, KeySecret, render_team_document, team_document, team_keys_arn_pattern

NONCURRENT_DAYS = 30


# Everything the containers read here (the document, the code) is under this prefix.
STORE_PREFIX = "team-plane/"


@dataclass(frozen=True)
class TeamPlaneStoreArgs:
    settings: Settings
    account_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    access_log_bucket: pulumi.Input[str]
    # Team -> (key secret ARN, version id); the platform's pair likewise.
    team_keys: Mapping[str, tuple[pulumi.Input[str], pulumi.Input[str]]]
    platform_keys: tuple[pulumi.Input[str], pulumi.Input[str]]
    # (team, key name) -> (secret ARN, version id) of each LiteLLM virtual key.
    litellm_keys: Mapping[tuple[str, str], tuple[pulumi.Input[str], pulumi.Input[str]]] = field(default_factory=dict)


def _decrypt_via(kms_key_arn: str, region: str, *services: str) -> dict:
    return {
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": kms_key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": [f"{service}.{region}.amazonaws.com" for service in services]}},
    }


def key_policy(kms_key_arn: str, litellm_keys_arn: str, region: str) -> str:
    """The team plane's: every team's LiteLLM virtual keys (one wildcard, any number of teams and keys)."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": litellm_keys_arn},
            _decrypt_via(kms_key_arn, region, "secretsmanager"),
        ],
    }, indent=1)


def reader_policy(bucket_arn: str, kms_key_arn: str, team_keys_arn: str, region: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": f"{bucket_arn}/{STORE_PREFIX}*"},
            # BatchGetSecretValue authorizes nothing by itself: "you must have
            # secretsmanager:GetSecretValue for each secret" (Secrets Manager API reference), and it
            # has no resource type of its own (Service Authorization Reference), hence "*".
            {"Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"},
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": team_keys_arn},
            _decrypt_via(kms_key_arn, region, "secretsmanager", "s3"),
        ],
    }, indent=1)


class TeamPlaneStore(GatewayComponent):
    def __init__(self, name: str, args: TeamPlaneStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        settings = args.settings
        self.bucket = create_secure_bucket(
            self, f"{name}-bucket",
            bucket_prefix=names.bucket_prefix(settings.name_prefix, "team-plane"),
            protect=settings.protect,
            kms_key_arn=args.kms_key_arn,
            lifecycle_rules=[expire_noncurrent(NONCURRENT_DAYS)],
            access_log_bucket=args.access_log_bucket,
        )
        teams, keys = sorted(args.team_keys), sorted(args.litellm_keys)
        content = pulumi.Output.all(
            teams=[pulumi.Output.all(*args.team_keys[team]) for team in teams],
            keys=[pulumi.Output.all(*args.litellm_keys[key]) for key in keys],
            platform=pulumi.Output.all(*args.platform_keys),
        ).apply(lambda v: render_team_document(team_document(
            settings,
            {team: KeySecret(*secret) for team, secret in zip(teams, v["teams"], strict=True)},
            KeySecret(*v["platform"]),
            {key: KeySecret(*secret) for key, secret in zip(keys, v["keys"], strict=True)},
        )))
        self.document = aws.s3.BucketObjectv2(
            f"{name}-document",
            bucket=self.bucket.id,
            key=DOCUMENT_KEY,
            content=content,
            content_type="application/json",
            opts=self.child(),
        )
        team_keys_arn, litellm_keys_arn = (pulumi.Output.from_input(args.account_id).apply(
            lambda account, secrets=secrets: team_keys_arn_pattern(settings.region, account, settings.name_prefix, secrets)
        ) for secrets in (secret_refs.TEAM_KEYS, secret_refs.TEAM_LITELLM_KEYS))
        self.reader_policy = aws.iam.Policy(
            f"{name}-reader",
            name_prefix=f"{settings.name_prefix}-team-plane-reader-",
            description="LiteLLM's start: read the team-plane document and every team's Langfuse keys",
            policy=pulumi.Output.all(self.bucket.arn, args.kms_key_arn, team_keys_arn).apply(
                lambda v: reader_policy(*v, settings.region)
            ),
            opts=self.child(),
        )
        self.key_policy = aws.iam.Policy(
            f"{name}-keys",
            name_prefix=f"{settings.name_prefix}-team-plane-keys-",
            description="The team plane: read every team's LiteLLM virtual keys",
            policy=pulumi.Output.all(args.kms_key_arn, litellm_keys_arn).apply(lambda v: key_policy(*v, settings.region)),
            opts=self.child(),
        )
        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        # The code LiteLLM's start and the team-plane job run (team_plane/embed.py): named by its
        # SHA-256, so a code change is a new object beside the old one.
        self.code = aws.s3.BucketObjectv2(
            f"{name}-code", bucket=self.bucket.id, key=code_key(), content=code(), content_type="application/json",
            opts=self.child(),
        )
        self.document_key = DOCUMENT_KEY
        # Whoever reads the location waits for both objects to exist.
        self.document_url = pulumi.Output.all(self.bucket.bucket, self.document.key, self.code.key).apply(
            lambda v: f"s3://{v[0]}/{v[1]}"
        )
        self.version_id = self.document.version_id
        self.reader_policy_arn = self.reader_policy.arn
        self.key_policy_arn = self.key_policy.arn
        self.register_outputs({
            "bucketName": self.bucket_name, "bucketArn": self.bucket_arn, "documentKey": DOCUMENT_KEY,
            "versionId": self.version_id, "readerPolicyArn": self.reader_policy_arn, "keyPolicyArn": self.key_policy_arn,
        })
