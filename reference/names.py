"""Every AWS name the stack derives from its prefix `<project>-<stack>`, and AWS's limit on each.

Names are built here only, and never truncated (a cut name can end in '-', or collide). Instead
the loader bounds the stack name: `max_stack_length` is what the tightest derived name leaves,
and STACK_NAME keeps every name in the narrowest alphabet involved (S3, RDS and ElastiCache:
lowercase letters, digits, single inner hyphens).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A `name_prefix`/`bucket_prefix` is completed by the provider with 26 characters: a timestamp
# to 1/10000 s (18 digits) plus an 8-hex counter (terraform-plugin-sdk helper/id
# PrefixedUniqueId, UniqueIDSuffixLength = 26).
UNIQUE_SUFFIX_LENGTH = 26
STACK_NAME = r"^[a-z0-9]+(-[a-z0-9]+)*$"


@dataclass(frozen=True)
class Limit:
    max_length: int
    pattern: str  # the whole name (for a prefix: the prefix) must match
    source: str


_LABEL = r"[a-z](-?[a-z0-9])*"  # first a letter, no '--', no trailing '-'
LIMITS: dict[str, Limit] = {
    "load balancer": Limit(
        32, r"(?!internal-)[A-Za-z0-9](-?[A-Za-z0-9])*",
        "terraform-provider-aws internal/service/elbv2/validate.go validName"),
    "ElastiCache replication group": Limit(
        40, _LABEL, "ElastiCache API CreateReplicationGroup, ReplicationGroupId"),
    "ElastiCache subnet group": Limit(255, r"[a-z0-9-]+", "ElastiCache API CreateCacheSubnetGroup"),
    "ElastiCache parameter group": Limit(255, _LABEL, "ElastiCache API CreateCacheParameterGroup"),
    "RDS instance": Limit(63, _LABEL, "RDS API CreateDBInstance, DBInstanceIdentifier"),
    "RDS snapshot": Limit(255, _LABEL, "RDS API DeleteDBInstance, FinalDBSnapshotIdentifier"),
    "S3 bucket prefix": Limit(
        63 - UNIQUE_SUFFIX_LENGTH, r"[a-z0-9][a-z0-9.-]*",
        "S3 bucket naming rules (3-63, lowercase); terraform-provider-aws s3 bucket_prefix"),
    "IAM role prefix": Limit(
        64 - UNIQUE_SUFFIX_LENGTH, r"[\w+=,.@-]+", "terraform-provider-aws iam/role.go roleNamePrefixMaxLen"),
    "IAM instance profile prefix": Limit(
        128 - UNIQUE_SUFFIX_LENGTH, r"[\w+=,.@-]+",
        "terraform-provider-aws iam/instance_profile.go instanceProfileNamePrefixMaxLen"),
    "ECS cluster": Limit(255, r"[A-Za-z0-9_-]+", "ECS API CreateCluster, clusterName"),
    "private DNS namespace": Limit(253, r"[a-z0-9-]+(\.[a-z0-9-]+)+", "Cloud Map CreatePrivateDnsNamespace, Name"),
}

# The words that follow the prefix where a name has a variable part (the longest of each kind
# bounds the stack name): ECS workload identities (services/specs.py workload_specs), the
# compose hosts' roles (__main__.py) and the buckets.
ECS_WORKLOADS = ("litellm", "langfuse", "db-init", "teams")
ROLES = ("exec", "task")
HOST_ROLES = ("clickhouse", "gateway")
BUCKETS = ("access-logs", "langfuse")


def prefix(project: str, stack: str) -> str:
    return f"{project}-{stack}"


def cluster(name_prefix: str) -> str:
    return name_prefix


def namespace(name_prefix: str) -> str:
    """The private DNS zone of the ECS services."""
    return f"{name_prefix}.internal"


def database_zone(name_prefix: str) -> str:
    """The private zone holding the database's stable name, in both compute modes. Not the ECS
    namespace's zone (Cloud Map owns that one, and the EC2 mode has none): a subdomain of it, which
    Route53 Resolver answers from as the more specific of overlapping private zones."""
    return f"db.{namespace(name_prefix)}"


def database_host(name_prefix: str) -> str:
    """What every client of PostgreSQL connects to: a CNAME to the instance the stack runs on."""
    return f"postgres.{database_zone(name_prefix)}"


def load_balancer(name_prefix: str) -> str:
    return f"{name_prefix}-alb"


def cache(name_prefix: str) -> str:
    """The ElastiCache replication group id, and its subnet group's name."""
    return f"{name_prefix}-valkey"


def cache_parameters(name_prefix: str, major: str) -> str:
    return f"{name_prefix}-valkey{major}"


def database(name_prefix: str) -> str:
    return f"{name_prefix}-postgres"


def database_instance(name_prefix: str, restored_instance: str | None) -> str:
    """The RDS instance the stack runs on: after a point-in-time restore, the restored one (scripts/restore.py)."""
    return restored_instance or database(name_prefix)


# The final snapshot's random suffix (components/database.py): a new name per instance lifetime.
FINAL_SNAPSHOT_SUFFIX_LENGTH = 8


def final_snapshot(name_prefix: str, suffix: str) -> str:
    return f"{database(name_prefix)}-final-{suffix}"


def bucket_prefix(name_prefix: str, purpose: str) -> str:
    return f"{name_prefix}-{purpose}-"


def workload_role_prefix(name_prefix: str, workload: str, role: str) -> str:
    """An ECS workload's IAM role (`exec` or `task`)."""
    return f"{name_prefix}-{workload}-{role}-"


def host_role_prefix(name_prefix: str, host_role: str) -> str:
    """A compose host's IAM role and instance profile."""
    return f"{name_prefix}-{host_role}-"


def snapshot_role_prefix(name_prefix: str) -> str:
    """The role Data Lifecycle Manager snapshots the data volumes with."""
    return f"{name_prefix}-snapshots-"


# The tag that puts a volume under the stack's snapshot policy; the value keeps stacks sharing an
# account (and Region) out of each other's policies and retention.
SNAPSHOT_TAG_KEY = "llm-gateway-snapshots"


def snapshot_target_tags(name_prefix: str) -> dict[str, str]:
    return {SNAPSHOT_TAG_KEY: name_prefix}


def derived(name_prefix: str) -> list[tuple[str, str]]:
    """(kind in LIMITS, name) for every name built here."""
    return [
        ("load balancer", load_balancer(name_prefix)),
        ("ElastiCache replication group", cache(name_prefix)),
        ("ElastiCache subnet group", cache(name_prefix)),
        ("ElastiCache parameter group", cache_parameters(name_prefix, "99")),
        ("RDS instance", database(name_prefix)),
        ("RDS snapshot", final_snapshot(name_prefix, "x" * FINAL_SNAPSHOT_SUFFIX_LENGTH)),
        *(("S3 bucket prefix", bucket_prefix(name_prefix, b)) for b in BUCKETS),
        *(("IAM role prefix", workload_role_prefix(name_prefix, w, r)) for w in ECS_WORKLOADS for r in ROLES),
        *(("IAM role prefix", host_role_prefix(name_prefix, h)) for h in HOST_ROLES),
        *(("IAM instance profile prefix", host_role_prefix(name_prefix, h)) for h in HOST_ROLES),
        ("IAM role prefix", snapshot_role_prefix(name_prefix)),
        ("ECS cluster", cluster(name_prefix)),
        ("private DNS namespace", namespace(name_prefix)),
        ("private DNS namespace", database_host(name_prefix)),
    ]


def max_stack_length(project: str) -> int:
    """The longest stack name whose every derived name fits AWS's limit."""
    base = prefix(project, "")
    return min(LIMITS[kind].max_length - len(name) for kind, name in derived(base))


def violations(name_prefix: str) -> list[str]:
    """Derived names AWS would refuse: empty for every prefix the loader accepts."""
    found = []
    for kind, name in derived(name_prefix):
        limit = LIMITS[kind]
        if len(name) > limit.max_length or not re.fullmatch(limit.pattern, name):
            found.append(f"{kind} {name!r} (at most {limit.max_length}, {limit.pattern}; {limit.source})")
    return found
