"""Which AWS identity the deploy's own AWS calls use: the stack's AWS provider's, not boto3's default.

The one-off jobs and host commands (components/one_off_task.py, components/host_command.py) call ECS
and SSM from the deploying machine with boto3. The provider signs with what the stack configures
(pulumi-aws 7.x provider config: `aws:profile`, `aws:region`, `aws:assumeRoles`, a list of roles
assumed in turn; pulumi-aws provider/resources.go parseAssumeRoles), so the jobs must too. Only
non-secret parts are carried into the dynamic resources' inputs (and so into state): the profile's
name, and per role its ARN, session name, external id, source identity, session policy, policy ARNs
and session tags. A role's `duration` is not carried: boto3 refreshes the session before it expires.

Refused, with the reason: configuration the jobs cannot follow without a secret in their inputs
(`aws:accessKey` / `aws:secretKey` / `aws:token`: use a profile or the environment, which both read),
web identity (`aws:assumeRoleWithWebIdentity`: use AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE,
which both read), other credential files (`aws:sharedConfigFiles`, `aws:sharedCredentialsFiles`: use
AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE), and v6's `aws:assumeRole` (pulumi-aws 7 refuses it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Any

ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$"
SESSION_NAME = r"^[\w+=,.@-]{2,64}$"  # STS AssumeRole RoleSessionName
EXTERNAL_ID = r"^[\w+=,.@:/-]{2,1224}$"  # STS AssumeRole ExternalId
PROFILE = r"^[^\s\[\]]{1,128}$"
DEFAULT_SESSION_NAME = "llm-gateway-deploy"

# aws:assumeRoles[i] keys the jobs follow (camelCase as in stack config) -> AssumedRole fields.
ROLE_KEYS = {
    "roleArn": "role_arn", "sessionName": "session_name", "externalId": "external_id",
    "sourceIdentity": "source_identity", "policy": "policy", "policyArns": "policy_arns", "tags": "tags",
    "transitiveTagKeys": "transitive_tag_keys", "duration": None,
}
REFUSED = {
    "aws:accessKey": "use a named profile (aws:profile) or the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
    "aws:secretKey": "use a named profile (aws:profile) or the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
    "aws:token": "use a named profile (aws:profile) or the environment (AWS_SESSION_TOKEN)",
    "aws:assumeRoleWithWebIdentity": "use the environment (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)",
    "aws:sharedConfigFiles": "use the environment (AWS_CONFIG_FILE)",
    "aws:sharedCredentialsFiles": "use the environment (AWS_SHARED_CREDENTIALS_FILE)",
}


@dataclass(frozen=True)
class AssumedRole:
    """One hop of aws:assumeRoles, as STS AssumeRole takes it."""

    role_arn: str
    session_name: str = DEFAULT_SESSION_NAME
    external_id: str | None = None
    source_identity: str | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeployCredentials:
    profile: str | None = None
    assume_roles: tuple[AssumedRole, ...] = ()

    def as_input(self) -> dict[str, Any]:
        """What the dynamic resources take (and keep in state): plain JSON, never a secret; without the
        empty values, which the engine drops."""
        roles = [{key: json.loads(json.dumps(value)) for key, value in asdict(role).items() if value not in (None, ())}
                 for role in self.assume_roles]  # tuples as the lists the engine hands back
        return {"assume_roles": roles, **({"profile": self.profile} if self.profile else {})}


def assume_role_request(role: Mapping[str, Any]) -> dict[str, Any]:
    """STS AssumeRole's parameters for one hop of `DeployCredentials.as_input()`."""
    request: dict[str, Any] = {"RoleArn": role["role_arn"], "RoleSessionName": role.get("session_name") or DEFAULT_SESSION_NAME}
    optional = {"ExternalId": role.get("external_id"), "SourceIdentity": role.get("source_identity"), "Policy": role.get("policy")}
    request |= {key: value for key, value in optional.items() if value}
    if role.get("policy_arns"):
        request["PolicyArns"] = [{"arn": arn} for arn in role["policy_arns"]]
    if role.get("tags"):
        request["Tags"] = [{"Key": key, "Value": value} for key, value in role["tags"]]
    if role.get("transitive_tag_keys"):
        request["TransitiveTagKeys"] = list(role["transitive_tag_keys"])
    return request


Problem = Callable[..., object]  # config.loader's problems.add(path, message, value=...)


def parse_deploy_credentials(raw_config: Mapping[str, Any], secret_keys: Collection[str], problem: Problem) -> DeployCredentials:
    """The provider's identity from the `aws:` stack config; every problem goes to `problem`."""
    for key, instead in REFUSED.items():
        if key in raw_config:
            problem(key, f"is not carried into the deploy's own AWS calls (one-off jobs, host commands): {instead}, "
                    "which the AWS provider and those calls both read")
    if "aws:assumeRole" in raw_config:
        problem("aws:assumeRole", "is pulumi-aws 6's key: pulumi-aws 7 takes aws:assumeRoles, a list")
    profile = raw_config.get("aws:profile")
    if profile is not None and ("aws:profile" in secret_keys or not re.fullmatch(PROFILE, str(profile))):
        problem("aws:profile", f"must be a profile name matching {PROFILE}, in plain text")
        profile = None
    roles = _decode(raw_config.get("aws:assumeRoles", []))
    if not isinstance(roles, list) or "aws:assumeRoles" in secret_keys:
        problem("aws:assumeRoles", "must be a list of {roleArn, sessionName?, externalId?, ...}, in plain text")
        return DeployCredentials(profile)
    parsed = [_role(role, f"aws:assumeRoles[{i}]", problem) for i, role in enumerate(roles)]
    return DeployCredentials(profile, tuple(role for role in parsed if role is not None))


def _decode(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value


def _role(raw: Any, path: str, problem: Problem) -> AssumedRole | None:
    if not isinstance(raw, dict):
        problem(path, "must be an object {roleArn, sessionName?, externalId?, ...}")
        return None
    valid = True
    for key in raw:
        if key not in ROLE_KEYS:
            problem(f"{path}.{key}", f"is not a key of aws:assumeRoles (known: {', '.join(sorted(ROLE_KEYS))})")
            valid = False
    for key, pattern in (("roleArn", ROLE_ARN), ("sessionName", SESSION_NAME), ("externalId", EXTERNAL_ID)):
        value = raw.get(key)
        if (key == "roleArn" or value is not None) and not (isinstance(value, str) and re.fullmatch(pattern, value)):
            problem(f"{path}.{key}", f"must match {pattern}", value)
            valid = False
    if not valid:
        return None
    fields = {ROLE_KEYS[key]: value for key, value in raw.items() if ROLE_KEYS[key]}
    return AssumedRole(**{
        **fields,
        "policy_arns": tuple(fields.get("policy_arns", ())),
        "tags": tuple(sorted(dict(fields.get("tags", {})).items())),
        "transitive_tag_keys": tuple(fields.get("transitive_tag_keys", ())),
    })
