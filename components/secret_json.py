"""A Secrets Manager secret holding one JSON object of named values, encrypted with the stack key.

Containers reference single keys (`arn:...:secret:<name>:<key>::`); the value only ever travels
as a Pulumi secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent


# Marks a resource kept in AWS when its owner leaves the config (see create_json_secret); the
# policy pack's prod-protection rule accepts it in place of `protect`.
RETAINED_TAG = "llm-gateway:retained-on-removal"


@dataclass(frozen=True)
class JsonSecret:
    arn: pulumi.Output[str]
    version_id: pulumi.Output[str]  # changes whenever the value does


def create_json_secret(
    owner: GatewayComponent,
    resource_name: str,
    *,
    secret_name: str,
    description: str,
    values: Mapping[str, pulumi.Input[str]],
    kms_key_arn: pulumi.Input[str],
    protect: bool,
    retain_on_removal: bool = False,
) -> JsonSecret:
    """`retain_on_removal`: the secret belongs to something that can leave the config (a team):
    unprotected so that removal never stops half-way, and kept in AWS (retain_on_delete) when it
    does, tagged so the policy pack accepts it unprotected in prod."""
    options = {"retain_on_delete": True} if retain_on_removal else {}
    secret = aws.secretsmanager.Secret(
        resource_name,
        # A generated suffix keeps re-creation possible while a deleted twin waits out its recovery window.
        name_prefix=f"{secret_name}-",
        description=description,
        kms_key_id=kms_key_arn,
        tags={RETAINED_TAG: "true"} if retain_on_removal else None,
        opts=owner.child(protect=protect and not retain_on_removal, **options),
    )
    keys = list(values)
    version = aws.secretsmanager.SecretVersion(
        resource_name,
        secret_id=secret.id,
        secret_string=pulumi.Output.secret(
            pulumi.Output.all(*values.values()).apply(lambda resolved: json.dumps(dict(zip(keys, resolved, strict=True))))
        ),
        opts=owner.child(protect=protect and not retain_on_removal, **options),
    )
    return JsonSecret(arn=secret.arn, version_id=version.version_id)


def keep_in_secret(owner: GatewayComponent, resource_name: str, *, kms_key_arn: pulumi.Input[str] | None,
                   **secret: object) -> None:
    """Sets `owner.arn` and `owner.version` to a JSON secret's holding the values (create_json_secret
    takes `secret`) and registers the owner's outputs. Without Secrets Manager (compute: local,
    `kms_key_arn` None) there is none: the values stay the owner's Pulumi secrets."""
    stored = None if kms_key_arn is None else create_json_secret(owner, resource_name, kms_key_arn=kms_key_arn, **secret)
    owner.arn = stored and stored.arn
    owner.version = stored and stored.version_id
    owner.register_outputs({"arn": owner.arn} if stored else {})
