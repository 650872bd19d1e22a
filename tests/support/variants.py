"""The stack variants the unit tier runs the whole program for: each runs once per session.

A whole-program run costs about half a second, so the tests do not each run a config of their own:
a variant carries several features at once (what a real stack could set together), and a test picks
the variant that has what it checks. Adding a variant is adding a run to every session; prefer
adding a feature to a variant whose other tests it leaves true.

- shipped stg / prod: the stack files (tests.support.program.run_shipped).
- STG_ECS: stg on ECS with a domain and no hosted zone (the records to create by hand), two teams
  with limits (the first with two members and a key), two allowed ranges, alarm e-mails, snapshot copies to another Region (no key given),
  deployed through a chain of two assumed roles (aws:assumeRoles).
- STG_EC2: stg on one host behind an internal load balancer with a domain (HTTPS, no zone), the
  teams (the second with its existing Langfuse keys), interface endpoints, Docker Hub credentials,
  alarm e-mails, a moved Ubuntu serial, snapshot overrides, a restored database instance and a named
  AWS profile (aws:profile).
- PROD_ECS: prod with an internal load balancer in its zone, one NAT gateway, snapshot overrides
  and copies to another Region in a given key, the two teams, a LiteLLM licence.
- EU_ECS / EU_EC2: stg in a Region newer than the ELB account list (eu-central-2) on plain HTTP,
  with a model LiteLLM cannot price (so priced in the config); EU_ECS with external ClickHouse, an
  image override and Docker Hub credentials, EU_EC2 with an internal load balancer and `protect`
  set (stg's default is off).
- LONGEST_ECS / LONGEST_EC2: prod at the longest stack name with every feature that adds a name
  (tests/unit/test_names.py).
`Variant.but(...)` derives a variant (a model more), `with_teams(n)` one with n teams: another run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reference import names
from reference.images import DEFAULT_IMAGES, parse_image
from config.settings import Settings
from tests.support.program import run_config
from tests.support.pulumi_mocks import ProgramRun
from tests.support.settings import OPERATOR_SECRETS, make_settings

# The first: a team onboarded by one entry, with two people and one service key (issue 19's).
TEAMS = [
    {"name": "mle", "maxBudget": 200, "budgetDuration": "30d",
     "members": [{"email": "Ana.Lead@example.com", "role": "admin"}, {"email": "bo@example.com", "role": "viewer"}],
     "keys": [{"name": "batch", "maxBudget": 20, "models": ["sonnet"]}]},
    {"name": "home-rentals", "models": ["titan"], "rpmLimit": 120, "tpmLimit": 50000},
]
LITELLM_LICENSE = "litellm-license-FAKE-0123456789"
ALARM_EMAILS = ["oncall@example.com", "platform@example.com"]
ALLOWED_CIDRS = ["10.0.0.0/8", "192.168.10.0/24"]
DOCKER_HUB_CREDENTIALS = OPERATOR_SECRETS["prod"]["dockerHubCredentials"]
EXISTING_KEYS = {"home-rentals": {"publicKey": "pk-lf-kept-public", "secretKey": "sk-lf-kept-secret"}}
COPY_KEY = "arn:aws:kms:us-west-2:123456789012:key/0f1e2d3c-4b5a-6978-8899-aabbccddeeff"
SNAPSHOT_OVERRIDES = {"snapshotRetentionDays": 3, "snapshotTime": "22:30"}
MOVED_UBUNTU_SERIAL = "20261004"
RESTORED_SUFFIX = "r202610121030"
# Not priced in the pinned LiteLLM: the stack gives its prices (reference/bedrock_prices.py).
EU_MODELS = [{"name": "haiku", "bedrockModel": "eu.anthropic.claude-3-haiku-20240307-v1:0",
              "inputCostPerToken": 0.00000025, "outputCostPerToken": 0.00000125}]
EXTERNAL_CLICKHOUSE = {"externalUrl": "https://abc.clickhouse.cloud:8443", "externalUser": "lf"}
# ClickHouse Cloud passwords may hold what a URL treats specially (services/langfuse_schema.py url_query_value).
EXTERNAL_CLICKHOUSE_PASSWORD = "external&clickhouse#pass+word%"
LITELLM_OVERRIDE = f"{parse_image(DEFAULT_IMAGES['litellm']).tagged}@sha256:{'1' * 64}"
LONGEST_STACK = "p" * names.max_stack_length("llm-gateway")
LONGEST_TEAM = "t" * 31  # config/settings.py TEAM_NAME: a letter and up to 30 more
LONGEST_KEY = "k" * 31  # config/settings.py KEY_NAME likewise
# How the stack's AWS provider signs (config/deploy_credentials.py): a profile, a chain of two roles.
DEPLOY_PROFILE = "llm-gateway-stg"
DEPLOY_ROLES = [
    {"roleArn": "arn:aws:iam::111111111111:role/org-deployer", "sessionName": "ci-hop"},
    {"roleArn": "arn:aws:iam::123456789012:role/llm-gateway-deploy-stg", "externalId": "stg-7f3a", "duration": "1h"},
]


def restored_instance(stack: str) -> str:
    return f"llm-gateway-{stack}-postgres-{RESTORED_SUFFIX}"


@dataclass(frozen=True)
class Variant:
    stack: str
    config: dict[str, Any]
    secrets: dict[str, Any] = field(default_factory=dict)

    def run(self) -> ProgramRun:
        return run_config(stack=self.stack, secrets=self.secrets, **self.config)

    def settings(self) -> Settings:
        return make_settings(stack=self.stack, secrets=self.secrets, **self.config)

    def but(self, **changes: Any) -> Variant:
        return Variant(self.stack, {**self.config, **changes}, self.secrets)

    @property
    def teams(self) -> list[dict]:
        return self.config["teams"]

    def with_teams(self, count: int) -> Variant:
        """This variant with `count` teams: fewer than its own keeps its last ones (one team fewer
        drops the first, so the others move up a place), more adds generated ones after its own."""
        own = self.teams[max(len(self.teams) - count, 0):]
        return self.but(teams=[*own, *({"name": f"team-{i:03d}"} for i in range(count - len(own)))])


STG_ECS = Variant("stg", {
    "compute": "ecs", "teams": TEAMS, "allowedCidrs": ALLOWED_CIDRS, "alarms": {"emails": ALARM_EMAILS},
    "backup": {"copyToRegion": "us-west-2"}, "aws:assumeRoles": DEPLOY_ROLES,
})
STG_EC2 = Variant("stg", {
    "compute": "ec2", "teams": [TEAMS[0], {**TEAMS[1], "langfuseKeys": "existing"}],
    "loadBalancer": {"scheme": "internal"}, "network": {"interfaceEndpoints": True}, "alarms": {"emails": ALARM_EMAILS},
    "host": {"ubuntuSerial": MOVED_UBUNTU_SERIAL}, "backup": SNAPSHOT_OVERRIDES,
    "database": {"restoredInstance": restored_instance("stg")}, "aws:profile": DEPLOY_PROFILE,
}, {"dockerHubCredentials": DOCKER_HUB_CREDENTIALS, "existingLangfuseKeys": EXISTING_KEYS})
PROD_ECS = Variant("prod", {
    "compute": "ecs", "teams": TEAMS, "loadBalancer": {"scheme": "internal"}, "network": {"natGateways": "single"},
    "backup": {**SNAPSHOT_OVERRIDES, "copyToRegion": "us-west-2", "copyKmsKeyArn": COPY_KEY},
}, {"litellmLicenseKey": LITELLM_LICENSE})
EU_ECS = Variant("stg", {
    "compute": "ecs", "region": "eu-central-2", "models": EU_MODELS, "teams": [], "domain": None,
    "allowInsecureHttp": True, "clickhouse": EXTERNAL_CLICKHOUSE, "litellm": {"image": LITELLM_OVERRIDE},
}, {"clickhouseExternalPassword": EXTERNAL_CLICKHOUSE_PASSWORD, "dockerHubCredentials": DOCKER_HUB_CREDENTIALS})
EU_EC2 = Variant("stg", {
    "compute": "ec2", "region": "eu-central-2", "models": EU_MODELS, "teams": [], "domain": None,
    "allowInsecureHttp": True, "loadBalancer": {"scheme": "internal"}, "protect": True,
})
_LONGEST = {
    "environment": "prod", "teams": [{"name": LONGEST_TEAM, "keys": [{"name": LONGEST_KEY}]}],
    "network": {"interfaceEndpoints": True},
    "database": {"restoredInstance": restored_instance(LONGEST_STACK)},
}
LONGEST_ECS = Variant(LONGEST_STACK, {"compute": "ecs", **_LONGEST})
LONGEST_EC2 = Variant(LONGEST_STACK, {"compute": "ec2", **_LONGEST})
