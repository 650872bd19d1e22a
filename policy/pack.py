"""The llm-gateway policies: rule logic from `rules`/`graph` wrapped into pulumi_policy objects.

`POLICIES` is what `__main__.py` hands to `PolicyPack`; tests import it without starting the
analyzer server. Each policy converts the SDK's arguments to plain data, runs a pure check and
reports one violation per message (stack policies attach each to the offending resource's URN).

Policy config (`pulumi preview --policy-pack policy --policy-pack-config <file>`), per policy:
- `environment`: the environment to judge as (`prod` or `stg`); default: the program's
  `llm-gateway:environment` config, else the stack name.
- `publicPorts` (security-group policies): ports the load balancer may open to the internet
  (default [80, 443]).
- `allowedEnvNames` (secret policies): secret-looking variable names that are known not to be.
- `publicLoadBalancer`: the gateway is meant to face the whole internet (prod then may open an
  internet-facing load balancer to 0.0.0.0/0); default: the program's `llm-gateway:loadBalancer.public`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

if __package__:
    from . import graph as g
    from . import rules as r
else:  # run by `python -m pulumi.policy` from inside policy/
    import graph as g
    import rules as r

PACK_NAME = "llm-gateway"
PROJECT = "llm-gateway"  # the program's config namespace
MANDATORY, ADVISORY = EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY

CONFIG_SCHEMA = PolicyConfigSchema(properties={
    "environment": {"type": "string", "enum": ["stg", "prod"]},
    "publicPorts": {"type": "array", "items": {"type": "integer"}},
    "allowedEnvNames": {"type": "array", "items": {"type": "string"}},
    "publicLoadBalancer": {"type": "boolean"},
})


# --- environment ----------------------------------------------------------------------------------

def runtime_environment() -> str:
    """What the engine says: `llm-gateway:environment` from the stack config, else the stack name.

    The CLI starts the pack with PULUMI_STACK/PULUMI_CONFIG set and the SDK configures the Pulumi
    runtime from them before each analysis, so both are readable here.
    """
    try:
        configured = pulumi.runtime.get_config(f"{PROJECT}:environment")
    except Exception:  # noqa: BLE001 - no runtime configured (e.g. `pulumi policy publish`)
        configured = None
    if configured:
        return str(configured)
    try:
        return pulumi.get_stack() or ""
    except Exception:  # noqa: BLE001
        return ""


def runtime_public_load_balancer() -> bool:
    """What the stack config says: `llm-gateway:loadBalancer` (a JSON object) with `public: true`."""
    try:
        configured = pulumi.runtime.get_config(f"{PROJECT}:loadBalancer")
    except Exception:  # noqa: BLE001 - no runtime configured
        return False
    try:
        value = json.loads(configured) if isinstance(configured, str) else configured
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("public") in (True, "true")


def context(config: Mapping[str, Any]) -> r.Context:
    config = dict(config or {})
    public = config.get("publicLoadBalancer")
    return r.Context.from_config(
        config, str(config.get("environment") or runtime_environment()),
        bool(public) if public is not None else runtime_public_load_balancer(),
    )


# --- adapters -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    level: EnforcementLevel
    check: Callable
    types: tuple[str, ...] = ()  # resource rules: the resource types it reads; () for stack rules
    severity: Severity = Severity.HIGH
    checkov: tuple[str, ...] = ()
    remediation: str | None = None
    tags: tuple[str, ...] = field(default=())

    @property
    def stack(self) -> bool:
        return not self.types


def _resource_validate(rule: Rule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in rule.types:
            return
        ctx = context(args.get_config())
        try:
            messages = rule.check(args.resource_type, r.plain(args.props), ctx)
        except r.Unknown as unknown:  # the SDK reports "can't run policy during preview"
            raise UnknownValueError(UNKNOWN_STRING_VALUE, unknown.path.split(".")) from None
        for message in messages:
            report_violation(message, None)

    return validate


def stack_resource(resource: Any) -> g.Res:
    """A `pulumi_policy.PolicyResource` as plain data."""
    return g.Res(
        typ=resource.resource_type,
        urn=resource.urn,
        name=resource.name,
        props=r.plain(resource.props),
        protect=bool(resource.opts.protect),
        parent=resource.parent.urn if resource.parent is not None else None,
        dependencies=tuple(d.urn for d in resource.dependencies),
        property_dependencies={k: tuple(d.urn for d in v) for k, v in resource.property_dependencies.items()},
    )


def _stack_validate(rule: Rule) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [stack_resource(resource) for resource in args.resources]
        for urn, message in rule.check(resources, context(args.get_config())):
            report_violation(message, urn)

    return validate


def build(rule: Rule):
    common = dict(
        name=rule.name, description=rule.description, enforcement_level=rule.level, config_schema=CONFIG_SCHEMA,
        severity=rule.severity, remediation_steps=rule.remediation,
        tags=[*rule.tags, *rule.checkov] or None,
    )
    if rule.stack:
        return StackValidationPolicy(validate=_stack_validate(rule), **common)
    return ResourceValidationPolicy(validate=_resource_validate(rule), **common)


# --- the rules ------------------------------------------------------------------------------------

IAM_POLICY_TYPES = (r.IAM_POLICY, r.IAM_ROLE_POLICY, r.IAM_USER_POLICY, r.IAM_GROUP_POLICY, r.IAM_ROLE)

RULES: tuple[Rule, ...] = (
    # Required by the platform's security model.
    Rule("rds-not-public-and-encrypted", "RDS databases are not publicly accessible and encrypt their storage.",
         MANDATORY, r.rds_not_public_and_encrypted, (r.RDS_INSTANCE, r.RDS_CLUSTER, r.RDS_CLUSTER_INSTANCE),
         Severity.CRITICAL, ("CKV_AWS_16", "CKV_AWS_17")),
    Rule("security-group-world-ingress-ports",
         "Security groups open to 0.0.0.0/0 or ::/0 only on the load balancer's public ports (TCP 80/443).",
         MANDATORY, r.security_group_world_ingress_ports,
         (r.SECURITY_GROUP, r.DEFAULT_SECURITY_GROUP, r.INGRESS_RULE, r.SECURITY_GROUP_RULE),
         Severity.CRITICAL, ("CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_260", "CKV_AWS_277")),
    Rule("world-ingress-only-on-load-balancer",
         "Only the load balancer's own security group (used by a load balancer and by nothing else) accepts "
         "traffic from the internet; in prod an internet-facing one only when the gateway is meant to be public "
         "(publicLoadBalancer / loadBalancer.public).",
         MANDATORY, g.world_ingress_only_on_load_balancers, (), Severity.CRITICAL, ("CKV2_AWS_5",)),
    Rule("no-secrets-in-container-environment",
         "ECS container definitions carry no secret in `environment` (names like *PASSWORD/*SECRET/*_KEY/*TOKEN "
         "with a literal, or values that look like keys, tokens, private keys or URLs with passwords).",
         MANDATORY, r.no_secrets_in_container_environment, (r.TASK_DEFINITION,), Severity.CRITICAL, (),
         "Reference the secret from Secrets Manager in the container's `secrets` (valueFrom) instead."),
    Rule("no-secrets-in-user-data",
         "EC2 user data (including gz+b64 cloud-config files and compose environments) carries no secret.",
         MANDATORY, r.no_secrets_in_user_data, (r.INSTANCE, r.LAUNCH_TEMPLATE), Severity.CRITICAL, ("CKV_AWS_46",),
         "Fetch secrets at boot from Secrets Manager (the host's secrets fetcher) instead."),
    Rule("images-pinned-by-digest",
         "Every container image (ECS task definitions, compose files in user data) is pinned by @sha256 digest.",
         MANDATORY, r.images_pinned_by_digest, (r.TASK_DEFINITION, r.INSTANCE, r.LAUNCH_TEMPLATE), Severity.HIGH),
    Rule("bedrock-access-scoped",
         "IAM grants Bedrock action by action on named model/profile ARNs: no bedrock:* or * actions on Bedrock "
         "resources, no Bedrock action on Resource '*'.",
         MANDATORY, r.bedrock_access_scoped, IAM_POLICY_TYPES, Severity.HIGH, ("CKV_AWS_355", "CKV_AWS_290")),
    Rule("s3-public-access-blocked",
         "Every S3 bucket has a public access block with all four flags true.",
         MANDATORY, g.s3_public_access_blocked, (), Severity.CRITICAL, ("CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55",
                                                                         "CKV_AWS_56", "CKV2_AWS_6")),
    Rule("log-group-retention", "CloudWatch log groups set a retention (retentionInDays > 0).",
         MANDATORY, r.log_group_retention, (r.LOG_GROUP,), Severity.MEDIUM, ("CKV_AWS_66",)),
    Rule("stateful-resources-protected-in-prod",
         "In prod, RDS databases, Secrets Manager secrets, KMS keys, S3 buckets and EBS volumes are protected.",
         MANDATORY, g.stateful_resources_protected, (), Severity.HIGH),
    # Recommended (checkov-like) rules the program meets: mandatory, so it keeps meeting them.
    Rule("log-group-kms", "CloudWatch log groups are encrypted with a customer-managed KMS key.",
         MANDATORY, r.log_group_kms, (r.LOG_GROUP,), Severity.MEDIUM, ("CKV_AWS_158",)),
    Rule("secret-kms", "Secrets Manager secrets are encrypted with a customer-managed KMS key.",
         MANDATORY, r.secret_kms, (r.SECRET,), Severity.MEDIUM, ("CKV_AWS_149",)),
    Rule("rds-hardening",
         "RDS uses the stack's CMK, exports logs, enables IAM auth, enhanced monitoring, minor upgrades, tag "
         "copy to snapshots, >= 7 days of backups; PostgreSQL parameter groups force TLS.",
         MANDATORY, r.rds_hardening, (r.RDS_INSTANCE, r.RDS_PARAMETER_GROUP), Severity.MEDIUM,
         ("CKV_AWS_118", "CKV_AWS_129", "CKV_AWS_133", "CKV_AWS_161", "CKV_AWS_226", "CKV_AWS_354",
          "CKV2_AWS_60", "CKV2_AWS_69")),
    Rule("deletion-protection-in-prod",
         "In prod, RDS and the load balancer have deletion protection and the database keeps a final snapshot.",
         MANDATORY, r.deletion_protection_in_prod, (r.RDS_INSTANCE, r.RDS_CLUSTER, *r.LOAD_BALANCERS),
         Severity.HIGH, ("CKV_AWS_293", "CKV_AWS_150")),
    Rule("vpc-flow-logs", "Every VPC has flow logs.", MANDATORY, g.vpc_flow_logs, (), Severity.MEDIUM,
         ("CKV2_AWS_11",)),
    Rule("default-security-group-closed", "Every VPC's default security group is adopted and allows nothing.",
         MANDATORY, g.default_security_group_closed, (), Severity.MEDIUM, ("CKV2_AWS_12",)),
    Rule("load-balancer-hardening", "Load balancers write access logs and drop invalid HTTP header fields.",
         MANDATORY, r.load_balancer_hardening, r.LOAD_BALANCERS, Severity.MEDIUM, ("CKV_AWS_91", "CKV_AWS_131")),
    Rule("s3-bucket-baseline",
         "S3 buckets are versioned, SSE-KMS encrypted (SSE-S3 only for access-log buckets), access-logged (except "
         "log buckets themselves) and deny requests without TLS.",
         MANDATORY, g.s3_bucket_baseline, (), Severity.MEDIUM,
         ("CKV_AWS_18", "CKV_AWS_19", "CKV_AWS_21", "CKV_AWS_145")),
    Rule("ec2-instance-hardening",
         "EC2 hosts require IMDSv2, get no public IP, encrypt their volumes, use detailed monitoring and EBS "
         "optimization.", MANDATORY, r.ec2_instance_hardening, (r.INSTANCE, r.LAUNCH_TEMPLATE), Severity.HIGH,
         ("CKV_AWS_79", "CKV_AWS_88", "CKV_AWS_8", "CKV_AWS_126", "CKV_AWS_135")),
    Rule("ebs-volume-encrypted", "EBS volumes are encrypted with a customer-managed KMS key.",
         MANDATORY, r.ebs_volume_encrypted, (r.EBS_VOLUME,), Severity.HIGH, ("CKV_AWS_3", "CKV_AWS_189")),
    Rule("kms-key-hardening", "KMS keys rotate and their policies allow no anonymous principal.",
         MANDATORY, r.kms_key_hardening, (r.KMS_KEY,), Severity.HIGH, ("CKV_AWS_7", "CKV_AWS_33")),
    Rule("subnet-no-public-ip-on-launch", "Subnets do not assign public IPs on launch.",
         MANDATORY, r.subnet_no_public_ip, (r.SUBNET,), Severity.MEDIUM, ("CKV_AWS_130",)),
    Rule("ecs-hardening",
         "ECS: Container Insights on, no public IPs on services, no privileged or host-namespace tasks, separate "
         "execution and task roles.", MANDATORY, r.ecs_hardening, (r.ECS_CLUSTER, r.ECS_SERVICE, r.TASK_DEFINITION),
         Severity.MEDIUM, ("CKV_AWS_65", "CKV_AWS_333", "CKV_AWS_334", "CKV_AWS_335", "CKV_AWS_249")),
    Rule("elasticache-encrypted",
         "ElastiCache encrypts at rest (CMK) and in transit and requires an auth token.",
         MANDATORY, r.elasticache_encrypted, (r.ELASTICACHE_REPLICATION_GROUP,), Severity.HIGH,
         ("CKV_AWS_29", "CKV_AWS_30", "CKV_AWS_31", "CKV_AWS_191")),
    Rule("iam-least-privilege",
         "No administrator grants: no '*' actions, no iam:*/iam:PassRole on '*', no AdministratorAccess, "
         "IAMFullAccess or PowerUserAccess attachments.",
         MANDATORY, r.iam_least_privilege,
         (*IAM_POLICY_TYPES, r.IAM_ROLE_POLICY_ATTACHMENT, r.IAM_POLICY_ATTACHMENT, r.IAM_USER_POLICY_ATTACHMENT,
          r.IAM_GROUP_POLICY_ATTACHMENT), Severity.HIGH,
         ("CKV_AWS_1", "CKV_AWS_62", "CKV_AWS_63", "CKV_AWS_274", "CKV_AWS_286")),
    # Advisory: the shipped stacks do not meet these everywhere, by documented choice.
    Rule("load-balancer-tls",
         "Load balancer listeners serve HTTPS with TLS >= 1.2, or redirect HTTP to HTTPS "
         "(stg without a domain serves plain HTTP: allowInsecureHttp, refused in prod by the config loader).",
         ADVISORY, r.listener_tls, r.LISTENERS, Severity.HIGH, ("CKV_AWS_2", "CKV_AWS_103", "CKV2_AWS_20")),
    Rule("prod-resilience",
         "In prod: Multi-AZ database with Performance Insights, cache failover, logs kept >= 365 days "
         "(all are stack settings, so an operator may trade them for cost).",
         ADVISORY, r.prod_resilience, (r.RDS_INSTANCE, r.LOG_GROUP, r.ELASTICACHE_REPLICATION_GROUP), Severity.LOW,
         ("CKV_AWS_157", "CKV_AWS_353", "CKV_AWS_338")),
)

POLICIES = [build(rule) for rule in RULES]
BY_NAME = {rule.name: rule for rule in RULES}
