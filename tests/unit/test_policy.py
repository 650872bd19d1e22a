"""The policy pack (policy/): every rule holds on the shipped stacks and fires on a broken copy.

Resources come from the program run under the recording mocks for the shipped stacks (once per
module); failing cases change a copy of a recorded resource or add a synthetic one. Rules run
through the SDK's own argument objects (tests.support.policy_harness), and the whole pack through
the SDK's analyzer servicer, as the engine drives it during `pulumi preview --policy-pack policy`.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import uuid
from pathlib import Path

import pytest
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from policy import pack, rules
from policy.pack import POLICIES, RULES
from tests.support.policy_harness import (
    Node,
    analyze,
    any_literal,
    changed,
    edit_json,
    edit_user_data_file,
    find,
    first_preview,
    of_type,
    record,
    resource_args,
    sdk_props,
    stack_args,
    stack_violations,
    swap,
    violations,
)
from tests.support.pulumi_mocks import unwrap

ROOT = Path(__file__).resolve().parents[2]
POLICY = {policy.name: policy for policy in POLICIES}
STACKS = ("stg", "prod")

MASTER_KEY = "sk-" + "0123456789abcdef" * 3  # the format the stack generates: sk- + 48 hex
LANGFUSE_SECRET = f"sk-lf-{uuid.UUID(int=1)}"
LANGFUSE_PUBLIC = f"pk-lf-{uuid.UUID(int=2)}"
ACCESS_KEY = "AKIA" + "ABCDEFGHIJKLMNOP"
PASSWORD = "Tr0ub4dor3xyz"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n"


@pytest.fixture(scope="module")
def shipped() -> dict[str, list[Node]]:
    return {stack: record(stack) for stack in STACKS}


def check(rule: str, node: Node, stack: str = "stg") -> list[str]:
    return violations(POLICY[rule], resource_args(node, {"environment": stack}))


def check_stack(rule: str, nodes: list[Node], stack: str = "stg") -> list[tuple[str | None, str]]:
    return stack_violations(POLICY[rule], stack_args(nodes, {"environment": stack}))


def messages(found: list[tuple[str | None, str]]) -> list[str]:
    return [message for _, message in found]


def assert_no_value_leak(found: list[str], *values: str) -> None:
    for value in values:
        assert not any(value in message for message in found), "a violation message echoes the secret"


# --- the whole pack -------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_pack_reports_no_mandatory_violation_for_the_shipped_stacks(shipped, stack):
    diagnostics = analyze(shipped[stack], POLICIES, {rule.name: {"environment": stack} for rule in RULES})
    assert [d for d in diagnostics if d.level == "mandatory"] == []
    advisories = sorted((d.policy, d.message.splitlines()[-1]) for d in diagnostics)
    if stack == "stg":  # no domain yet: plain HTTP (allowInsecureHttp), the one documented trade-off
        assert advisories == [
            ("load-balancer-tls", "plain HTTP listener on port 3000 serves traffic instead of redirecting to HTTPS"),
            ("load-balancer-tls", "plain HTTP listener on port 80 serves traffic instead of redirecting to HTTPS"),
        ]
    else:
        assert advisories == []


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_every_rule_passes_on_both_shipped_stacks_and_applies_somewhere(shipped, rule):
    applied = 0
    for stack in STACKS:
        if rule.stack:
            assert check_stack(rule.name, shipped[stack], stack) == []
            applied += 1
            continue
        for node in (n for n in shipped[stack] if n.typ in rule.types):
            applied += 1
            found = check(rule.name, node, stack)
            if rule.name == "load-balancer-tls" and stack == "stg":
                assert len(found) == 1 and "plain HTTP listener" in found[0]
            else:
                assert found == [], f"{stack} {node.typ} {node.name}"
    assert applied, f"{rule.name} never met a resource it reads in the shipped stacks"


def test_pack_metadata():
    assert len({rule.name for rule in RULES}) == len(RULES)
    levels = {rule.name: rule.level.value for rule in RULES}
    assert {name for name, level in levels.items() if level == "advisory"} == {"load-balancer-tls", "prod-resilience"}
    stack_rules = {p.name for p in POLICIES if isinstance(p, StackValidationPolicy)}
    assert stack_rules == {"world-ingress-only-on-load-balancer", "s3-public-access-blocked",
                           "stateful-resources-protected-in-prod", "vpc-flow-logs", "default-security-group-closed",
                           "s3-bucket-baseline"}
    assert all(isinstance(p, (ResourceValidationPolicy, StackValidationPolicy)) for p in POLICIES)
    pack_files = {p.name for p in (ROOT / "policy").iterdir()}
    assert {"PulumiPolicy.yaml", "__main__.py", "requirements.txt", "CHECKS.md"} <= pack_files
    requirements = (ROOT / "policy" / "requirements.txt").read_text()
    assert "pulumi-policy==1.21.0" in requirements and "pulumi==3.272.0" in requirements
    assert "name: python" in (ROOT / "policy" / "PulumiPolicy.yaml").read_text()
    main = (ROOT / "policy" / "__main__.py").read_text()
    assert "PolicyPack(" in main and "PACK_NAME" in main and pack.PACK_NAME == "llm-gateway"


def test_checks_md_maps_every_rule():
    text = (ROOT / "policy" / "CHECKS.md").read_text()
    assert [rule.name for rule in RULES if f"`{rule.name}`" not in text] == []
    for rule in RULES:
        for check_id in rule.checkov:
            assert check_id in text, f"{check_id} ({rule.name}) missing from CHECKS.md"


def test_a_value_unknown_during_preview_is_the_sdks_cant_run_diagnostic(shipped):
    task = find(shipped["prod"], rules.TASK_DEFINITION, "ecs-litellm-task")
    preview = changed(task, containerDefinitions=UNKNOWN_STRING_VALUE)
    with pytest.raises(UnknownValueError):
        check("no-secrets-in-container-environment", preview, "prod")
    [diagnostic] = [d for d in analyze([preview], [POLICY["images-pinned-by-digest"]]) if d.policy]
    assert diagnostic.level == "advisory" and "can't run policy 'images-pinned-by-digest'" in diagnostic.message


LONG_LITERAL = "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + "x" * 2000


@pytest.mark.parametrize("text", ["", "arn:aws:iam::1:role/a", "x arn:aws:iam::1:role/ab y", "arn:aws:iam::1:rol",
                                  "vpc-0a1.b", "vpc-0a1b", "a*b(c)", "ends with i-12", LONG_LITERAL[:-1], LONG_LITERAL])
@pytest.mark.parametrize("literals", [
    ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/abc", "vpc-0a1.b", "a*b(c)", "i-12", LONG_LITERAL], []])
def test_the_computed_values_pattern_finds_what_a_substring_search_finds(literals, text):
    assert bool(re.search(any_literal(literals), text)) == any(literal in text for literal in literals)


@pytest.mark.parametrize("stack", STACKS)
def test_first_preview_of_a_new_stack(shipped, stack):
    """Nothing exists yet: documents built from ARNs are deferred to `up` (the SDK's advisory
    "can't run policy during preview"); nothing mandatory fires; the graph rules still judge."""
    nodes = first_preview(shipped[stack])
    diagnostics = analyze(nodes, POLICIES, {rule.name: {"environment": stack} for rule in RULES})
    assert [d for d in diagnostics if d.level == "mandatory"] == []
    deferred = {d.policy for d in diagnostics if "can't run policy" in d.message}
    assert deferred <= {"bedrock-access-scoped", "iam-least-privilege", "images-pinned-by-digest",
                        "no-secrets-in-container-environment", "no-secrets-in-user-data"}
    assert "no-secrets-in-user-data" in deferred  # the host's user data names its volume and secrets
    assert {d.policy for d in diagnostics if "can't run policy" not in d.message} <= {"load-balancer-tls"}
    # A world-open rule on an application's group is still caught, through property dependencies.
    app_rule = next(n for n in of_type(nodes, rules.INGRESS_RULE) if "-to-load-balancer-" not in n.name)
    opened = changed(app_rule, cidrIpv4="0.0.0.0/0", referencedSecurityGroupId=None, fromPort=443, toPort=443)
    found = analyze(swap(nodes, app_rule, opened), [POLICY["world-ingress-only-on-load-balancer"]])
    assert [d.level for d in found] == ["mandatory"] and "which no load balancer uses" in found[0].message


def test_environment_comes_from_policy_config_then_stack_config_then_stack_name(monkeypatch):
    monkeypatch.setattr(pack.pulumi, "get_stack", lambda: "prod")
    monkeypatch.setattr(pack.pulumi.runtime, "get_config", lambda key: None)
    assert pack.context({}).environment == "prod"
    assert pack.context({"environment": "stg"}).environment == "stg"
    monkeypatch.setattr(pack.pulumi, "get_stack", lambda: "prod-eu")
    monkeypatch.setattr(pack.pulumi.runtime, "get_config",
                        lambda key: "prod" if key == "llm-gateway:environment" else None)
    assert pack.context({}).prod


# --- RDS ------------------------------------------------------------------------------------------

def test_rds_must_be_private_and_encrypted(shipped):
    database = find(shipped["prod"], rules.RDS_INSTANCE)
    assert check("rds-not-public-and-encrypted", changed(database, publiclyAccessible=True)) == [
        "publiclyAccessible is true: the database must only be reachable inside the VPC"]
    assert check("rds-not-public-and-encrypted", changed(database, storageEncrypted=None)) == [
        "storageEncrypted is not true: database storage must be encrypted at rest"]


def test_rds_hardening(shipped):
    database = find(shipped["stg"], rules.RDS_INSTANCE)
    found = check("rds-hardening", changed(
        database, kmsKeyId=None, iamDatabaseAuthenticationEnabled=False, monitoringInterval=0,
        backupRetentionPeriod=1, enabledCloudwatchLogsExports=["upgrade"], autoMinorVersionUpgrade=False,
    ))
    assert found == [
        "no kmsKeyId: encrypt the database with the stack's customer-managed key, not the AWS-managed one",
        "enabledCloudwatchLogsExports lacks 'postgresql': database logs must reach CloudWatch",
        "iamDatabaseAuthenticationEnabled is not true",
        "enhanced monitoring is off (monitoringInterval > 0 and monitoringRoleArn required)",
        "autoMinorVersionUpgrade is false: security patches would not be applied",
        "backupRetentionPeriod is 1: keep automated backups for at least 7 days",
    ]
    parameters = find(shipped["stg"], rules.RDS_PARAMETER_GROUP)
    without_tls = changed(parameters, parameters=[p for p in unwrap(parameters.inputs)["parameters"]
                                                  if p["name"] != "rds.force_ssl"])
    assert check("rds-hardening", without_tls) == [
        "PostgreSQL parameter group does not set rds.force_ssl=1: clients could connect without TLS"]


def test_deletion_protection_in_prod(shipped):
    prod_db = find(shipped["prod"], rules.RDS_INSTANCE)
    assert check("deletion-protection-in-prod", changed(prod_db, deletionProtection=False, skipFinalSnapshot=True),
                 "prod") == ["deletionProtection is not true in prod",
                             "skipFinalSnapshot is true in prod: deleting the database would lose its data"]
    # stg runs without protection by design; judged as prod it would fail.
    stg_lb = find(shipped["stg"], rules.LOAD_BALANCERS[0])
    assert check("deletion-protection-in-prod", stg_lb, "stg") == []
    assert check("deletion-protection-in-prod", stg_lb, "prod") == ["enableDeletionProtection is not true in prod"]


# --- security groups ------------------------------------------------------------------------------

def _world(rule_node: Node, port: int, cidr: str = "0.0.0.0/0", name: str | None = None) -> Node:
    key = "cidrIpv6" if ":" in cidr else "cidrIpv4"
    return changed(rule_node, name=name, **{key: cidr, "referencedSecurityGroupId": None, "fromPort": port,
                                            "toPort": port})


def test_world_ingress_only_on_public_ports(shipped):
    lb_rule = find(shipped["prod"], rules.INGRESS_RULE, "security-groups-198-51-100-0_24-to-load-balancer-443-in")
    assert check("security-group-world-ingress-ports", _world(lb_rule, 443)) == []  # an operator's 0.0.0.0/0
    assert check("security-group-world-ingress-ports", _world(lb_rule, 5432)) == [
        "ingress from 0.0.0.0/0 on tcp/5432: only TCP 80/443 may be open to the internet "
        "(and only on the load balancer's security group)"]
    everything = changed(_world(lb_rule, 443, "::/0"), ipProtocol="-1", fromPort=None, toPort=None)
    assert check("security-group-world-ingress-ports", everything) == [
        "ingress from ::/0 on all ports: only TCP 80/443 may be open to the internet "
        "(and only on the load balancer's security group)"]
    # stg's plain-HTTP Langfuse port may not face the whole internet.
    stg_rule = find(shipped["stg"], rules.INGRESS_RULE, "security-groups-203-0-113-0_24-to-load-balancer-3000-in")
    assert len(check("security-group-world-ingress-ports", _world(stg_rule, 3000))) == 1
    # Inline rules and aws:ec2/SecurityGroupRule are read too.
    group = find(shipped["stg"], rules.SECURITY_GROUP, "security-groups-database")
    inline = changed(group, ingress=[{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}])
    assert len(check("security-group-world-ingress-ports", inline)) == 1
    legacy = Node(rules.SECURITY_GROUP_RULE, "ssh", "urn:x::ssh", inputs={
        "type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["10.0.0.0/8", "0.0.0.0/0"],
        "securityGroupId": "sg-x"}, outputs={})
    assert check("security-group-world-ingress-ports", legacy) == [
        "ingress from 0.0.0.0/0 on tcp/22: only TCP 80/443 may be open to the internet "
        "(and only on the load balancer's security group)"]
    assert check("security-group-world-ingress-ports", changed(legacy, type="egress")) == []


def _load_balancer_open_to_the_world(nodes: list[Node]) -> list[Node]:
    for node in of_type(nodes, rules.INGRESS_RULE):
        if node.name.endswith(("-to-load-balancer-443-in", "-to-load-balancer-80-in")):
            nodes = swap(nodes, node, _world(node, int(unwrap(node.inputs)["fromPort"])))
    return nodes


def test_an_operator_may_open_the_load_balancer_to_the_internet(shipped, monkeypatch):
    nodes = _load_balancer_open_to_the_world(shipped["prod"])
    policy = POLICY["world-ingress-only-on-load-balancer"]
    monkeypatch.setattr(pack.pulumi.runtime, "get_config", lambda key: None)
    assert check_stack("world-ingress-only-on-load-balancer", nodes, "stg") == []
    # Prod: only when the stack says the gateway is meant to be public.
    found = messages(check_stack("world-ingress-only-on-load-balancer", nodes, "prod"))
    # One per opened rule (2 ranges x 443/80), in no particular order (the rule walks sets).
    assert len(found) == 4 and (
        "aws:vpc/SecurityGroupIngressRule security-groups-198-51-100-0_24-to-load-balancer-443-in opens 0.0.0.0/0 "
        "tcp/443 on security group security-groups-load-balancer, which internet-facing load balancer "
        "load-balancer-alb uses: in prod the gateway faces the whole internet only when it is meant to "
        "(loadBalancer.public: true, or policy config publicLoadBalancer)") in found
    assert stack_violations(policy, stack_args(nodes, {"environment": "prod", "publicLoadBalancer": True})) == []
    monkeypatch.setattr(pack.pulumi.runtime, "get_config",
                        lambda key: '{"public":true}' if key == "llm-gateway:loadBalancer" else None)
    assert check_stack("world-ingress-only-on-load-balancer", nodes, "prod") == []


def test_world_ingress_on_an_internal_load_balancer_is_not_the_internet(shipped, monkeypatch):
    monkeypatch.setattr(pack.pulumi.runtime, "get_config", lambda key: None)
    nodes = _load_balancer_open_to_the_world(shipped["prod"])
    alb = find(nodes, rules.LOAD_BALANCERS[0])
    assert check_stack("world-ingress-only-on-load-balancer", swap(nodes, alb, changed(alb, internal=True)), "prod") == []


def test_world_ingress_on_a_group_no_load_balancer_uses(shipped):
    nodes = shipped["stg"]
    app_rule = find(nodes, rules.INGRESS_RULE, "security-groups-load-balancer-to-gateway-host-4000-in")
    opened = _world(app_rule, 443)
    found = check_stack("world-ingress-only-on-load-balancer", swap(nodes, app_rule, opened))
    assert found == [(opened.urn, "aws:vpc/SecurityGroupIngressRule security-groups-load-balancer-to-gateway-host-4000-in "
                                  "opens 0.0.0.0/0 tcp/443 on security group security-groups-gateway-host, which no "
                                  "load balancer uses (it protects aws:ec2/Instance gateway-host-instance): only the "
                                  "load balancer may face the internet")]


def test_world_ingress_on_a_load_balancer_group_shared_with_a_host(shipped):
    nodes = shipped["stg"]
    lb_rule = find(nodes, rules.INGRESS_RULE, "security-groups-203-0-113-0_24-to-load-balancer-80-in")
    host = find(nodes, rules.INSTANCE)
    lb_group = find(nodes, rules.SECURITY_GROUP, "security-groups-load-balancer")
    shared = changed(host, vpcSecurityGroupIds=[lb_group.outputs["id"], "sg-security-groups-gateway-host"])
    nodes = swap(swap(nodes, lb_rule, _world(lb_rule, 80)), host, shared)
    assert messages(check_stack("world-ingress-only-on-load-balancer", nodes)) == [
        "aws:vpc/SecurityGroupIngressRule security-groups-203-0-113-0_24-to-load-balancer-80-in opens 0.0.0.0/0 "
        "tcp/80 on security group security-groups-load-balancer, which aws:ec2/Instance gateway-host-instance also "
        "uses: give the load balancer a group of its own"]


def test_world_ingress_is_judged_by_the_graph_during_preview(shipped):
    """Ids are unknown before `up`: the engine's property dependencies still tie rule, group and LB."""
    def preview(node: Node) -> Node:
        if node.typ == rules.SECURITY_GROUP:
            return changed(node, id=UNKNOWN_STRING_VALUE, arn=UNKNOWN_STRING_VALUE)
        if node.typ == rules.INGRESS_RULE:
            return changed(node, securityGroupId=UNKNOWN_STRING_VALUE)
        if node.typ in rules.LOAD_BALANCERS + (rules.INSTANCE,):
            key = "securityGroups" if node.typ != rules.INSTANCE else "vpcSecurityGroupIds"
            return changed(node, **{key: [UNKNOWN_STRING_VALUE]})
        return node

    nodes = [preview(n) for n in shipped["stg"]]
    lb_rule = find(nodes, rules.INGRESS_RULE, "security-groups-203-0-113-0_24-to-load-balancer-80-in")
    assert check_stack("world-ingress-only-on-load-balancer", swap(nodes, lb_rule, _world(lb_rule, 80))) == []
    app_rule = find(nodes, rules.INGRESS_RULE, "security-groups-load-balancer-to-gateway-host-4000-in")
    found = check_stack("world-ingress-only-on-load-balancer", swap(nodes, app_rule, _world(app_rule, 443)))
    assert len(found) == 1 and "security-groups-gateway-host, which no load balancer uses" in found[0][1]


def test_world_ingress_on_a_group_outside_the_stack(shipped):
    nodes = shipped["prod"]
    lb_rule = find(nodes, rules.INGRESS_RULE, "security-groups-198-51-100-0_24-to-load-balancer-443-in")
    foreign = Node(rules.INGRESS_RULE, "foreign", "urn:pulumi:prod::llm-gateway::aws:vpc/x::foreign",
                   inputs={}, outputs={**unwrap(_world(lb_rule, 443).outputs), "securityGroupId": "sg-0123456789abcdef0"})
    assert messages(check_stack("world-ingress-only-on-load-balancer", [*nodes, foreign], "prod")) == [
        "aws:vpc/SecurityGroupIngressRule foreign opens 0.0.0.0/0 tcp/443 on a security group this stack does not "
        "define, so it cannot be shown to belong to a load balancer"]


def test_default_security_group_is_adopted_and_closed(shipped):
    nodes = shipped["prod"]
    default = find(nodes, rules.DEFAULT_SECURITY_GROUP)
    vpc = find(nodes, "aws:ec2/vpc:Vpc")
    assert check_stack("default-security-group-closed", swap(nodes, default, None)) == [
        (vpc.urn, "VPC network-vpc: its default security group is not adopted and stripped "
                  "(aws:ec2/DefaultSecurityGroup without rules)")]
    open_default = changed(default, egress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}])
    assert messages(check_stack("default-security-group-closed", swap(nodes, default, open_default))) == [
        "default security group network-default-sg keeps egress rules; it must allow nothing"]


def test_vpc_flow_logs(shipped):
    nodes = shipped["stg"]
    assert messages(check_stack("vpc-flow-logs", swap(nodes, find(nodes, "aws:ec2/flowLog:FlowLog"), None))) == [
        "VPC network-vpc has no flow log (aws:ec2/FlowLog with vpcId)"]


def test_subnets_assign_no_public_ip(shipped):
    subnet = find(shipped["stg"], rules.SUBNET)
    assert check("subnet-no-public-ip-on-launch", changed(subnet, mapPublicIpOnLaunch=True)) == [
        "mapPublicIpOnLaunch is true: nothing should get a public address by default"]


# --- secrets in container environments ------------------------------------------------------------

def _with_env(task: Node, *variables: tuple[str, str]) -> Node:
    def edit(definitions):
        definitions[0]["environment"] += [{"name": n, "value": v} for n, v in variables]
        return definitions
    return edit_json(task, "containerDefinitions", edit)


def test_secret_values_and_names_in_container_environment(shipped):
    task = find(shipped["prod"], rules.TASK_DEFINITION, "ecs-litellm-task")
    broken = _with_env(
        task,
        ("LITELLM_MASTER_KEY", MASTER_KEY),
        ("LANGFUSE_SECRET_KEY", LANGFUSE_SECRET),
        ("LANGFUSE_PUBLIC_KEY_MLE", LANGFUSE_PUBLIC),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("DATABASE_URL", f"postgresql://litellm:{PASSWORD}@db.internal:5432/litellm"),
        ("TLS_CERT_BUNDLE", PEM),
        ("REDIS_AUTH", PASSWORD),
    )
    found = check("no-secrets-in-container-environment", broken, "prod")
    secret_store = ("holds a literal value; a secret must come from Secrets Manager by reference "
                    "(ECS `secrets`/valueFrom, or the host's env file)")
    assert found == [
        f"container litellm: environment variable LITELLM_MASTER_KEY {secret_store}",
        "container litellm: environment variable LITELLM_MASTER_KEY contains a LiteLLM master/virtual key (sk- + hex)",
        f"container litellm: environment variable LANGFUSE_SECRET_KEY {secret_store}",
        "container litellm: environment variable LANGFUSE_SECRET_KEY contains a Langfuse API key (pk-lf-/sk-lf- + uuid)",
        f"container litellm: environment variable LANGFUSE_PUBLIC_KEY_MLE {secret_store}",
        "container litellm: environment variable LANGFUSE_PUBLIC_KEY_MLE contains a Langfuse API key (pk-lf-/sk-lf- + uuid)",
        "container litellm: environment variable AWS_ACCESS_KEY_ID contains an AWS access key id",
        "container litellm: environment variable DATABASE_URL contains a postgresql:// URL with an embedded password",
        "container litellm: environment variable TLS_CERT_BUNDLE contains a PEM private key",
        f"container litellm: environment variable REDIS_AUTH {secret_store}",
    ]
    assert_no_value_leak(found, MASTER_KEY, LANGFUSE_SECRET, ACCESS_KEY, PASSWORD)


def test_references_and_known_non_secrets_are_not_secrets(shipped):
    task = find(shipped["prod"], rules.TASK_DEFINITION, "ecs-langfuse-web-task")
    fine = _with_env(
        task,
        ("LANGFUSE_S3_EVENT_UPLOAD_SSE_KMS_KEY", "arn:aws:kms:us-east-1:123456789012:key/abc"),
        ("LITELLM_MASTER_KEY", "os.environ/LITELLM_MASTER_KEY"),
        ("DATABASE_PASSWORD", "${DATABASE_PASSWORD}"),
        ("AWS_SESSION_TOKEN", ""),
        ("DATABASE_URL", "postgresql://langfuse:${DATABASE_PASSWORD}@db:5432/langfuse"),
        ("SENTRY_TOKEN", "false"),
    )
    assert check("no-secrets-in-container-environment", fine, "prod") == []


def test_allowed_env_names_come_from_policy_config(shipped):
    task = _with_env(find(shipped["prod"], rules.TASK_DEFINITION, "ecs-litellm-task"), ("UI_COLOR_KEY", "blue"))
    assert len(check("no-secrets-in-container-environment", task, "prod")) == 1
    args = resource_args(task, {"environment": "prod", "allowedEnvNames": ["ui_color_key"]})
    assert violations(POLICY["no-secrets-in-container-environment"], args) == []


def test_literal_secret_in_the_litellm_proxy_config(shipped):
    task = find(shipped["prod"], rules.TASK_DEFINITION, "ecs-litellm-task")

    def edit(definitions):
        for variable in definitions[0]["environment"]:
            if variable["name"] == "LITELLM_PROXY_CONFIG":
                assert "os.environ/LITELLM_MASTER_KEY" in variable["value"]  # references pass (shipped test)
                variable["value"] = variable["value"].replace("os.environ/LITELLM_MASTER_KEY", MASTER_KEY)
        return definitions

    found = check("no-secrets-in-container-environment", edit_json(task, "containerDefinitions", edit), "prod")
    assert found == [
        "container litellm: environment variable LITELLM_PROXY_CONFIG contains a LiteLLM master/virtual key (sk- + hex)",
        "container litellm: LITELLM_PROXY_CONFIG sets general_settings.master_key to a literal; use an os.environ/ reference",
    ]


def test_secret_in_a_container_command(shipped):
    task = find(shipped["prod"], rules.TASK_DEFINITION, "ecs-litellm-migrator-task")

    def edit(definitions):
        definitions[0]["command"] = ["--key", MASTER_KEY]
        return definitions

    assert check("no-secrets-in-container-environment", edit_json(task, "containerDefinitions", edit), "prod") == [
        "container litellm-migrator: command contains a LiteLLM master/virtual key (sk- + hex)"]


# --- user data ------------------------------------------------------------------------------------

COMPOSE = "/etc/llm-gateway/compose.yaml"


def _host_with_compose_edit(nodes: list[Node], edit) -> Node:
    host = find(nodes, rules.INSTANCE)
    user_data = unwrap(host.inputs)["userData"]  # stg: files gzip+base64 (over 16 KB), prod: plain
    return changed(host, userData=edit_user_data_file(user_data, COMPOSE, edit))


def test_secret_in_gzipped_compose_file_of_user_data(shipped):
    def add_secrets(compose: str) -> str:
        document = json.loads(json.dumps(__import__("yaml").safe_load(compose)))
        document["services"]["litellm"]["environment"]["LITELLM_MASTER_KEY"] = MASTER_KEY
        document["services"]["langfuse-web"]["environment"]["SALT"] = PASSWORD
        return __import__("yaml").safe_dump(document, sort_keys=False, width=1 << 16)

    assert "encoding: gz+b64" in unwrap(find(shipped["stg"], rules.INSTANCE).inputs)["userData"]
    found = check("no-secrets-in-user-data", _host_with_compose_edit(shipped["stg"], add_secrets))
    assert found == [
        f"userData file {COMPOSE} contains a LiteLLM master/virtual key (sk- + hex)",
        f"userData file {COMPOSE} service litellm: environment variable LITELLM_MASTER_KEY holds a literal value; "
        "a secret must come from Secrets Manager by reference (ECS `secrets`/valueFrom, or the host's env file)",
        f"userData file {COMPOSE} service langfuse-web: environment variable SALT holds a literal value; "
        "a secret must come from Secrets Manager by reference (ECS `secrets`/valueFrom, or the host's env file)",
    ]
    assert_no_value_leak(found, MASTER_KEY, PASSWORD)


def test_secret_in_shell_and_base64_user_data():
    def host(**props) -> Node:
        return Node(rules.INSTANCE, "host", "urn:x::host", inputs=props, outputs={})

    script = f"#!/bin/bash\nexport DB_PASSWORD={PASSWORD}\nAWS_ACCESS_KEY_ID={ACCESS_KEY} aws s3 ls\n"
    assert check("no-secrets-in-user-data", host(userData=script)) == [
        "userData contains an AWS access key id",
        "userData: DB_PASSWORD= assigns a literal value to a secret-named variable",
    ]
    packed = base64.b64encode(gzip.compress(("#cloud-config\nwrite_files:\n- path: /etc/app.env\n  content: |\n"
                                             f"    API_TOKEN={PASSWORD}\n").encode())).decode()
    assert check("no-secrets-in-user-data", host(userDataBase64=packed)) == [
        "userDataBase64 file /etc/app.env: API_TOKEN= assigns a literal value to a secret-named variable"]
    fetched = "#!/bin/bash\nexport DB_PASSWORD=$(aws secretsmanager get-secret-value --secret-id db)\n"
    assert check("no-secrets-in-user-data", host(userData=fetched)) == []
    broken = "#cloud-config\nwrite_files:\n- path: /x\n  encoding: gz+b64\n  content: bm90IGd6aXA=\n"
    assert check("no-secrets-in-user-data", host(userData=broken)) == [
        "user data cannot be checked for secrets: userData: write_files /x could not be decoded (encoding 'gz+b64')"]


# --- images ---------------------------------------------------------------------------------------

def test_container_images_pinned_by_digest(shipped):
    task = find(shipped["prod"], rules.TASK_DEFINITION, "ecs-litellm-task")

    def retag(definitions):
        definitions[0]["image"] = "ghcr.io/berriai/litellm-database:v1.104.0"
        return definitions

    assert check("images-pinned-by-digest", edit_json(task, "containerDefinitions", retag), "prod") == [
        "container litellm: image 'ghcr.io/berriai/litellm-database:v1.104.0' is not pinned by digest "
        "(name@sha256:<64 hex>)"]


@pytest.mark.parametrize("stack", STACKS)
def test_compose_images_in_user_data_pinned_by_digest(shipped, stack):
    def unpin(compose: str) -> str:
        return re.sub(r"(clickhouse-server)@sha256:[0-9a-f]{64}", r"\1:25.12", compose, count=1)

    found = check("images-pinned-by-digest", _host_with_compose_edit(shipped[stack], unpin), stack)
    assert found == [f"userData file {COMPOSE}: image 'docker.io/clickhouse/clickhouse-server:25.12' is not pinned "
                     "by digest (name@sha256:<64 hex>)"]


# --- IAM ------------------------------------------------------------------------------------------

def _with_statement(node: Node, statement: dict) -> Node:
    return edit_json(node, "policy", lambda doc: {**doc, "Statement": [*doc["Statement"], statement]})


def test_bedrock_access_scoped(shipped):
    policy = find(shipped["prod"], rules.IAM_POLICY, "bedrock-invoke")
    model = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"
    cases = {
        "bedrock:*": {"Effect": "Allow", "Action": "bedrock:*", "Resource": model},
        "*": {"Effect": "Allow", "Action": ["*"], "Resource": [model]},
        "on *": {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"},
        "wildcard": {"Effect": "Allow", "Action": "bedrock:Invoke*", "Resource": model},
        "NotAction": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
    }
    found = {name: check("bedrock-access-scoped", _with_statement(policy, {"Sid": "Added", **statement}), "prod")
             for name, statement in cases.items()}
    assert found == {
        "bedrock:*": [f"policy statement Added: action 'bedrock:*' grants every Bedrock action (on {model})"],
        "*": [f"policy statement Added: action '*' grants every Bedrock action (on {model})"],
        "on *": ["policy statement Added: bedrock:InvokeModel on *; grant it on the configured model and "
                 "inference-profile ARNs only"],
        "wildcard": ["policy statement Added: wildcard Bedrock action 'bedrock:Invoke*'; list the exact actions "
                     "(bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream)"],
        "NotAction": ["policy statement Added: Allow with NotAction grants every Bedrock action not listed"],
    }
    denied = _with_statement(policy, {"Effect": "Deny", "Action": "bedrock:*", "Resource": "*"})
    assert check("bedrock-access-scoped", denied, "prod") == []


def test_bedrock_in_role_policies_and_inline_role_policies(shipped):
    role_policy = find(shipped["prod"], rules.IAM_ROLE_POLICY, "clickhouse-host-logs")
    opened = _with_statement(role_policy, {"Sid": "Open", "Effect": "Allow", "Action": "bedrock:*", "Resource": "*"})
    assert check("bedrock-access-scoped", opened, "prod") == [
        "policy statement Open: action 'bedrock:*' grants every Bedrock action (on *)"]
    role = find(shipped["prod"], rules.IAM_ROLE, "ecs-litellm-identity-task")
    inline = changed(role, inlinePolicies=[{"name": "models", "policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{"Sid": "Any", "Effect": "Allow", "Action": "bedrock:Converse*",
                                               "Resource": "arn:aws:bedrock:*:*:*"}]})}])
    assert check("bedrock-access-scoped", inline, "prod") == [
        "inline policy models statement Any: wildcard Bedrock action 'bedrock:Converse*'; list the exact actions "
        "(bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream)",
        "inline policy models statement Any: bedrock:Converse* on arn:aws:bedrock:*:*:*; grant it on the "
        "configured model and inference-profile ARNs only",
    ]


def test_iam_least_privilege(shipped):
    attachment = find(shipped["stg"], rules.IAM_ROLE_POLICY_ATTACHMENT, "gateway-host-policy-0")
    assert check("iam-least-privilege", changed(attachment, policyArn="arn:aws:iam::aws:policy/AdministratorAccess")) == [
        "attaches AdministratorAccess: administrator-level managed policies are not allowed"]
    policy = find(shipped["stg"], rules.IAM_POLICY, "langfuse-storage-access")
    admin = _with_statement(policy, {"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"})
    assert check("iam-least-privilege", admin) == ["policy statement Admin: action '*' is an administrator grant"]
    passrole = _with_statement(policy, {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"})
    assert check("iam-least-privilege", passrole) == [
        "policy statement Pass: iam:PassRole on '*' allows privilege escalation"]


# --- S3 -------------------------------------------------------------------------------------------

def test_s3_public_access_blocked(shipped):
    nodes = shipped["prod"]
    bucket = find(nodes, "aws:s3/bucket:Bucket", "langfuse-storage-bucket")
    block = find(nodes, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "langfuse-storage-bucket")
    assert check_stack("s3-public-access-blocked", swap(nodes, block, None), "prod") == [
        (bucket.urn, "S3 bucket langfuse-storage-bucket has no aws:s3/BucketPublicAccessBlock")]
    half_open = changed(block, blockPublicPolicy=False, restrictPublicBuckets=False)
    assert check_stack("s3-public-access-blocked", swap(nodes, block, half_open), "prod") == [
        (bucket.urn, "S3 bucket langfuse-storage-bucket: its public access block leaves blockPublicPolicy, "
                     "restrictPublicBuckets not true (all four must be true)")]
    # A block aimed at another bucket does not count.
    elsewhere = changed(block, bucket="some-other-bucket")
    assert len(check_stack("s3-public-access-blocked", swap(nodes, block, elsewhere), "prod")) == 1
    # Preview: the bucket's name is unknown, the engine's property dependency ties the block to it.
    preview = [changed(n, bucket=UNKNOWN_STRING_VALUE, id=UNKNOWN_STRING_VALUE, arn=UNKNOWN_STRING_VALUE)
               if n.typ in ("aws:s3/bucket:Bucket", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock") else n
               for n in nodes]
    assert check_stack("s3-public-access-blocked", preview, "prod") == []
    # An account-wide block with all four flags covers every bucket.
    account = Node("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock", "account", "urn:x::account", inputs={},
                   outputs={flag: True for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                                    "restrictPublicBuckets")})
    assert check_stack("s3-public-access-blocked", [*swap(nodes, block, None), account], "prod") == []


def test_s3_bucket_baseline(shipped):
    nodes = shipped["stg"]
    bucket = find(nodes, "aws:s3/bucket:Bucket", "langfuse-storage-bucket")
    versioning = find(nodes, "aws:s3/bucketVersioning:BucketVersioning", "langfuse-storage-bucket")
    encryption = find(nodes, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                      "langfuse-storage-bucket")
    logging = find(nodes, "aws:s3/bucketLogging:BucketLogging", "langfuse-storage-bucket")
    policy = find(nodes, "aws:s3/bucketPolicy:BucketPolicy", "langfuse-storage-bucket")
    sse_s3 = changed(encryption, rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}])
    no_tls = edit_json(policy, "policy", lambda doc: {**doc, "Statement": doc["Statement"][1:]})
    broken = swap(swap(swap(swap(nodes, versioning, None), encryption, sse_s3), logging, None), policy, no_tls)
    assert check_stack("s3-bucket-baseline", broken) == [
        (bucket.urn, "S3 bucket langfuse-storage-bucket is not versioned (aws:s3/BucketVersioning status Enabled)"),
        (bucket.urn, "S3 bucket langfuse-storage-bucket is encrypted with AES256, not SSE-KMS (only access-log "
                     "buckets may use SSE-S3)"),
        (bucket.urn, "S3 bucket langfuse-storage-bucket has no access logging (aws:s3/BucketLogging)"),
        (bucket.urn, "S3 bucket langfuse-storage-bucket has no bucket policy denying requests without TLS "
                     "(Deny when aws:SecureTransport is false)"),
    ]
    # The access-log bucket (SSE-S3, not logging into itself) passes only while it receives the logs.
    log_bucket = find(nodes, "aws:s3/bucket:Bucket", "access-logs-bucket")
    alb = find(nodes, rules.LOAD_BALANCERS[0])
    team_plane_logging = find(nodes, "aws:s3/bucketLogging:BucketLogging", "team-plane-bucket")
    no_longer_target = swap(swap(swap(nodes, alb, changed(alb, accessLogs={"enabled": False, "bucket": "x"})), logging, None),
                            team_plane_logging, None)
    found = messages(check_stack("s3-bucket-baseline", no_longer_target))
    assert "S3 bucket access-logs-bucket has no access logging (aws:s3/BucketLogging)" in found
    assert any(m.startswith("S3 bucket access-logs-bucket is encrypted with AES256") for m in found)
    assert log_bucket.outputs["bucket"] == alb.outputs["accessLogs"]["bucket"]


# --- protection in prod ---------------------------------------------------------------------------

def test_stateful_resources_protected_in_prod(shipped):
    nodes = shipped["prod"]
    secret = find(nodes, rules.SECRET, "secrets-litellm")
    from dataclasses import replace
    assert check_stack("stateful-resources-protected-in-prod", swap(nodes, secret, replace(secret, protect=False)),
                       "prod") == [(secret.urn, "Secrets Manager secret secrets-litellm is not protected "
                                                "(ResourceOptions(protect=True)): in prod a destroy or an accidental "
                                                "replacement must stop instead")]
    # stg is unprotected by design; the same resources judged as prod all fail.
    stateful = {"aws:rds/instance:Instance", rules.SECRET, rules.KMS_KEY, "aws:s3/bucket:Bucket", rules.EBS_VOLUME}
    assert check_stack("stateful-resources-protected-in-prod", shipped["stg"], "stg") == []
    found = check_stack("stateful-resources-protected-in-prod", shipped["stg"], "prod")
    assert sorted(urn for urn, _ in found) == sorted(n.urn for n in shipped["stg"] if n.typ in stateful)
    assert len(found) == 1 + 8 + 1 + 3 + 1  # database, secrets, key, buckets, data volume


# --- logs, keys, compute --------------------------------------------------------------------------

def test_log_groups_have_retention_and_cmk(shipped):
    group = find(shipped["prod"], rules.LOG_GROUP, "ecs-litellm-logs")
    expected = ["retentionInDays is not set (logs would be kept forever): set a retention in days"]
    assert check("log-group-retention", changed(group, retentionInDays=None), "prod") == expected
    assert check("log-group-retention", changed(group, retentionInDays=0), "prod") == expected
    assert check("log-group-kms", changed(group, kmsKeyId=None), "prod") == [
        "no kmsKeyId: encrypt the log group with the stack's customer-managed key"]


def test_secrets_use_the_stack_key(shipped):
    secret = find(shipped["stg"], rules.SECRET, "secrets-litellm")
    assert check("secret-kms", changed(secret, kmsKeyId=None)) == [
        "no kmsKeyId: encrypt the secret with the stack's customer-managed key, not aws/secretsmanager"]


def test_kms_key_hardening(shipped):
    key = find(shipped["stg"], rules.KMS_KEY)
    anyone = {"Sid": "Anyone", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}
    assert check("kms-key-hardening", _with_statement(changed(key, enableKeyRotation=False), anyone)) == [
        "enableKeyRotation is not true: symmetric keys must rotate yearly",
        "key policy statement Anyone allows any principal ('*') without a condition",
    ]


def test_ec2_instance_hardening(shipped):
    host = find(shipped["stg"], rules.INSTANCE)
    weak = changed(host, metadataOptions={"httpEndpoint": "enabled", "httpTokens": "optional"},
                   associatePublicIpAddress=True, rootBlockDevice={"volumeSize": 30}, monitoring=None)
    assert check("ec2-instance-hardening", weak) == [
        "metadataOptions.httpTokens is not 'required': IMDSv2 must be enforced",
        "associatePublicIpAddress is true: hosts live in private subnets",
        "rootBlockDevice.encrypted is not true",
        "monitoring (detailed monitoring) is not true",
    ]


def test_ebs_volumes_encrypted_with_the_stack_key(shipped):
    volume = find(shipped["prod"], rules.EBS_VOLUME)
    assert check("ebs-volume-encrypted", changed(volume, encrypted=False, kmsKeyId=None), "prod") == [
        "encrypted is not true: data volumes must be encrypted",
        "no kmsKeyId: encrypt the volume with the stack's customer-managed key",
    ]


def test_ecs_hardening(shipped):
    nodes = shipped["prod"]
    cluster = find(nodes, rules.ECS_CLUSTER)
    assert check("ecs-hardening", changed(cluster, settings=[{"name": "containerInsights", "value": "disabled"}]),
                 "prod") == ["containerInsights is not enabled"]
    service = find(nodes, rules.ECS_SERVICE, "ecs-litellm-service")
    network = {**unwrap(service.inputs)["networkConfiguration"], "assignPublicIp": True}
    assert check("ecs-hardening", changed(service, networkConfiguration=network), "prod") == [
        "networkConfiguration.assignPublicIp is true: tasks run in private subnets"]
    task = find(nodes, rules.TASK_DEFINITION, "ecs-litellm-task")
    privileged = edit_json(task, "containerDefinitions", lambda ds: [{**ds[0], "privileged": True}])
    same_roles = changed(privileged, taskRoleArn=unwrap(task.inputs)["executionRoleArn"])
    assert check("ecs-hardening", same_roles, "prod") == [
        "executionRoleArn equals taskRoleArn: the application would hold ECS's secret-pulling permissions",
        "container litellm is privileged",
    ]


def test_elasticache_encrypted(shipped):
    cache = find(shipped["prod"], rules.ELASTICACHE_REPLICATION_GROUP)
    assert check("elasticache-encrypted", changed(cache, transitEncryptionEnabled=False, authToken=None), "prod") == [
        "transitEncryptionEnabled is not true",
        "no authToken (or user group): the cache would accept unauthenticated clients",
    ]


# --- load balancer --------------------------------------------------------------------------------

def test_load_balancer_hardening(shipped):
    alb = find(shipped["prod"], rules.LOAD_BALANCERS[0])
    assert check("load-balancer-hardening", changed(alb, accessLogs=None, dropInvalidHeaderFields=False), "prod") == [
        "accessLogs are not enabled with a bucket",
        "dropInvalidHeaderFields is not true (HTTP desync / request smuggling)",
    ]


def test_load_balancer_tls_is_advisory(shipped):
    https = find(shipped["prod"], rules.LISTENERS[0], "load-balancer-https")
    assert check("load-balancer-tls", changed(https, sslPolicy="ELBSecurityPolicy-2016-08"), "prod") == [
        "sslPolicy ELBSecurityPolicy-2016-08 allows TLS below 1.2"]
    [diagnostic] = analyze([changed(https, sslPolicy="ELBSecurityPolicy-2016-08")], [POLICY["load-balancer-tls"]])
    assert diagnostic.level == "advisory"


def test_prod_resilience_is_advisory(shipped):
    database = find(shipped["prod"], rules.RDS_INSTANCE)
    single = changed(database, multiAz=False, performanceInsightsEnabled=False)
    assert check("prod-resilience", single, "prod") == [
        "multiAz is not true in prod (database.multiAz)",
        "performanceInsightsEnabled is not true in prod (database.performanceInsights)",
    ]
    assert check("prod-resilience", single, "stg") == []
    group = find(shipped["stg"], rules.LOG_GROUP, "gateway-host-logs")
    assert check("prod-resilience", group, "prod") == [
        "retentionInDays is 30 in prod; keep at least 365 (logRetentionDays / network.flowLogRetentionDays)"]
    cache = find(shipped["prod"], rules.ELASTICACHE_REPLICATION_GROUP)
    assert check("prod-resilience", changed(cache, automaticFailoverEnabled=False), "prod") == [
        "automaticFailoverEnabled is not true in prod (redis.replicas >= 1)"]
    assert {d.level for d in analyze([single], [POLICY["prod-resilience"]], {"prod-resilience": {"environment": "prod"}})} == {"advisory"}


# --- pure helpers -----------------------------------------------------------------------------------

def test_plain_unwraps_sdk_proxies_and_keeps_unknowns():
    props = sdk_props({"a": [{"b": UNKNOWN_STRING_VALUE}], "c": 1})
    assert rules.plain(props) == {"a": [{"b": UNKNOWN_STRING_VALUE}], "c": 1.0}
    assert rules.known(rules.plain(props)["a"], "a") == [{"b": UNKNOWN_STRING_VALUE}]  # shallow
    with pytest.raises(rules.Unknown):
        rules.known(rules.plain(props)["a"][0]["b"], "a[0].b")
    assert rules.is_set(UNKNOWN_STRING_VALUE) and not rules.is_set("") and not rules.is_set(None)
