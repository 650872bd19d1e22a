"""Which AWS identity the deploy's own AWS calls use: the stack's AWS provider's, not boto3's default.

The one-off jobs and host commands (components/one_off_task.py, components/host_command.py) call ECS
and SSM from the deploying machine with boto3. The provider signs with what the stack configures
(pulumi-aws 7.x provider config: `aws:profile`, `aws:region`, `aws:assumeRoles`, a list of roles
assumed in turn; pulumi-aws provider/resources.go parseAssumeRoles), so the jobs must too. Only
non-secret parts are carried into the dynamic resources' inputs (and so into state): the profile's
name, and per role its ARN, session name, external id, source identity, session policy, policy ARNs
and session tags. config/settings.py reads them from the stack (and refuses what the jobs cannot
follow); this is the form they are carried in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_SESSION_NAME = "llm-gateway-deploy"


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
