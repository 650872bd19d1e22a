"""Security groups rendered from the intent graph in renderers/network.py, one rule per edge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent
from renderers.network import Rule


@dataclass(frozen=True)
class SecurityGroupsArgs:
    name_prefix: str
    vpc_id: pulumi.Input[str]
    roles: Sequence[str]
    rules: Sequence[Rule]


class SecurityGroups(GatewayComponent):
    def __init__(self, name: str, args: SecurityGroupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        groups = {
            role: aws.ec2.SecurityGroup(
                f"{name}-{role}",
                name_prefix=f"{args.name_prefix}-{role}-",
                description=f"{args.name_prefix} {role}",
                vpc_id=args.vpc_id,
                revoke_rules_on_delete=True,
                tags={"Name": f"{args.name_prefix}-{role}"},
                opts=self.child(),
            )
            for role in args.roles
        }
        for rule in args.rules:
            edge = f"{name}-{_slug(rule.source)}-to-{_slug(rule.target)}-{rule.port}"
            port = {"ip_protocol": "tcp", "from_port": rule.port, "to_port": rule.port, "description": rule.description}
            if not rule.target_is_cidr:  # the target accepts the source
                aws.vpc.SecurityGroupIngressRule(
                    f"{edge}-in", security_group_id=groups[rule.target].id, **_peer(rule.source, groups), **port,
                    opts=self.child(),
                )
            if not rule.source_is_cidr:  # the source may send to the target
                aws.vpc.SecurityGroupEgressRule(
                    f"{edge}-out", security_group_id=groups[rule.source].id, **_peer(rule.target, groups), **port,
                    opts=self.child(),
                )
        self.ids = {role: group.id for role, group in groups.items()}
        self.register_outputs({"ids": self.ids})


def _slug(endpoint: str) -> str:
    return endpoint.replace("/", "_").replace(".", "-")


def _peer(endpoint: str, groups: dict[str, aws.ec2.SecurityGroup]) -> dict:
    if "/" in endpoint:
        return {"cidr_ipv4": endpoint}
    return {"referenced_security_group_id": groups[endpoint].id}
