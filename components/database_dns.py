"""The database's one address: a private DNS name every PostgreSQL client connects to.

The apps' database URLs (in their secrets) and the db-init job name `postgres.db.<prefix>.internal`,
never the RDS endpoint, so a point-in-time restore (a new instance, a new endpoint) moves one CNAME
and no secret, task definition or host configuration changes. The zone is private to the VPC and
exists in both compute modes.

TLS still holds: the apps connect with `sslmode=require`, which encrypts without checking the
server's name (PostgreSQL docs, libpq "SSL Support", table "SSL Mode Descriptions": require = "I
want my data to be encrypted ... I trust that the network will make sure I always connect to the
server I want"). `verify-full` would refuse the name, since RDS certificates name only the
endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent
from reference import names

# The CNAME's TTL: how long a resolver keeps the old target after a restore moves it. The RDS
# endpoint behind it keeps its own short TTL, so Multi-AZ failovers are seen as before.
TTL_SECONDS = 60


@dataclass(frozen=True)
class DatabaseDnsArgs:
    name_prefix: str
    vpc_id: pulumi.Input[str]
    database_address: pulumi.Input[str]  # the RDS endpoint of the instance the stack runs on


class DatabaseDns(GatewayComponent):
    def __init__(self, name: str, args: DatabaseDnsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        zone = aws.route53.Zone(
            f"{name}-zone", name=names.database_zone(args.name_prefix),
            comment=f"{args.name_prefix}: the database's stable name", vpcs=[{"vpc_id": args.vpc_id}],
            opts=self.child(),
        )
        self.record = aws.route53.Record(
            f"{name}-postgres", zone_id=zone.zone_id, name=names.database_host(args.name_prefix), type="CNAME",
            ttl=TTL_SECONDS, records=[args.database_address], opts=self.child(),
        )
        # What the secrets, task definitions and user data carry: known before anything exists, so
        # carrying it waits for nothing. What connects to it waits for `record`, which waits for
        # the instance (a fresh Multi-AZ instance takes about 12 minutes).
        self.host: str = names.database_host(args.name_prefix)
        self.zone_id = zone.zone_id
        self.register_outputs({"host": self.record.name, "zoneId": self.zone_id})
