"""Stack rules of the llm-gateway policy pack: pure functions over the whole resource graph.

A stack check has the signature `check(resources, ctx) -> list[(urn, message)]` over `Res`
objects: what `StackValidationArgs.resources` carries (each resource's final *outputs*, its
options, dependencies and per-property dependencies), as plain data.

"Does resource A point at resource B" is answered by `refers_to`: by value when both sides are
known (`pulumi up`: a rule's `securityGroupId` equals the group's id), else by the engine's
per-property dependencies (`pulumi preview`: the id is unknown, but the rule's `securityGroupId`
was computed from that group), else by plain dependencies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

if __package__:
    from . import rules as r
else:  # run by `python -m pulumi.policy` from inside policy/
    import rules as r


@dataclass(frozen=True)
class Res:
    """One resource of the stack as a stack policy sees it."""

    typ: str
    urn: str
    name: str
    props: dict  # outputs (camelCase), plain
    protect: bool = False
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


StackCheck = Callable[[list[Res], r.Context], list[tuple[str | None, str]]]

BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACCOUNT_PUBLIC_ACCESS_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
BUCKET_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
BUCKET_LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
EBS_VOLUME = r.EBS_VOLUME
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")

GROUP_TYPES = (r.SECURITY_GROUP, r.DEFAULT_SECURITY_GROUP)
RULE_TYPES = (r.INGRESS_RULE, r.EGRESS_RULE, r.SECURITY_GROUP_RULE,
              "aws:ec2/securityGroupIngressRule:SecurityGroupIngressRule")
# Properties through which a resource puts itself *inside* a security group (not: names it as a peer).
ATTACHING_PROPS = (
    "vpcSecurityGroupIds", "securityGroups", "securityGroupIds", "securityGroupId", "networkConfiguration",
    "vpcConfig", "networkInterfaces", "vpcOptions", "security_group_ids", "security_groups",
)
STATEFUL_TYPES = {
    r.RDS_INSTANCE: "RDS instance",
    r.RDS_CLUSTER: "RDS cluster",
    r.SECRET: "Secrets Manager secret",
    r.KMS_KEY: "KMS key",
    **{bucket: "S3 bucket" for bucket in BUCKETS},
    EBS_VOLUME: "EBS volume",
}


def identifiers(res: Res) -> set[str]:
    """The known values other resources use to point at `res`."""
    return {
        value for key in ("id", "arn", "bucket")
        if isinstance(value := res.props.get(key), str) and value and not r.is_unknown(value)
    }


def refers_to(source: Res, prop: str, target: Res) -> bool:
    """Whether `source.props[prop]` points at `target` (by value, property dependency, dependency)."""
    value = source.props.get(prop)
    ids = identifiers(target)
    if value is not None:
        if ids & set(r.strings_in(value)):
            return True
        if ids and not r.contains_unknown(value):
            return False
    dependencies = source.property_dependencies.get(prop)
    if dependencies is not None:
        return target.urn in dependencies
    if value is None:
        return False
    return target.urn in source.dependencies


def of_type(resources: list[Res], *types: str) -> list[Res]:
    return [res for res in resources if res.typ in types]


def _mapping(value: Any) -> dict:
    """`value` when it is an object; {} when absent or not known yet (preview)."""
    return value if isinstance(value, dict) else {}


# --- internet-facing security groups --------------------------------------------------------------

def attaches(res: Res, group: Res) -> bool:
    """Whether `res` (not a rule, group or load balancer) runs inside `group`."""
    if res.typ in GROUP_TYPES or res.typ in RULE_TYPES or res.typ in r.LOAD_BALANCERS:
        return False
    props = set(res.props) | set(res.property_dependencies)
    return any(refers_to(res, prop, group) for prop in ATTACHING_PROPS if prop in props)


def world_ingress_only_on_load_balancers(resources: list[Res], ctx: r.Context) -> list[tuple[str | None, str]]:
    """Ingress from 0.0.0.0/0 or ::/0 only on a group that a load balancer uses and nothing else does.

    The load balancer's group is identified by the graph (the group a `aws:lb/LoadBalancer` lists in
    `securityGroups`), not by its name or description: a name proves nothing about what the group
    protects, and a group shared with an instance or a task would expose that too.
    """
    groups = of_type(resources, *GROUP_TYPES)
    balancers = of_type(resources, *r.LOAD_BALANCERS)
    found = []
    for res in of_type(resources, *GROUP_TYPES, r.INGRESS_RULE, r.SECURITY_GROUP_RULE):
        try:
            opened = r.world_ingress(res.typ, res.props)
        except r.Unknown:
            continue  # not known during preview; the resource rule reports that
        if not opened:
            continue
        what = ", ".join(sorted({f"{o.cidr} {o.ports}" for o in opened}))
        targets = [res] if res.typ in GROUP_TYPES else [g for g in groups if refers_to(res, "securityGroupId", g)]
        if not targets:
            found.append((res.urn, f"{r.short_type(res.typ)} {res.name} opens {what} on a security group this stack "
                                   "does not define, so it cannot be shown to belong to a load balancer"))
        for group in targets:
            fronted = [lb for lb in balancers if refers_to(lb, "securityGroups", group)]
            users = [x for x in resources if attaches(x, group)]
            opening = f"{r.short_type(res.typ)} {res.name} opens {what} on security group {group.name}"
            if group.typ == r.DEFAULT_SECURITY_GROUP or not fronted:
                protects = f" (it protects {', '.join(f'{r.short_type(u.typ)} {u.name}' for u in users)})" if users else ""
                found.append((res.urn, f"{opening}, which no load balancer uses{protects}: only the load "
                                       "balancer may face the internet"))
                continue
            for other in users:
                found.append((res.urn, f"{opening}, which {r.short_type(other.typ)} {other.name} also uses: "
                                       "give the load balancer a group of its own"))
            # An internal load balancer has private addresses only: 0.0.0.0/0 there is whoever routes
            # into the VPC, not the internet. An internet-facing one in prod faces everyone only by intent.
            facing = [lb.name for lb in fronted if lb.props.get("internal") is not True]
            if facing and ctx.prod and not ctx.public_load_balancer:
                found.append((res.urn, f"{opening}, which internet-facing load balancer {', '.join(facing)} uses: "
                                       "in prod the gateway faces the whole internet only when it is meant to "
                                       "(loadBalancer.public: true, or policy config publicLoadBalancer)"))
    return found


# --- S3 --------------------------------------------------------------------------------------------

def _all_flags(res: Res) -> bool:
    return all(res.props.get(flag) is True for flag in PUBLIC_ACCESS_FLAGS)


def s3_public_access_blocked(resources: list[Res], ctx: r.Context) -> list[tuple[str | None, str]]:
    if any(_all_flags(account) for account in of_type(resources, ACCOUNT_PUBLIC_ACCESS_BLOCK)):
        return []
    blocks = of_type(resources, PUBLIC_ACCESS_BLOCK)
    found = []
    for bucket in of_type(resources, *BUCKETS):
        mine = [block for block in blocks if refers_to(block, "bucket", bucket)]
        if not mine:
            found.append((bucket.urn, f"S3 bucket {bucket.name} has no aws:s3/BucketPublicAccessBlock"))
        elif not any(_all_flags(block) for block in mine):
            off = sorted({flag for block in mine for flag in PUBLIC_ACCESS_FLAGS if block.props.get(flag) is not True})
            found.append((bucket.urn, f"S3 bucket {bucket.name}: its public access block leaves {', '.join(off)} "
                                      "not true (all four must be true)"))
    return found


def log_target_buckets(resources: list[Res]) -> list[Res]:
    """Buckets that receive access logs (load balancer or S3 server access logs).

    Those take SSE-S3 (ALB log delivery accepts nothing else) and do not log into themselves.
    """
    buckets = of_type(resources, *BUCKETS)
    targets = []
    for bucket in buckets:
        by_lb = any(
            refers_to(lb, "accessLogs", bucket) and _mapping(lb.props.get("accessLogs")).get("enabled") is not False
            for lb in of_type(resources, *r.LOAD_BALANCERS)
        )
        by_s3 = any(refers_to(logging, "targetBucket", bucket) for logging in of_type(resources, *BUCKET_LOGGING))
        if by_lb or by_s3:
            targets.append(bucket)
    return targets


def _denies_plain_http(policy: Any) -> bool:
    for statement in r.statements(policy):
        secure = _mapping(_mapping(statement.get("Condition")).get("Bool")).get("aws:SecureTransport")
        if statement.get("Effect") == "Deny" and str(secure).lower() == "false":
            return True
    return False


def s3_bucket_baseline(resources: list[Res], ctx: r.Context) -> list[tuple[str | None, str]]:
    """Versioned, SSE-KMS (SSE-S3 for log targets), access-logged (except log targets), TLS-only."""
    log_targets = {b.urn for b in log_target_buckets(resources)}
    found = []
    for bucket in of_type(resources, *BUCKETS):
        name = f"S3 bucket {bucket.name}"
        versioning = [v for v in of_type(resources, *BUCKET_VERSIONING) if refers_to(v, "bucket", bucket)]
        if not any(_mapping(v.props.get("versioningConfiguration")).get("status") == "Enabled" for v in versioning) \
                and _mapping(bucket.props.get("versioning")).get("enabled") is not True:
            found.append((bucket.urn, f"{name} is not versioned (aws:s3/BucketVersioning status Enabled)"))

        configs = [c for c in of_type(resources, *BUCKET_ENCRYPTION) if refers_to(c, "bucket", bucket)]
        algorithms = {
            str(_mapping(rule.get("applyServerSideEncryptionByDefault")).get("sseAlgorithm"))
            for config in configs for rule in r.as_list(config.props.get("rules")) if isinstance(rule, dict)
        } - {r.UNKNOWN_STRING_VALUE}
        if not algorithms and any(r.contains_unknown(c.props.get("rules")) for c in configs):
            pass  # not known until `up`
        elif not algorithms:
            found.append((bucket.urn, f"{name} has no server-side encryption configuration"))
        elif not algorithms & {"aws:kms", "aws:kms:dsse"} and bucket.urn not in log_targets:
            found.append((bucket.urn, f"{name} is encrypted with {', '.join(sorted(algorithms))}, not SSE-KMS "
                                      "(only access-log buckets may use SSE-S3)"))

        logged = any(refers_to(logging, "bucket", bucket) for logging in of_type(resources, *BUCKET_LOGGING))
        if not logged and bucket.urn not in log_targets:
            found.append((bucket.urn, f"{name} has no access logging (aws:s3/BucketLogging)"))

        policies = [p for p in of_type(resources, BUCKET_POLICY) if refers_to(p, "bucket", bucket)]
        documents = []
        for policy in policies:
            try:
                documents.append(r.json_document(policy.props.get("policy"), "policy"))
            except r.Unknown:
                documents.append(None)  # known after `up`; cannot judge during preview
            except (ValueError, TypeError):
                documents.append({})
        if None not in documents and not any(_denies_plain_http(d) for d in documents):
            found.append((bucket.urn, f"{name} has no bucket policy denying requests without TLS "
                                      "(Deny when aws:SecureTransport is false)"))
    return found


# --- protection in prod ----------------------------------------------------------------------------

# A resource that belongs to something the config can remove (a team's key secret) is kept in AWS
# on removal (retain_on_delete, which policies cannot see) instead of protected, so that removing
# the team never stops half-way; the program tags it (components/secret_json.py RETAINED_TAG).
RETAINED_ON_REMOVAL_TAG = "llm-gateway:retained-on-removal"


def stateful_resources_protected(resources: list[Res], ctx: r.Context) -> list[tuple[str | None, str]]:
    if not ctx.prod:
        return []
    return [
        (res.urn, f"{STATEFUL_TYPES[res.typ]} {res.name} is not protected (ResourceOptions(protect=True)): "
                  "in prod a destroy or an accidental replacement must stop instead")
        for res in resources
        if res.typ in STATEFUL_TYPES and not res.protect
        and (res.typ != r.SECRET or (res.props.get("tags") or {}).get(RETAINED_ON_REMOVAL_TAG) != "true")
    ]


# --- network baseline --------------------------------------------------------------------------------

def vpc_flow_logs(resources: list[Res], ctx: r.Context) -> list[tuple[str | None, str]]:
    flow_logs = of_type(resources, FLOW_LOG)
    return [
        (vpc.urn, f"VPC {vpc.name} has no flow log (aws:ec2/FlowLog with vpcId)")
        for vpc in of_type(resources, VPC)
        if not any(refers_to(log, "vpcId", vpc) for log in flow_logs)
    ]


def default_security_group_closed(resources: list[Res], ctx: r.Context) -> list[tuple[str | None, str]]:
    adopted = of_type(resources, r.DEFAULT_SECURITY_GROUP)
    found = []
    for vpc in of_type(resources, VPC):
        mine = [group for group in adopted if refers_to(group, "vpcId", vpc)]
        if not mine:
            found.append((vpc.urn, f"VPC {vpc.name}: its default security group is not adopted and stripped "
                                   "(aws:ec2/DefaultSecurityGroup without rules)"))
    for group in adopted:
        rules_left = [key for key in ("ingress", "egress")
                      if not r.contains_unknown(group.props.get(key)) and r.as_list(group.props.get(key))]
        if rules_left:
            found.append((group.urn, f"default security group {group.name} keeps {' and '.join(rules_left)} rules; "
                                     "it must allow nothing"))
    return found
