"""The AWS foundation under recording mocks: network, security groups, secrets, keys, database, IAM."""

from __future__ import annotations

import base64
import json
import re
import string

import pytest

from components.bedrock_access import bedrock_policy_json
from reference.bedrock import GEOGRAPHY_REGIONS
from components.secret_json import RETAINED_TAG
from policy.graph import RETAINED_ON_REMOVAL_TAG
from tests.support.program import run_shipped
from tests.support.pulumi_mocks import ACCOUNT_ID, is_secret, plain_strings, unwrap
from tests.support.settings import make_settings
from tests.support.variants import ALLOWED_CIDRS, EU_EC2, EU_ECS, EXISTING_KEYS, PROD_ECS, STG_EC2, STG_ECS
from renderers.team_document import team_keys_arn_pattern
from tests.unit.test_ec2 import CURRENT, NEWER_IMAGE

SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
POLICY = "aws:iam/policy:Policy"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
RDS = "aws:rds/instance:Instance"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
# A DB snapshot identifier: 1-255 letters, digits or hyphens, a letter first, no '--', no trailing
# '-' (terraform-provider-aws website/docs/r/db_instance.html.markdown, final_snapshot_identifier).
SNAPSHOT_IDENTIFIER = re.compile(r"^(?!.*--)[A-Za-z][A-Za-z0-9-]{0,254}(?<!-)$")


def security_graph(run) -> set[tuple]:
    """Every rule as (direction, group role, peer role or CIDR, port)."""
    roles = {r.id: r.name.removeprefix("security-groups-") for r in run.of_type("aws:ec2/securityGroup:SecurityGroup")}
    edges = set()
    for direction, typ in (("in", INGRESS), ("out", EGRESS)):
        for rule in run.of_type(typ):
            peer = rule.input("cidrIpv4") or roles[rule.input("referencedSecurityGroupId")]
            assert rule.input("ipProtocol") == "tcp" and rule.input("fromPort") == rule.input("toPort")
            edges.add((direction, roles[rule.input("securityGroupId")], peer, rule.input("fromPort")))
    return edges


def both_ways(source, target, port):
    return {("in", target, source, port), ("out", source, target, port)}


def test_security_group_graph_for_ecs():
    run = STG_ECS.run()
    assert ALLOWED_CIDRS == ["10.0.0.0/8", "192.168.10.0/24"]
    expected = {
        ("in", "load-balancer", "10.0.0.0/8", 443), ("in", "load-balancer", "10.0.0.0/8", 80),
        ("in", "load-balancer", "192.168.10.0/24", 443), ("in", "load-balancer", "192.168.10.0/24", 80),
        *both_ways("load-balancer", "litellm", 4000),
        *both_ways("load-balancer", "langfuse-web", 3000),
        *both_ways("litellm", "langfuse-web", 3000),
        *both_ways("litellm", "database", 5432),
        *both_ways("langfuse-web", "database", 5432),
        *both_ways("langfuse-worker", "database", 5432),
        *both_ways("db-init", "database", 5432),
        *both_ways("langfuse-web", "redis", 6379),
        *both_ways("langfuse-worker", "redis", 6379),
        *both_ways("litellm", "redis", 6379),
        *both_ways("langfuse-web", "clickhouse", 8123), *both_ways("langfuse-web", "clickhouse", 9000),
        *both_ways("langfuse-worker", "clickhouse", 8123), *both_ways("langfuse-worker", "clickhouse", 9000),
        *{("out", app, "0.0.0.0/0", 443) for app in ("litellm", "langfuse-web", "langfuse-worker", "db-init", "team-plane",
                                                     "clickhouse")},
        # The team-plane job: LiteLLM's admin API, Langfuse, Langfuse's database and its API-key cache.
        *both_ways("team-plane", "litellm", 4000), *both_ways("team-plane", "langfuse-web", 3000),
        *both_ways("team-plane", "database", 5432), *both_ways("team-plane", "redis", 6379),
        ("out", "clickhouse", "0.0.0.0/0", 80),  # its package mirror (renderers/compose_host/boot_needs.py)
    }
    assert security_graph(run) == expected


@pytest.mark.parametrize(("variant", "listener_ports", "endpoints"), [
    (STG_EC2, (443, 80), True),  # HTTPS (80 redirects), interface endpoints
    (EU_EC2, (80, 3000), False),  # plain HTTP: LiteLLM on 80, Langfuse on 3000
], ids=["https with endpoints", "plain http"])
def test_security_group_graph_for_ec2(variant, listener_ports, endpoints):
    assert bool(variant.config.get("network", {}).get("interfaceEndpoints")) is endpoints
    run = variant.run()
    assert security_graph(run) == {
        *(("in", "load-balancer", "10.0.0.0/8", port) for port in listener_ports),
        *both_ways("load-balancer", "gateway-host", 4000),
        *both_ways("load-balancer", "gateway-host", 3000),
        *both_ways("gateway-host", "database", 5432),
        ("out", "gateway-host", "0.0.0.0/0", 443), ("out", "gateway-host", "0.0.0.0/0", 80),
        *(both_ways("gateway-host", "endpoints", 443) if endpoints else ()),
    }
    # The S3 gateway endpoint, and the interface endpoints when asked for.
    assert len(run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")) == 1 + (8 if endpoints else 0)


def test_data_stores_never_accept_a_cidr():
    graph = security_graph(STG_ECS.run())
    for direction, group, peer, _ in graph:
        if direction == "in" and group in ("database", "redis", "clickhouse"):
            assert "/" not in peer


@pytest.mark.parametrize(
    "stack, azs, nats",
    [("stg", 2, 1), ("prod", 2, 2)],
)
def test_network_per_environment(stack, azs, nats):
    run = STG_ECS.run() if stack == "stg" else run_shipped("prod")
    subnets = run.of_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 2 * azs
    assert {s.input("availabilityZone") for s in subnets} == {f"us-east-1{c}" for c in "abc"[:azs]}
    assert all(s.input("mapPublicIpOnLaunch") is False for s in subnets)
    assert len(run.of_type("aws:ec2/natGateway:NatGateway")) == nats
    private_tables = [t for t in run.of_type("aws:ec2/routeTable:RouteTable") if "-private-" in t.name]
    assert len({t.input("routes")[0]["natGatewayId"] for t in private_tables}) == nats
    (flow_log,) = run.of_type("aws:ec2/flowLog:FlowLog")
    assert flow_log.input("trafficType") == "ALL"
    log_group = run.named("network-flow-logs", "aws:cloudwatch/logGroup:LogGroup")
    assert log_group.input("retentionInDays") == {"stg": 30, "prod": 365}[stack]
    assert log_group.input("kmsKeyId").startswith("arn:aws:kms:")
    (default_sg,) = run.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not default_sg.input("ingress") and not default_sg.input("egress")
    (s3,) = run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert s3.input("vpcEndpointType") == "Gateway" and len(s3.input("routeTableIds")) == azs


def test_nat_gateways_are_configurable():
    assert PROD_ECS.config["network"] == {"natGateways": "single"}
    assert len(PROD_ECS.run().of_type("aws:ec2/natGateway:NatGateway")) == 1


def secret_values(run) -> dict[str, dict]:
    """Logical secret name -> its JSON value, read from what the program stores."""
    by_arn = {r.outputs["arn"]: r for r in run.of_type(SECRET)}
    values = {}
    for version in run.of_type(SECRET_VERSION):
        assert is_secret(version.inputs["secretString"]), version.name
        secret = by_arn.get(version.input("secretId"))
        name = (secret or run.named(version.name, SECRET)).input("namePrefix").removeprefix("llm-gateway-stg/").rstrip("-")
        values[name] = json.loads(version.input("secretString"))
    return values


def test_secret_formats():
    run = STG_ECS.run()
    values = secret_values(run)
    alnum = set(string.ascii_letters + string.digits)
    litellm, langfuse = values["litellm"], values["langfuse"]
    assert re.fullmatch(r"sk-[0-9a-f]{48}", litellm["masterKey"])
    assert re.fullmatch(r"sk-[0-9a-f]{64}", litellm["saltKey"])
    assert litellm["uiUsername"] == "admin"  # the admin UI's own login, not the master key
    assert re.fullmatch(r"[0-9a-f]{64}", langfuse["encryptionKey"])
    for value in (langfuse["nextauthSecret"], langfuse["salt"]):
        assert len(base64.b64decode(value, validate=True)) == 32
    for value, length in (
        (litellm["databasePassword"], 32), (langfuse["databasePassword"], 32), (langfuse["adminPassword"], 32),
        (litellm["uiPassword"], 32),
        (values["clickhouse"]["password"], 32), (values["redis"]["authToken"], 64), (values["postgres"]["password"], 40),
    ):
        assert len(value) == length and set(value) <= alnum
    host = "postgres.db.llm-gateway-stg.internal"  # the stable name a restore moves, never the RDS endpoint
    assert litellm["databaseUrl"] == f"postgresql://litellm:{litellm['databasePassword']}@{host}:5432/litellm?sslmode=require"
    assert langfuse["databaseUrl"] == f"postgresql://langfuse:{langfuse['databasePassword']}@{host}:5432/langfuse?sslmode=require"
    assert values["clickhouse"]["user"] == "langfuse" and values["postgres"]["username"] == "gateway_admin"
    for pair in (values["langfuse-keys/platform"], values["langfuse-keys/teams/mle"]):
        uuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
        assert re.fullmatch(f"pk-lf-{uuid}", pair["publicKey"]) and re.fullmatch(f"sk-lf-{uuid}", pair["secretKey"])


def test_secrets_are_encrypted_with_the_stack_key():
    run = STG_ECS.run()
    key_arn = run.of_type("aws:kms/key:Key")[0].outputs["arn"]
    assert {s.input("kmsKeyId") for s in run.of_type(SECRET)} == {key_arn}


@pytest.mark.parametrize("variant", [EU_ECS, STG_ECS.with_teams(1), STG_ECS, STG_ECS.with_teams(30)],
                         ids=["no team", "one", "two", "thirty"])
def test_one_key_secret_per_team(variant):
    names = [team["name"] for team in variant.teams]
    run = variant.run()
    team_secrets = [s.input("namePrefix") for s in run.of_type(SECRET) if "/langfuse-keys/teams/" in s.input("namePrefix")]
    assert sorted(team_secrets) == sorted(f"llm-gateway-stg/langfuse-keys/teams/{n}-" for n in names)
    assert set(run.outputs["teamLangfuseSecretArns"]) == set(names)
    assert all(a.startswith("arn:aws:secretsmanager:") for a in run.outputs["teamLangfuseSecretArns"].values())


def test_a_team_comes_and_goes_with_exactly_its_key_secret():
    """The first team goes (home-rentals moves up a place: nothing may be named by position)."""
    before, after = STG_ECS.run(), STG_ECS.with_teams(1).run()
    assert [team["name"] for team in STG_ECS.with_teams(1).teams] == ["home-rentals"]
    assert [team["name"] for team in STG_ECS.teams] == ["mle", "home-rentals"]
    removed = {(r.typ, r.name) for r in before.resources} - {(r.typ, r.name) for r in after.resources}
    added = {(r.typ, r.name) for r in after.resources} - {(r.typ, r.name) for r in before.resources}
    assert added == set()
    assert {name for _, name in removed if name.startswith("langfuse-keys-")} == {
        "langfuse-keys-team-mle", "langfuse-keys-team-mle-public", "langfuse-keys-team-mle-secret",
    }
    # Only the team's own key secret: the LiteLLM team and the Langfuse project leave with the
    # document, reconciled by the team-plane job (tests/unit/test_teams.py).
    assert all("mle" in name for _, name in removed), removed


def test_existing_team_keys_come_from_config_and_are_not_generated():
    assert STG_EC2.teams[1] == {**STG_EC2.teams[1], "name": "home-rentals", "langfuseKeys": "existing"}
    run = STG_EC2.run()
    assert EXISTING_KEYS["home-rentals"] == {"publicKey": "pk-lf-kept-public", "secretKey": "sk-lf-kept-secret"}
    assert secret_values(run)["langfuse-keys/teams/home-rentals"] == {
        "publicKey": "pk-lf-kept-public", "secretKey": "sk-lf-kept-secret"}
    assert not [r for r in run.resources if r.name.startswith("langfuse-keys-team-home-rentals-p")]
    assert [r for r in run.resources if r.name.startswith("langfuse-keys-team-mle-p")]  # the other team's are generated
    for resource in run.resources:
        assert not any(value in s for value in ("pk-lf-kept-public", "sk-lf-kept-secret")
                       for s in plain_strings(resource.inputs)), resource.name


STATEFUL = {
    "aws:rds/instance:Instance", SECRET, SECRET_VERSION, "aws:kms/key:Key", "aws:s3/bucket:Bucket", "aws:ebs/volume:Volume",
    "random:index/randomPassword:RandomPassword", "random:index/randomId:RandomId", "random:index/randomUuid:RandomUuid",
}


def teams_owned(run) -> list:
    return [r for r in run.resources if r.custom and r.name.startswith("langfuse-keys-team-")]


@pytest.mark.parametrize("stack, protected", [("stg", False), ("prod", True)])
def test_protect_flags_per_environment(stack, protected):
    run = STG_ECS.run() if stack == "stg" else run_shipped("prod")
    retained = {r.urn for r in teams_owned(run)}
    stateful = [r for r in run.resources if r.typ in STATEFUL and r.urn not in retained]
    assert stateful and all(r.protect is protected for r in stateful)
    assert not any(r.protect for r in run.resources if r.typ not in STATEFUL)
    # A team's own stateful resources are kept on removal in prod instead (see the next test).
    assert retained and all(not r.protect and r.retain_on_delete is protected for r in teams_owned(run))


def test_removing_a_team_in_prod_keeps_its_secret_and_never_stops_on_protection():
    """Pulumi refuses to delete a protected resource when it reaches it, after the team's other
    removals (the LiteLLM team and with it the team's virtual keys) already happened: nothing the
    removal deletes may be protected, and what holds data is retained instead."""
    assert [team["name"] for team in PROD_ECS.with_teams(1).teams] == ["home-rentals"]
    before, after = PROD_ECS.run(), PROD_ECS.with_teams(1).run()
    kept = {r.urn for r in after.resources}
    removed = [r for r in before.resources if r.urn not in kept]

    assert {r.name for r in removed} >= {"langfuse-keys-team-mle-secret", "litellm-keys-team-mle.batch-secret"}
    assert [r.name for r in removed if r.protect] == []
    data = [r for r in removed if r.typ in STATEFUL]
    assert {r.typ for r in data} == {SECRET, SECRET_VERSION, "random:index/randomUuid:RandomUuid",
                                     "random:index/randomId:RandomId"}  # its Langfuse pair, its LiteLLM key
    assert all(r.retain_on_delete for r in data), [r.name for r in data if not r.retain_on_delete]
    assert all(secret.input("tags") == {RETAINED_TAG: "true"} for secret in data if secret.typ == SECRET)
    # The policy pack accepts exactly that tag in place of protection, nothing else.
    assert RETAINED_TAG == RETAINED_ON_REMOVAL_TAG


@pytest.mark.parametrize("stack", ["stg", "prod"])
def test_database(stack):
    run = STG_ECS.run() if stack == "stg" else run_shipped("prod")
    (db,) = run.of_type("aws:rds/instance:Instance")
    prod = stack == "prod"
    assert db.input("engine") == "postgres" and db.input("engineVersion") in ("16", "17")
    assert db.input("publiclyAccessible") is False and db.input("storageEncrypted") is True
    assert db.input("kmsKeyId").startswith("arn:aws:kms:")
    assert db.input("multiAz") is prod
    assert db.input("backupRetentionPeriod") >= (7 if prod else 1)
    assert db.input("deletionProtection") is prod
    assert db.input("skipFinalSnapshot") is not prod
    if prod:
        assert SNAPSHOT_IDENTIFIER.match(db.input("finalSnapshotIdentifier"))
    else:
        assert db.input("finalSnapshotIdentifier") is None
    assert db.input("vpcSecurityGroupIds") == [run.security_group_id("database")]
    (params,) = run.of_type("aws:rds/parameterGroup:ParameterGroup")
    assert {"name": "rds.force_ssl", "value": "1"} in params.input("parameters")
    (subnets,) = run.of_type("aws:rds/subnetGroup:SubnetGroup")
    assert set(subnets.input("subnetIds")) == run.subnet_ids("private")
    assert is_secret(db.inputs["password"])


def test_each_database_lifetime_gets_its_own_final_snapshot_name():
    """A snapshot name stays taken until the snapshot is deleted: a second create/delete cycle of
    the stack must not ask for the first cycle's name. Two runs of the shipped config are two
    cycles: the second is the one in which Canonical has a newer image (tests/unit/test_ec2.py),
    which no database setting reads."""
    runs = [run_shipped("prod"), run_shipped("prod", ssm_parameters={CURRENT: NEWER_IMAGE})]
    names = [run.of_type(RDS)[0].input("finalSnapshotIdentifier") for run in runs]
    assert names[0] != names[1]
    for name in names:
        assert name.startswith("llm-gateway-prod-postgres-final-") and SNAPSHOT_IDENTIFIER.match(name), name


@pytest.mark.parametrize("stack", ["stg", "prod"])
def test_database_logs_land_in_owned_encrypted_bounded_groups(stack):
    run = STG_ECS.run() if stack == "stg" else run_shipped("prod")
    (db,) = run.of_type(RDS)
    (key,) = run.of_type("aws:kms/key:Key")
    groups = {g.input("name"): g for g in run.of_type(LOG_GROUP)}
    exported = db.input("enabledCloudwatchLogsExports")
    assert exported == ["postgresql", "upgrade"]
    for log in exported:
        group = groups[f"/aws/rds/instance/{db.input('identifier')}/{log}"]  # the name RDS publishes to
        assert group.input("retentionInDays") == {"stg": 30, "prod": 365}[stack]
        assert group.input("kmsKeyId") == key.outputs["arn"]
        assert group.urn in db.dependencies  # exists before RDS would create it


def bedrock_policy(**config) -> dict:
    """The invoke policy the program writes for a stack with this config (the renderer alone: the
    program registers exactly its output, see the next test)."""
    return json.loads(bedrock_policy_json(make_settings(**config).models, ACCOUNT_ID))


def test_the_program_grants_what_the_renderer_writes():
    run = STG_ECS.run()
    (policy,) = [p for p in run.of_type(POLICY) if "bedrock-invoke" in p.input("namePrefix")]
    assert policy.input("policy") == bedrock_policy_json(STG_ECS.settings().models, ACCOUNT_ID)


def invoke_statements(document):
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        assert "*" not in statement["Resource"]
        yield statement


def test_bedrock_policy_for_a_foundation_model():
    document = bedrock_policy(models=[{"name": "titan", "bedrockModel": "amazon.titan-embed-text-v2:0"}])
    assert list(invoke_statements(document)) == [{
        "Effect": "Allow",
        "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
        "Resource": ["arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"],
    }]


@pytest.mark.parametrize(
    "stack_region, model_region, profile, geography",
    [
        ("us-east-1", None, "us.anthropic.claude-sonnet-4-20250514-v1:0", "us"),
        ("eu-central-1", None, "eu.anthropic.claude-3-haiku-20240307-v1:0", "eu"),
        ("us-east-1", "eu-central-1", "eu.anthropic.claude-3-haiku-20240307-v1:0", "eu"),
    ],
)
def test_bedrock_policy_for_a_geographic_inference_profile(stack_region, model_region, profile, geography):
    model = {"name": "m", "bedrockModel": profile, **({"region": model_region} if model_region else {}),
             "inputCostPerToken": 2.5e-07, "outputCostPerToken": 1.25e-06}
    document = bedrock_policy(region=stack_region, models=[model])
    region = model_region or stack_region
    profile_arn = f"arn:aws:bedrock:{region}:{ACCOUNT_ID}:inference-profile/{profile}"
    foundation = profile.split(".", 1)[1]
    profile_statement, models_statement = invoke_statements(document)
    assert profile_statement["Resource"] == [profile_arn] and "Condition" not in profile_statement
    assert models_statement["Resource"] == sorted(
        f"arn:aws:bedrock:{r}::foundation-model/{foundation}" for r in GEOGRAPHY_REGIONS[geography]
    )
    assert models_statement["Condition"] == {"StringEquals": {"bedrock:InferenceProfileArn": profile_arn}}


def test_bedrock_policy_for_a_global_profile_and_narrowed_destinations():
    models = [
        {"name": "g", "bedrockModel": "global.anthropic.claude-sonnet-4-5-20250929-v1:0"},
        {"name": "u", "bedrockModel": "us.amazon.nova-pro-v1:0", "destinationRegions": ["us-east-1", "us-west-2"]},
    ]
    statements = list(invoke_statements(bedrock_policy(models=models)))
    global_arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT_ID}:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert statements[2] == {
        "Effect": "Allow",
        "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
        "Resource": ["arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"],
        "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": global_arn, "aws:RequestedRegion": "unspecified"}},
    }
    assert statements[4]["Resource"] == [
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
        "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-pro-v1:0",
    ]


def secret_policies(run) -> dict[str, list[str]]:
    """Workload -> the secret names its read policy grants."""
    names = {r.outputs["arn"]: r.input("namePrefix").split("/", 1)[1].rstrip("-") for r in run.of_type(SECRET)}
    # Every team's key secret through one name-prefix wildcard (renderers/team_document.py).
    names |= {team_keys_arn_pattern("us-east-1", ACCOUNT_ID, f"llm-gateway-{stack}"): "langfuse-keys/teams/*"
              for stack in ("stg", "prod")}
    grants = {}
    for policy in run.of_type(POLICY):
        match = re.fullmatch(r"llm-gateway-(?:stg|prod)-(.+)-secrets-", policy.input("namePrefix"))
        if match:
            statements = json.loads(policy.input("policy"))["Statement"]
            assert statements[0]["Action"] == "secretsmanager:GetSecretValue"
            assert statements[1]["Action"] == "kms:Decrypt" and statements[1]["Resource"].startswith("arn:aws:kms:")
            grants[match.group(1)] = sorted(names[arn] for arn in statements[0]["Resource"])
    return grants


def test_each_workload_reads_exactly_its_secrets():
    assert secret_policies(STG_ECS.run()) == {
        "litellm": ["langfuse-keys/platform", "litellm", "redis"],
        "langfuse": ["clickhouse", "langfuse", "langfuse-keys/platform", "redis"],
        "db-init": ["langfuse", "litellm", "postgres"],
        "clickhouse": ["clickhouse"],
        # The team-plane job: the master key (litellm), Langfuse's salt and database (langfuse), the
        # auth token of Langfuse's Redis (its API-key cache). The teams' key secrets are read by
        # their code with the team-plane reader policy (one wildcard).
        "teams": ["langfuse", "litellm", "redis"],
    }
    assert secret_policies(run_shipped("stg")) == {
        "gateway-host": ["clickhouse", "langfuse", "langfuse-keys/platform", "litellm", "postgres", "redis"],
    }


def test_docker_hub_credentials_are_read_by_exactly_who_pulls_from_docker_hub():
    """Langfuse's images, ClickHouse and Valkey come from Docker Hub; LiteLLM from GHCR, psql from ECR Public.
    ECS's execution role reads the pull secret (Amazon ECS Developer Guide, "Private registry
    authentication permissions": secretsmanager:GetSecretValue, and kms:Decrypt for a customer key)."""
    assert secret_policies(run_shipped("prod")) == {
        "litellm": ["langfuse-keys/platform", "litellm", "redis"],
        "langfuse": ["clickhouse", "docker-hub", "langfuse", "langfuse-keys/platform", "redis"],
        "db-init": ["langfuse", "litellm", "postgres"],
        "clickhouse": ["clickhouse", "docker-hub"],
        "teams": ["langfuse", "litellm", "redis"],
    }
    assert "dockerHubCredentials" in STG_EC2.secrets
    assert secret_policies(STG_EC2.run()) == {
        "gateway-host": ["clickhouse", "docker-hub", "langfuse", "langfuse-keys/platform", "litellm", "postgres", "redis"],
    }


@pytest.mark.parametrize("stack", ["stg", "prod"])
def test_no_generated_value_appears_unwrapped(stack):
    run = run_shipped(stack)
    generated = [v for v in run.mocks.generated_secrets if len(v) >= 8]
    assert generated
    for resource in run.resources:
        exposed = " ".join(plain_strings(resource.inputs))
        assert not [v for v in generated if v in exposed], f"{resource.typ} {resource.name} exposes a generated value"
    exposed_outputs = json.dumps(unwrap(run.outputs))
    assert not [v for v in generated if v in exposed_outputs]
    assert not run.secret_outputs  # outputs are ARNs and endpoints, none needs to be secret


def test_outputs_are_endpoints_and_arns():
    outputs = run_shipped("prod").outputs
    assert outputs["masterKeySecretArn"].startswith("arn:aws:secretsmanager:")
    assert set(outputs["teamLangfuseSecretArns"]) == {"mle", "home-rentals"}


def test_langfuse_raw_events_expire_and_media_never_does():
    # Langfuse's blob-storage guide: a lifecycle rule on the event upload prefix (30 days suggested),
    # never on media (traces keep referencing those objects).
    run = STG_ECS.run()
    (bucket,) = [b for b in run.of_type("aws:s3/bucket:Bucket") if b.input("bucketPrefix", "").endswith("-langfuse-")]
    (lifecycle,) = [c for c in run.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
                    if c.input("bucket") == bucket.id]
    expiring = {rule["filter"]["prefix"]: rule["expiration"]["days"]
                for rule in lifecycle.input("rules") if rule.get("expiration") and rule.get("filter", {}).get("prefix")}
    assert expiring == {"exports/": 7, "events/": 30}
