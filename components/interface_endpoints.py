"""Interface VPC endpoints (optional): AWS APIs reached without the NAT gateway."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent
from renderers.network import INTERFACE_ENDPOINT_SERVICES


@dataclass(frozen=True)
class InterfaceEndpointsArgs:
    name_prefix: str
    region: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]


class InterfaceEndpoints(GatewayComponent):
    def __init__(self, name: str, args: InterfaceEndpointsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        for service in INTERFACE_ENDPOINT_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=args.vpc_id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=list(args.subnet_ids),
                security_group_ids=[args.security_group_id],
                tags={"Name": f"{args.name_prefix}-{service}"},
                opts=self.child(),
            )
        self.register_outputs({})
