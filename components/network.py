"""VPC over several AZs: public and private subnets, NAT, S3 gateway endpoint, flow logs, closed default SG."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent, after
from renderers.network import subnet_plan
from config.settings import NetworkSettings


@dataclass(frozen=True)
class NetworkArgs:
    name_prefix: str
    region: str
    settings: NetworkSettings
    kms_key_arn: pulumi.Input[str]


class Network(GatewayComponent):
    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        settings = args.settings
        tags = lambda suffix: {"Name": f"{args.name_prefix}-{suffix}"}  # noqa: E731

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc", cidr_block=settings.vpc_cidr, enable_dns_hostnames=True, enable_dns_support=True,
            tags=tags("vpc"), opts=self.child(),
        )
        # Adopt the default security group and strip its rules: nothing may use it by accident.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id, tags=tags("default-closed"), opts=self.child())

        zones = aws.get_availability_zones_output(state="available").names
        internet_gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags=tags("igw"), opts=self.child())
        public_routes = aws.ec2.RouteTable(
            f"{name}-public", vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": internet_gateway.id}],
            tags=tags("public"), opts=self.child(),
        )

        self.public_subnets: list[aws.ec2.Subnet] = []
        self.private_subnets: list[aws.ec2.Subnet] = []
        for subnet in subnet_plan(settings.vpc_cidr, settings.az_count):
            resource = aws.ec2.Subnet(
                f"{name}-{subnet.tier}-{subnet.az_index}",
                vpc_id=self.vpc.id,
                cidr_block=subnet.cidr,
                availability_zone=zones.apply(lambda names, i=subnet.az_index: names[i]),
                map_public_ip_on_launch=False,
                tags=tags(f"{subnet.tier}-{subnet.az_index}"),
                opts=self.child(),
            )
            (self.public_subnets if subnet.tier == "public" else self.private_subnets).append(resource)
        for i, subnet in enumerate(self.public_subnets):
            aws.ec2.RouteTableAssociation(f"{name}-public-{i}", subnet_id=subnet.id, route_table_id=public_routes.id, opts=self.child())

        nat_count = settings.az_count if settings.nat_gateways == "perAz" else 1
        nats = []
        for i in range(nat_count):
            address = aws.ec2.Eip(f"{name}-nat-{i}", domain="vpc", tags=tags(f"nat-{i}"), opts=self.child())
            nats.append(aws.ec2.NatGateway(
                f"{name}-nat-{i}", allocation_id=address.allocation_id, subnet_id=self.public_subnets[i].id,
                tags=tags(f"nat-{i}"), opts=self.child(depends_on=[internet_gateway]),
            ))
        private_route_tables = []
        # Per private subnet, what its route to the internet is made of (the NAT gateway, the table
        # routing to it, the table's association with the subnet): whatever must reach the internet
        # as soon as it starts (a host's first boot) waits for all of them.
        self.private_egress: list[list[pulumi.Resource]] = []
        for i, subnet in enumerate(self.private_subnets):
            nat = nats[i % nat_count]
            table = aws.ec2.RouteTable(
                f"{name}-private-{i}", vpc_id=self.vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                tags=tags(f"private-{i}"), opts=self.child(),
            )
            association = aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}", subnet_id=subnet.id, route_table_id=table.id, opts=self.child(),
            )
            private_route_tables.append(table)
            self.private_egress.append([nat, table, association])

        # S3 through a free gateway endpoint: Langfuse's event and media traffic skips the NAT.
        aws.ec2.VpcEndpoint(
            f"{name}-s3", vpc_id=self.vpc.id, service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway", route_table_ids=[t.id for t in private_route_tables],
            tags=tags("s3"), opts=self.child(),
        )

        self._flow_logs(name, args)
        self.vpc_id = self.vpc.id
        self.public_subnet_ids = [s.id for s in self.public_subnets]
        self.private_subnet_ids = [s.id for s in self.private_subnets]
        self.register_outputs({
            "vpcId": self.vpc_id,
            "publicSubnetIds": self.public_subnet_ids,
            "privateSubnetIds": self.private_subnet_ids,
        })

    def _flow_logs(self, name: str, args: NetworkArgs) -> None:
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs", name=f"/{args.name_prefix}/vpc-flow-logs",
            retention_in_days=args.settings.flow_log_retention_days, kms_key_id=args.kms_key_arn, opts=self.child(),
        )
        role = aws.iam.Role(
            f"{name}-flow-logs", assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}],
            }),
            opts=self.child(),
        )
        grant = aws.iam.RolePolicy(
            f"{name}-flow-logs", role=role.id,
            policy=log_group.arn.apply(lambda arn: json.dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    "Resource": [arn, f"{arn}:*"],
                }],
            })),
            opts=self.child(),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs", vpc_id=self.vpc.id, traffic_type="ALL", log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn, iam_role_arn=after(role.arn, [grant]), opts=self.child(),
        )
