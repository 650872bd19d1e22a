"""The baseline every bucket of the stack gets: private, encrypted, versioned, TLS-only, logged."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent

PolicyStatements = Callable[[str], pulumi.Input[list[dict]]]  # bucket ARN -> extra statements


def create_secure_bucket(
    owner: GatewayComponent,
    name: str,
    *,
    bucket_prefix: str,
    protect: bool,
    kms_key_arn: pulumi.Input[str] | None,
    lifecycle_rules: Sequence[dict],
    access_log_bucket: pulumi.Input[str] | None,
    extra_statements: PolicyStatements = lambda arn: [],
) -> aws.s3.Bucket:
    """`kms_key_arn` None means SSE-S3: the only encryption ALB log delivery accepts."""
    bucket = aws.s3.Bucket(name, bucket_prefix=bucket_prefix, force_destroy=not protect, opts=owner.child(protect=protect))
    aws.s3.BucketOwnershipControls(
        name, bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=owner.child()
    )
    block = aws.s3.BucketPublicAccessBlock(
        name, bucket=bucket.id, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=owner.child(),
    )
    aws.s3.BucketVersioning(name, bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=owner.child())
    encryption = (
        {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key_arn}
        if kms_key_arn is not None else {"sse_algorithm": "AES256"}
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        name, bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": encryption, "bucket_key_enabled": kms_key_arn is not None}],
        opts=owner.child(),
    )
    aws.s3.BucketLifecycleConfiguration(name, bucket=bucket.id, rules=list(lifecycle_rules), opts=owner.child())
    if access_log_bucket is not None:
        aws.s3.BucketLogging(
            name, bucket=bucket.id, target_bucket=access_log_bucket, target_prefix=f"s3/{bucket_prefix}", opts=owner.child()
        )
    def policy(arn: str) -> pulumi.Output[str]:
        tls_only = {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
        return pulumi.Output.from_input(extra_statements(arn)).apply(
            lambda extra: json.dumps({"Version": "2012-10-17", "Statement": [tls_only, *extra]})
        )

    aws.s3.BucketPolicy(name, bucket=bucket.id, policy=bucket.arn.apply(policy), opts=owner.child(depends_on=[block]))
    return bucket


def expire_noncurrent(days: int) -> dict:
    return {
        "id": "expire-noncurrent-versions",
        "status": "Enabled",
        "filter": {},
        "noncurrent_version_expiration": {"noncurrent_days": days},
        "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
    }
