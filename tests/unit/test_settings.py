"""Stack settings: every validation rule, valid and invalid, table-driven; error text asserted."""

from __future__ import annotations

import copy

import pytest

from reference.images import DEFAULT_IMAGES
from config.loader import SettingsError, load_settings
from config.settings import DOMAIN, MODEL_NAME
from config.settings import SecretText
from tests.support.settings import OPERATOR_SECRETS, make_settings, runtime_with_secrets
from tests.support.stacks import SHIPPED_STACKS, runtime_config, to_runtime

BASE = {
    "aws:region": "us-east-1",
    "compute": "ecs",
    "domain": "llm.example.com",
    "hostedZoneId": "Z0123456789ABC",
    "allowedCidrs": ["10.0.0.0/8"],
    "models": [
        {"name": "sonnet", "bedrockModel": "us.anthropic.claude-sonnet-4-20250514-v1:0"},
        {"name": "titan", "bedrockModel": "amazon.titan-embed-text-v2:0"},
    ],
    "teams": [
        {"name": "mle"},
        {"name": "home-rentals", "models": ["titan"], "maxBudget": 50, "rpmLimit": 10},
    ],
}


def load(config: dict, stack: str = "stg", secret: bool = False):
    raw, secret_keys = runtime_with_secrets(config, None, stack)  # with what an operator sets for prod
    if secret:
        secret_keys |= {"llm-gateway:existingLangfuseKeys"}
    return load_settings(raw, secret_keys, stack=stack)


def with_changes(**changes) -> dict:
    config = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return config


def problems_of(config: dict, stack: str = "stg", secret: bool = False) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        load(config, stack, secret)
    return raised.value.problems


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_stacks_are_valid(stack):
    raw, secret_keys = runtime_config(stack)
    settings = load_settings(raw, secret_keys, stack=stack)
    assert settings.environment == stack
    assert settings.compute == {"stg": "ec2", "prod": "ecs"}[stack]


def test_valid_config_becomes_typed_immutable_settings():
    settings = load(BASE)
    assert settings.region == "us-east-1"
    assert [m.name for m in settings.models] == ["sonnet", "titan"]
    assert settings.models[0].region == "us-east-1"  # defaults to the stack region
    team = settings.team("home-rentals")
    assert (team.models, team.max_budget, team.rpm_limit, team.tpm_limit) == (("titan",), 50.0, 10, None)
    assert team.env_suffix == "HOME_RENTALS"
    assert settings.litellm_host == "litellm.llm.example.com"
    assert settings.langfuse_host == "langfuse.llm.example.com"
    with pytest.raises(AttributeError):
        settings.compute = "ec2"  # frozen


@pytest.mark.parametrize(
    "stack, key, expected",
    [
        ("stg", "protect", False),
        ("prod", "protect", True),
        ("stg", "log_retention_days", 30),
        ("prod", "log_retention_days", 365),
    ],
)
def test_top_level_defaults_per_environment(stack, key, expected):
    assert getattr(load(BASE, stack=stack), key) == expected


@pytest.mark.parametrize(
    "stack, group, field, expected",
    [
        ("stg", "network", "az_count", 2),
        ("prod", "network", "az_count", 2),
        ("stg", "network", "nat_gateways", "single"),
        ("prod", "network", "nat_gateways", "perAz"),
        ("prod", "database", "multi_az", True),
        ("stg", "database", "multi_az", False),
        ("prod", "litellm", "desired_count", 2),
        ("prod", "langfuse", "web_desired_count", 1),
        ("prod", "redis", "replicas", 1),
    ],
)
def test_sizing_defaults_per_environment(stack, group, field, expected):
    assert getattr(getattr(load(BASE, stack=stack), group), field) == expected


def test_sizing_overrides_keep_other_defaults():
    settings = load(with_changes(database={"instanceClass": "db.t4g.large", "multiAz": True}))
    assert settings.database.instance_class == "db.t4g.large"
    assert settings.database.multi_az is True
    assert settings.database.engine_version == "17"


def test_stg_may_have_a_domain_without_its_zone():
    assert load(with_changes(hostedZoneId=None)).hosted_zone_id is None  # records created by hand


def test_environment_can_be_set_for_other_stack_names():
    raw, secret_keys = runtime_with_secrets(with_changes(environment="prod"), OPERATOR_SECRETS["prod"])
    assert load_settings(raw, secret_keys, stack="alice").environment == "prod"


@pytest.mark.parametrize(
    "changes, stack, expected",
    [
        ({"compute": None}, "stg", "compute is required (one of: ecs, ec2)"),
        ({"compute": "k8s"}, "stg", "compute 'k8s' must be one of: ecs, ec2"),
        ({"aws:region": None}, "stg", "aws:region is required (pulumi config set aws:region <region>)"),
        ({}, "alice", "environment is required for stack 'alice' (one of: stg, prod)"),
        ({"domian": "x.example.com"}, "stg", "domian is not a known key (did you mean domain?)"),
        ({"database": {"instanceClas": "db.t4g.small"}}, "stg",
         "database.instanceClas is not a known key (did you mean instanceClass?)"),
        ({"models": []}, "stg", "models [] must be a non-empty list of {name, bedrockModel, region?}"),
        ({"models": [{"name": "", "bedrockModel": "amazon.titan-embed-text-v2:0"}]}, "stg",
         "models[0].name '' must be a non-empty string"),
        ({"models": [{"name": "a", "bedrockModel": "amazon.titan-embed-text-v2:0"},
                     {"name": "a", "bedrockModel": "amazon.nova-lite-v1:0"}], "teams": []}, "stg",
         "models[1].name 'a' duplicates models[0].name"),
        ({"models": [{"name": "a"}], "teams": []}, "stg", "models[0].bedrockModel is required"),
        ({"models": [{"name": "a", "bedrockModel": "eu.anthropic.claude-3-haiku-20240307-v1:0"}],
          "teams": []}, "stg",
         "models[0].region 'us-east-1' cannot call the eu. inference profile "
         "eu.anthropic.claude-3-haiku-20240307-v1:0 (regions: eu-central-1, eu-central-2, "
         "eu-north-1, eu-south-1, eu-south-2, eu-west-1, eu-west-2, eu-west-3)"),
        ({"teams": [{"name": "Home Rentals"}]}, "stg",
         "teams[0].name 'Home Rentals' must match ^[a-z][a-z0-9-]{1,30}$"),
        ({"teams": [{"name": "mle"}, {"name": "ok-team"}, {"name": "Home Rentals"}]}, "stg",
         "teams[2].name 'Home Rentals' must match ^[a-z][a-z0-9-]{1,30}$"),
        ({"teams": [{"name": "mle"}, {"name": "mle"}]}, "stg", "teams[1].name 'mle' duplicates teams[0].name"),
        ({"teams": [{"name": "mle", "models": ["sonnet", "gpt-5"]}]}, "stg",
         "teams[0].models[1] 'gpt-5' is not a configured model (known: sonnet, titan)"),
        ({"teams": [{"name": "mle", "maxBudget": -1}]}, "stg", "teams[0].maxBudget -1 must be >= 0"),
        ({"teams": [{"name": "mle", "rpmLimit": -5}]}, "stg", "teams[0].rpmLimit -5 must be >= 1"),
        ({"teams": [{"name": "mle", "tpmLimit": -5}]}, "stg", "teams[0].tpmLimit -5 must be >= 1"),
        ({"teams": [{"name": "mle", "budgetDuration": "30d"}]}, "stg",
         "teams[0].budgetDuration '30d' needs maxBudget"),
        ({"teams": [{"name": "mle", "colour": "red"}]}, "stg",
         "teams[0].colour is not a known key (known: budgetDuration, keys, langfuseKeys, maxBudget, members, "
         "models, name, rpmLimit, tpmLimit)"),
        # A team's people and keys (issue 19): each refusal with its key path.
        ({"teams": [{"name": "mle", "members": [{"email": "ana@example.com", "role": "admin"},
                                                {"email": "Ana@Example.com", "role": "viewer"}]}]}, "stg",
         "teams[0].members[1].email 'Ana@Example.com' duplicates members[0].email"),
        ({"teams": [{"name": "mle", "members": [{"email": "ana@example.com", "role": "owner"}]}]}, "stg",
         "teams[0].members[0].role 'owner' must be one of: admin, member, viewer"),
        ({"teams": [{"name": "mle", "members": [{"email": "ana.example.com", "role": "member"}]}]}, "stg",
         "teams[0].members[0].email 'ana.example.com' must match ^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$"),
        ({"teams": [{"name": "mle", "members": ["ana@example.com"]}]}, "stg",
         "teams[0].members[0] 'ana@example.com' must be an object {email, role}"),
        ({"teams": [{"name": "mle", "keys": [{"name": "ci"}, {"name": "ci", "maxBudget": 5}]}]}, "stg",
         "teams[0].keys[1].name 'ci' duplicates keys[0].name"),
        ({"teams": [{"name": "mle", "keys": [{"name": "CI"}]}]}, "stg",
         "teams[0].keys[0].name 'CI' must match ^[a-z][a-z0-9-]{1,30}$"),
        ({"teams": [{"name": "mle", "models": ["sonnet"], "keys": [{"name": "ci", "models": ["titan"]}]}]}, "stg",
         "teams[0].keys[0].models[0] 'titan' is not one of the team's models (sonnet)"),
        ({"teams": [{"name": "mle", "keys": [{"name": "ci", "models": ["gpt-5"]}]}]}, "stg",
         "teams[0].keys[0].models[0] 'gpt-5' is not a configured model (known: sonnet, titan)"),
        ({"teams": [{"name": "mle", "keys": [{"name": "ci", "maxBudget": -1}]}]}, "stg",
         "teams[0].keys[0].maxBudget -1 must be >= 0"),
        ({"allowedCidrs": ["10.0.0.1/8"]}, "stg",
         "allowedCidrs[0] '10.0.0.1/8' is not a valid IPv4 CIDR (10.0.0.1/8 has host bits set)"),
        ({"allowedCidrs": ["not-a-cidr"]}, "stg",
         "allowedCidrs[0] 'not-a-cidr' is not a valid IPv4 CIDR ('not-a-cidr' does not appear to "
         "be an IPv4 or IPv6 network)"),
        ({"allowedCidrs": []}, "stg", "allowedCidrs must not be empty"),
        ({"allowedCidrs": None}, "stg", "allowedCidrs is required"),
        ({"domain": "-bad-.example"}, "stg",
         "domain '-bad-.example' must match ^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$"),
        ({"domain": None}, "stg",
         "domain is required unless allowInsecureHttp is true (plain HTTP on the load balancer name)"),
        ({"domain": None, "hostedZoneId": "Z123"}, "stg", "hostedZoneId 'Z123' needs domain"),
        ({"hostedZoneId": None}, "prod",
         "hostedZoneId is required in prod with domain: the certificate validation and the litellm./langfuse. "
         "records are created in that Route53 zone (pulumi config set hostedZoneId <zone id>)"),
        ({"domain": None, "allowInsecureHttp": True}, "prod", "allowInsecureHttp true must not be true in prod"),
        ({"litellm": {"cpu": 1024, "memory": 1024}}, "stg",
         "litellm.memory 1024 is not a Fargate memory size for cpu 1024 (2048-8192 MiB in steps of 1024)"),
        ({"litellm": {"cpu": 300}}, "stg",
         "litellm.cpu 300 must be a Fargate CPU size (256, 512, 1024, 2048, 4096, 8192, 16384)"),
        ({"langfuse": {"workerCpu": 2048, "workerMemory": 2048}}, "stg",
         "langfuse.workerMemory 2048 is not a Fargate memory size for cpu 2048 (4096-16384 MiB in steps of 1024)"),
        ({"litellm": {"desiredCount": 3, "maxCount": 2}}, "stg",
         "litellm.maxCount 2 must be >= litellm.desiredCount (3)"),
        ({"litellm": {"image": "ghcr.io/berriai/litellm-database:v1.82.8"}}, "stg",
         "litellm.image 'ghcr.io/berriai/litellm-database:v1.82.8' must be LiteLLM 1.104 or newer"),
        ({"litellm": {"image": "ghcr.io/berriai/litellm-database"}}, "stg",
         "litellm.image 'ghcr.io/berriai/litellm-database' must be an image reference name:tag@sha256:<64 hex>"),
        ({"clickhouse": {"image": "clickhouse/clickhouse-server:24.8"}}, "stg",
         "clickhouse.image 'clickhouse/clickhouse-server:24.8' must be ClickHouse 25.12 or newer"),
        ({"langfuse": {"webImage": "langfuse/langfuse:3"}}, "stg",
         "langfuse.webImage 'langfuse/langfuse:3' must be a Langfuse v4 image (tag 4.x)"),
        ({"langfuse": {"workerImage": "docker.io/langfuse/langfuse-worker:4.1.0"}}, "stg",
         "langfuse.workerImage 'docker.io/langfuse/langfuse-worker:4.1.0' must have the web image's tag (4.50.0)"),
        ({"database": {"engineVersion": "15"}}, "stg", "database.engineVersion '15' must be one of: 16, 17"),
        ({"database": {"backupRetentionDays": 3}}, "prod", "database.backupRetentionDays 3 must be >= 7 in prod"),
        ({"database": {"allocatedStorageGb": 100, "maxAllocatedStorageGb": 50}}, "stg",
         "database.maxAllocatedStorageGb 50 must be >= database.allocatedStorageGb (100)"),
        ({"network": {"azCount": 1}}, "stg", "network.azCount 1 must be >= 2"),
        ({"network": {"vpcCidr": "10.0.0.0/8"}}, "stg",
         "network.vpcCidr '10.0.0.0/8' must be a /16 to /22 network (subnets are carved as prefix+4)"),
        ({"network": {"natGateways": "none"}}, "stg", "network.natGateways 'none' must be one of: single, perAz"),
        ({"network": {"flowLogRetentionDays": 10}}, "stg",
         "network.flowLogRetentionDays 10 must be one of: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, "
         "365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"),
        ({"clickhouse": {"instanceType": "m7i.large"}}, "stg",
         "clickhouse.instanceType 'm7i.large' must be one of: t4g.small, t4g.medium, t4g.large, t4g.xlarge, "
         "t4g.2xlarge, m7g.medium, m7g.large, m7g.xlarge, m7g.2xlarge, r7g.large, r7g.xlarge"),
        ({"redis": {"engineVersion": "6.2"}}, "stg", "redis.engineVersion '6.2' must be 7.0 or newer"),
        ({"protect": "yes"}, "stg", "protect 'yes' must be true or false"),
        ({"logRetentionDays": 0}, "stg",
         "logRetentionDays 0 must be one of: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, "
         "545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"),
    ],
)
def test_invalid_config_is_reported_with_key_path_and_value(changes, stack, expected):
    config = with_changes(**{k: v for k, v in changes.items() if k != "aws:region"})
    if "aws:region" in changes:
        config.pop("aws:region")
    assert expected in problems_of(config, stack)


def test_every_problem_is_reported_in_one_error():
    config = with_changes(
        compute=None,
        allowedCidrs=["300.0.0.0/8"],
        teams=[{"name": "Bad Name"}, {"name": "ops", "maxBudget": -2}],  # "ok": too short since issue 21
        database={"instanceClas": "x"},
    )
    with pytest.raises(SettingsError) as raised:
        load(config)
    message = str(raised.value)
    assert message.startswith("invalid stack config (5 problems):")
    for fragment in ("compute is required", "allowedCidrs[0] '300.0.0.0/8'", "teams[0].name 'Bad Name'",
                     "teams[1].maxBudget -2", "database.instanceClas is not a known key"):
        assert fragment in message


def test_rules_across_keys_run_beside_the_keys_own_problems():
    # A rule runs once the keys it reads are valid, whatever else is refused; a group refused by its
    # own rule (backup's key Region) still feeds the rules across keys (copyToRegion vs aws:region).
    key = "arn:aws:kms:us-west-2:123456789012:key/0f1e2d3c"
    problems = problems_of(with_changes(
        teams=[{"name": "Bad Name"}], domain=None, hostedZoneId="Z123", alarms={"databaseFreeStorageGb": 30},
        backup={"copyToRegion": "us-east-1", "copyKmsKeyArn": key},
    ))
    assert sorted(problems) == sorted([
        "teams[0].name 'Bad Name' must match ^[a-z][a-z0-9-]{1,30}$",
        "hostedZoneId 'Z123' needs domain",
        "domain is required unless allowInsecureHttp is true (plain HTTP on the load balancer name)",
        "alarms.databaseFreeStorageGb 30 must be below database.allocatedStorageGb (20): the alarm would never clear",
        f"backup.copyKmsKeyArn '{key}' must be a key in backup.copyToRegion (us-east-1): a KMS key encrypts only in "
        "its own Region",
        "backup.copyToRegion 'us-east-1' must be another Region than aws:region",
    ])


def test_existing_langfuse_keys_come_from_secret_config():
    config = with_changes(
        teams=[{"name": "mle", "langfuseKeys": "existing"}, {"name": "ops"}],
        existingLangfuseKeys={"mle": {"publicKey": "pk-lf-abc", "secretKey": "sk-lf-def"}},
    )
    settings = load(config, secret=True)
    keys = settings.team("mle").existing_keys
    assert keys.public_key == SecretText("pk-lf-abc")
    assert keys.secret_key.reveal() == "sk-lf-def"
    assert "sk-lf-def" not in repr(settings)
    assert settings.team("ops").existing_keys is None


@pytest.mark.parametrize(
    "teams, keys, secret, expected",
    [
        ([{"name": "mle", "langfuseKeys": "existing"}], {}, True,
         "existingLangfuseKeys.mle must hold publicKey and secretKey"),
        ([{"name": "mle", "langfuseKeys": "existing"}],
         {"mle": {"publicKey": "pk-lf-a", "secretKey": "sk-lf-b"}}, False,
         "existingLangfuseKeys must be set with `pulumi config set --secret --path ...`, never in plain text"),
        ([{"name": "mle"}], {"mle": {"publicKey": "pk-lf-a", "secretKey": "sk-lf-b"}}, True,
         "existingLangfuseKeys.mle is not a team with langfuseKeys: existing"),
        ([{"name": "mle", "langfuseKeys": "existing"}],
         {"mle": {"publicKey": "pub-123", "secretKey": "sk-lf-b"}}, True,
         "existingLangfuseKeys.mle.publicKey must start with pk-lf-"),
        ([{"name": "mle", "langfuseKeys": "borrowed"}], {}, True,
         "teams[0].langfuseKeys 'borrowed' must be one of: generate, existing"),
        ([{"name": "mle", "langfuseKeys": "existing", "members": [{"email": "ana@example.com", "role": "admin"}]}],
         {"mle": {"publicKey": "pk-lf-a", "secretKey": "sk-lf-b"}}, True,
         "teams[0].members needs langfuseKeys: generate: an existing project is adopted where it is, in an organization "
         "the gateway does not own, so it cannot decide who reads it (manage its people in Langfuse, or let the team "
         "plane generate the team's project)"),
    ],
)
def test_existing_keys_problems(teams, keys, secret, expected):
    problems = problems_of(with_changes(teams=teams, existingLangfuseKeys=keys), secret=secret)
    assert expected in problems


@pytest.mark.parametrize(
    "changes, secret, expected",
    [
        ({"clickhouse": {"externalUrl": "https://abc.clickhouse.cloud:8443"}}, True,
         "clickhouseExternalPassword is required with clickhouse.externalUrl "
         "(pulumi config set --secret clickhouseExternalPassword ...)"),
        ({"clickhouseExternalPassword": "pw"}, True, "clickhouseExternalPassword needs clickhouse.externalUrl"),
        ({"clickhouse": {"externalUrl": "https://abc.clickhouse.cloud:8443"}, "clickhouseExternalPassword": "pw"}, False,
         "clickhouseExternalPassword must be set with `pulumi config set --secret`, never in plain text"),
        ({"clickhouse": {"externalUrl": "https://abc.clickhouse.cloud:8443"}, "clickhouseExternalPassword": "pw",
          "compute": "ec2"}, True,
         "clickhouse.externalUrl 'https://abc.clickhouse.cloud:8443' applies to compute: ecs (the EC2 host runs its own ClickHouse)"),
        ({"clickhouse": {"externalUrl": "http://abc.clickhouse.cloud:8123"}}, True,
         "clickhouse.externalUrl 'http://abc.clickhouse.cloud:8123' must match ^https://[a-z0-9.-]+(:[0-9]{1,5})?/?$"),
        ({"clickhouse": {"externalUrl": "https://abc.clickhouse.cloud:8443", "externalUser": "lf&ops"},
          "clickhouseExternalPassword": "pw"}, True,
         "clickhouse.externalUser 'lf&ops' must match ^[A-Za-z0-9._~-]+$: Langfuse's migration puts it into a URL "
         "unescaped (packages/shared/clickhouse/scripts/up.sh `?username=$CLICKHOUSE_USER&...`)"),
        ({"clickhouse": {"externalUrl": "https://abc.clickhouse.cloud:8443"}, "clickhouseExternalPassword": ""}, True,
         "clickhouseExternalPassword must be a non-empty string"),
    ],
)
def test_external_clickhouse_problems(changes, secret, expected):
    raw, secret_keys = to_runtime(with_changes(**changes))
    if secret:
        secret_keys |= {"llm-gateway:clickhouseExternalPassword"}
    with pytest.raises(SettingsError) as raised:
        load_settings(raw, secret_keys, stack="stg")
    assert expected in raised.value.problems


@pytest.mark.parametrize("password", ["1.50", "true", "null", "12345"])
def test_a_secret_reaches_the_settings_as_it_was_set(password):
    # Pulumi hands a scalar as its text: read as JSON, "1.50" became "1.5", "true" "True", "null" nothing.
    raw, secret_keys = to_runtime(with_changes(clickhouse={"externalUrl": "https://abc.clickhouse.cloud:8443"}))
    raw["llm-gateway:clickhouseExternalPassword"] = password
    secret_keys.add("llm-gateway:clickhouseExternalPassword")
    assert load_settings(raw, secret_keys, stack="stg").clickhouse.external_password.reveal() == password


@pytest.mark.parametrize("key, value, secret, expected", [
    # Refused for how it was set, and nothing else: not also as missing where a rule needs it.
    ("llm-gateway:clickhouseExternalPassword", "pw", False,
     "clickhouseExternalPassword must be set with `pulumi config set --secret`, never in plain text"),
    ("llm-gateway:litellmLicenseKey", "licence", False,
     "litellmLicenseKey must be set with `pulumi config set --secret`, never in plain text"),
    # The deploy's jobs carry the provider's profile and roles in their inputs: never a secret.
    ("aws:profile", "deployer", True, r"aws:profile must be a profile name matching ^[^\s\[\]]{1,128}$, in plain text"),
    ("aws:assumeRoles", '[{"roleArn": "arn:aws:iam::123456789012:role/deployer"}]', True,
     "aws:assumeRoles must be a list of {roleArn, sessionName?, externalId?, ...}, in plain text"),
])
@pytest.mark.parametrize("teams, other", [(BASE["teams"], []), ([{"name": "Bad Name"}], [
    "teams[0].name 'Bad Name' must match ^[a-z][a-z0-9-]{1,30}$"])])  # alone, and beside a key's own problem
def test_a_key_set_the_wrong_way_is_refused_once(key, value, secret, expected, teams, other):
    raw, secret_keys = to_runtime(with_changes(clickhouse={"externalUrl": "https://abc.clickhouse.cloud:8443"},
                                               clickhouseExternalPassword={"secure": "v1:AAAA"}, teams=teams))
    raw[key] = value
    secret_keys = secret_keys | {key} if secret else secret_keys - {key}
    with pytest.raises(SettingsError) as raised:
        load_settings(raw, secret_keys, stack="stg")
    assert sorted(raised.value.problems) == sorted([expected, *other])


def test_secret_values_never_appear_in_errors():
    config = with_changes(
        teams=[{"name": "mle", "langfuseKeys": "existing"}],
        existingLangfuseKeys={"mle": {"publicKey": "leaky-public", "secretKey": "leaky-secret"}},
    )
    message = "\n".join(problems_of(config, secret=True))
    assert "leaky" not in message


@pytest.mark.parametrize(
    "changes, stack, expected",
    [
        # The platform project traces every call made without a team: no team may take its name.
        ({"teams": [{"name": "platform"}]}, "stg",
         "teams[0].name 'platform' is reserved: it is the platform project, which traces every call made without a team"),
        # LiteLLM keeps this team id for its admin UI (litellm/proxy/_types.py UI_TEAM_ID): /team/new answers 400.
        ({"teams": [{"name": "litellm-dashboard"}]}, "stg",
         "teams[0].name 'litellm-dashboard' is reserved by LiteLLM for its admin UI's sessions: /team/new refuses it"),
        # Langfuse project names need 3 characters (projectNameSchema.ts); the pattern allows 2.
        ({"teams": [{"name": "ml"}]}, "stg",
         "teams[0].name 'ml' must have at least 3 characters: the team's Langfuse project is named after it, "
         "and Langfuse refuses shorter project names"),
        # The policy pack and the defaults follow `environment`: the stack named prod is judged as prod.
        ({"environment": "stg"}, "prod", "environment 'stg' must be 'prod' in the stack named prod (or leave it out)"),
        ({"environment": "prod"}, "stg", "environment 'prod' must be 'stg' in the stack named stg (or leave it out)"),
        # `$` matches before a trailing newline: every pattern must match the whole value.
        ({"teams": [{"name": "mle\n"}]}, "stg", "teams[0].name 'mle\n' must match ^[a-z][a-z0-9-]{1,30}$"),
        ({"domain": "llm.example.com\n"}, "stg", f"domain 'llm.example.com\n' must match {DOMAIN}"),
        ({"models": [{"name": "titan\n", "bedrockModel": "amazon.titan-embed-text-v2:0"}], "teams": []}, "stg",
         f"models[0].name 'titan\n' must match {MODEL_NAME}"),
        ({"litellm": {"image": DEFAULT_IMAGES["litellm"] + "\n"}}, "stg",
         f"litellm.image '{DEFAULT_IMAGES['litellm']}\n' must be an image reference name:tag@sha256:<64 hex>"),
        ({"teams": [{"name": "mle", "maxBudget": float("nan")}]}, "stg", "teams[0].maxBudget 'nan' must be a finite number"),
        ({"teams": [{"name": "mle", "maxBudget": "Infinity"}]}, "stg", "teams[0].maxBudget 'inf' must be a finite number"),
        ({"teams": [{"name": "mle", "rpmLimit": 10**9}]}, "stg", "teams[0].rpmLimit 1000000000 must be <= 100000"),
        ({"teams": [{"name": "mle", "tpmLimit": 10**12}]}, "stg", "teams[0].tpmLimit 1000000000000 must be <= 100000000"),
        ({"teams": [{"name": "mle", "rpmLimit": 0}]}, "stg", "teams[0].rpmLimit 0 must be >= 1"),
        ({"allowedCidrs": ["10.0.0.0/8", "192.0.2.0/24", "10.0.0.0/8"]}, "stg",
         "allowedCidrs[2] '10.0.0.0/8' duplicates allowedCidrs[0]"),
        ({"allowedCidrs": ["10.0.0.0/8", "10.1.0.0/16"]}, "stg",
         "allowedCidrs[1] '10.1.0.0/16' overlaps allowedCidrs[0] '10.0.0.0/8' (list each range once)"),
        ({"models": [{"name": "Sonnet", "bedrockModel": "us.anthropic.claude-sonnet-4-20250514-v1:0"},
                     {"name": "sonnet", "bedrockModel": "amazon.titan-embed-text-v2:0"}], "teams": []}, "stg",
         "models[1].name 'sonnet' duplicates models[0].name"),
    ],
)
def test_config_the_loader_used_to_accept_is_refused_with_its_key_path(changes, stack, expected):
    assert expected in problems_of(with_changes(**changes), stack)


@pytest.mark.parametrize("stack, default", [("stg", True), ("prod", False)])
def test_the_smoke_test_is_on_by_default_in_stg_only(stack, default):
    assert make_settings(stack=stack).smoke_test is default
    assert make_settings(stack=stack, smokeTest=not default).smoke_test is not default
