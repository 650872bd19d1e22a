"""The stack's settings: one typed schema of `Pulumi.<stack>.yaml`, immutable, validated once.

Each model is a key of the stack file (camelCase there, snake_case here); its docstrings are the
README's settings tables and the descriptions in the stack file's JSON Schema (config/stack_schema.py).
A model's own rules live in its `check`; rules across top-level keys are RULES below, and each runs
as soon as every key it reads is valid, so one error lists every problem found. config/loader.py
hands the stack's config in and words the refusals; everything downstream (renderers, service specs,
components) receives these objects and never reads Pulumi config itself.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from contextlib import suppress
from functools import cache
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError

from reference import names
from reference.bedrock import GEOGRAPHY_REGIONS, GLOBAL, parse_model_id
from reference.bedrock_prices import litellm_prices
from config.defaults import GROUP_DEFAULTS, TOP_LEVEL_DEFAULTS
from config.deploy_credentials import AssumedRole, DeployCredentials
from reference.fargate import FARGATE_SIZES
from config.fields import (
    HIDDEN, Check, Cidr, Flag, Frozen, Hint, Integer, Joined, NonEmptyList, Number, Plain, Problems, Secret, SecretText, Text,
    integer, matching, one_of, refuse,
)
from reference.images import parse_image, registry_problem
from reference.instance_types import INSTANCE_TYPES
from reference.langfuse import LICENSE_PREFIX, SSO_PROVIDERS
from reference.regions import REGIONS

NAMESPACE = "llm-gateway"  # the project's config namespace (Pulumi.yaml name)
TEAM_NAME = r"^[a-z][a-z0-9-]{1,30}$"
LANGFUSE_PLATFORM_PROJECT_ID = "platform"  # the Langfuse project of calls made without a team
# Team names taken, each with its reason: the platform project, and the team id LiteLLM keeps for its
# admin UI's sessions (litellm/proxy/_types.py UI_TEAM_ID; /team/new answers 400).
RESERVED_TEAM_NAMES = {
    LANGFUSE_PLATFORM_PROJECT_ID: "is reserved: it is the platform project, which traces every call made without a team",
    "litellm-dashboard": "is reserved by LiteLLM for its admin UI's sessions: /team/new refuses it",
}
# A team's Langfuse project is named after it, which Langfuse wants at least 3 characters long
# (langfuse v4.16.0 web/src/features/auth/lib/projectNameSchema.ts); TEAM_NAME allows 2.
LANGFUSE_PROJECT_NAME_MIN_LENGTH = 3
MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
BEDROCK_MODEL = r"^[a-z0-9-]+\.[A-Za-z0-9._:-]+$"
REGION = r"^[a-z]{2}(-gov)?-[a-z]+-\d$"
DOMAIN = r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
HOSTED_ZONE_ID = r"^[A-Z0-9]{1,32}$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
MEMBER_ROLES = ("admin", "member", "viewer")
KEY_NAME = r"^[a-z][a-z0-9-]{1,30}$"
BUDGET_DURATION = r"^[1-9][0-9]*(s|m|h|d|w|mo)$"
RDS_INSTANCE = r"^db\.[a-z0-9]+\.[a-z0-9]+$"
CACHE_NODE = r"^cache\.[a-z0-9]+\.[a-z0-9]+$"
HTTPS_URL = r"^https://[a-z0-9.-]+(:[0-9]{1,5})?/?$"
URL_SAFE_USER = r"^[A-Za-z0-9._~-]+$"  # RFC 3986 unreserved characters: the same in a URL's query
SSO_URL = r"^https://[^\s/]+(/\S*)?$"
TENANT_ID = r"^[A-Za-z0-9.-]{1,253}$"
# DLM's CreateRule Times: "hh:mm" in UTC (DLM API Reference, CreateRule).
SNAPSHOT_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
# DLM's CrossRegionCopyRule CmkArn pattern (DLM API Reference), narrowed to the commercial partition.
KMS_KEY_ARN = r"^arn:aws:kms:[a-z]{2}-[a-z]+-\d:\d{12}:key/(mrk-)?[0-9a-f-]+$"
UBUNTU_SERIAL = r"^[0-9]{8}(\.[0-9]{1,2})?$"  # a Canonical image serial (20260923, 20260923.1), never "current"
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)
MIN_LITELLM = (1, 104)  # Langfuse SDK v4 callback; also clears CVE-2026-42208 (< 1.83.7)
MIN_CLICKHOUSE = (25, 12)  # Langfuse v4 floor
MIN_REDIS = (7,)
# Ceilings on a team's LiteLLM rate limits: typo guards (an extra zero or three), not AWS limits.
# What a team can really use is bounded by the account's Bedrock quotas (Service Quotas); raise
# these if a team ever needs more than 100k requests or 100M tokens per minute.
MAX_RPM_LIMIT = 100_000
MAX_TPM_LIMIT = 100_000_000
# A range wider than a /8 (16.7M addresses) is no office, VPN or peered network: it is the internet,
# or most of it (0.0.0.0/1 + 128.0.0.0/1 is 0.0.0.0/0 spelled twice).
WIDEST_PRIVATE_PREFIX = 8
ENVIRONMENTS = ("stg", "prod")
# The deploy's own AWS calls sign as the stack's AWS provider (config/deploy_credentials.py): these
# are the provider's keys they follow (pulumi-aws 7; STS AssumeRole's parameter patterns).
PROFILE = r"^[^\s\[\]]{1,128}$"
ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$"
SESSION_NAME = r"^[\w+=,.@-]{2,64}$"  # STS AssumeRole RoleSessionName
EXTERNAL_ID = r"^[\w+=,.@:/-]{2,1224}$"  # STS AssumeRole ExternalId


def _not_carried(instead: str) -> str:
    return (f"is not carried into the deploy's own AWS calls (one-off jobs, host commands): {instead}, which the AWS "
            "provider and those calls both read")


# Keys a stack may hold that this program refuses, each with its reason: what an earlier version read,
# and the AWS provider's keys the deploy's own AWS calls could follow only with a secret in their
# inputs (static keys, web identity, other credential files) or that pulumi-aws 7 refuses itself.
REFUSED_KEYS = {
    "langfuseOrganizationKeys": "is no longer used: the team plane writes every team's Langfuse project and keys "
                                "inside the VPC in every Langfuse edition (README, Teams); remove it with "
                                "`pulumi config rm langfuseOrganizationKeys`",
    "aws:accessKey": _not_carried("use a named profile (aws:profile) or the environment (AWS_ACCESS_KEY_ID, "
                                  "AWS_SECRET_ACCESS_KEY)"),
    "aws:secretKey": _not_carried("use a named profile (aws:profile) or the environment (AWS_ACCESS_KEY_ID, "
                                  "AWS_SECRET_ACCESS_KEY)"),
    "aws:token": _not_carried("use a named profile (aws:profile) or the environment (AWS_SESSION_TOKEN)"),
    "aws:assumeRoleWithWebIdentity": _not_carried("use the environment (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)"),
    "aws:sharedConfigFiles": _not_carried("use the environment (AWS_CONFIG_FILE)"),
    "aws:sharedCredentialsFiles": _not_carried("use the environment (AWS_SHARED_CREDENTIALS_FILE)"),
    "aws:assumeRole": "is pulumi-aws 6's key: pulumi-aws 7 takes aws:assumeRoles, a list",
}
DOCKER_HUB_CREDENTIALS = "dockerHubCredentials"
# Docker docs, "Access token reference": the lowest permission that pulls public images.
DOCKER_HUB_TOKEN_HOWTO = (
    "create a Docker Hub personal access token with the permission 'Repo Public Read-only' (Docker Hub: "
    "Account settings > Personal access tokens), then `pulumi config set --secret --path "
    f"{DOCKER_HUB_CREDENTIALS}.username <Docker ID>` and `pulumi config set --secret --path "
    f"{DOCKER_HUB_CREDENTIALS}.accessToken <token>`"
)
SET_SECRET = "`pulumi config set --secret`"
SET_SECRET_PATH = "`pulumi config set --secret --path ...`"
PROFILE_IN_PLAIN_TEXT = f"must be a profile name matching {PROFILE}, in plain text"
ROLES_IN_PLAIN_TEXT = "must be a list of {roleArn, sessionName?, externalId?, ...}, in plain text"


Region = Annotated[Text, matching(REGION), one_of(
    REGIONS, f"is not a Region this program serves (reference/regions.py: {', '.join(sorted(REGIONS))})")]
Image = Annotated[Text, Check(lambda reference: parse_image(reference) is not None,
                              "must be an image reference name:tag@sha256:<64 hex>")]
InstanceType = Annotated[Text, one_of(INSTANCE_TYPES)]
FargateCpu = Annotated[Integer, one_of(FARGATE_SIZES, f"must be a Fargate CPU size ({', '.join(map(str, FARGATE_SIZES))})")]
LogRetention = Annotated[Integer, one_of(LOG_RETENTION_DAYS)]
Email = Annotated[Text, matching(EMAIL)]


def _image_problems(problems: Problems, key: str, reference: str, product: str | None = None,
                    minimum: tuple[int, ...] = (), major: int | None = None) -> None:
    """What the platform refuses to pull: no digest (nothing resolves a tag at deploy time: no registry,
    no Docker daemon on the deploying machine), a registry outside the policy, a release too old."""
    image = parse_image(reference)
    if image.digest is None:
        problems.add(key, "must carry its digest (name:tag@sha256:<64 hex>): read it where the registry is reachable "
                     f"with `scripts/pin_images.py --resolve {reference}` or `docker buildx imagetools inspect "
                     f"{reference}`", reference)
    if problem := registry_problem(image):
        problems.add(key, problem, reference)
    version = image.version or (0,)
    if major is not None and version[0] != major:
        problems.add(key, f"must be a {product} v{major} image (tag {major}.x)", reference)
    if minimum and version[: len(minimum)] < minimum:
        problems.add(key, f"must be {product} {'.'.join(map(str, minimum))} or newer", reference)


def _starting(prefix: str, why: str = "") -> Check:
    """A secret's kind, told by its prefix; the refusal leaves the secret out."""
    return Check(lambda secret: secret.reveal().startswith(prefix), f"must start with {prefix}{why}", shown=False)


def _fargate_memory(problems: Problems, cpu: int, memory_key: str, memory: int) -> None:
    allowed = FARGATE_SIZES[cpu]
    if memory not in allowed:
        problems.add(memory_key, f"is not a Fargate memory size for cpu {cpu} ({allowed.start}-{allowed.stop - 1} "
                     f"MiB in steps of {allowed.step})", memory)


def _not_below(problems: Problems, key: str, value: int, floor_key: str, floor: int) -> None:
    if value < floor:
        problems.add(key, f"must be >= {floor_key} ({floor})", value)


class Model(Frozen):
    """A model clients call by `name`, served by Bedrock."""

    name: Annotated[Text, matching(MODEL_NAME)]
    """What clients send; names differing only by case are refused."""
    bedrock_model: Annotated[Text, matching(BEDROCK_MODEL)]
    """A foundation model id (`amazon.titan-embed-text-v2:0`) or inference profile id
    (`us.anthropic.claude-sonnet-4-20250514-v1:0`)."""
    region: Region = None  # filled in from aws:region by Settings
    """The Bedrock Region the proxy calls: `aws:region` when not given; one of the Regions in
    `reference/regions.py`."""
    destination_regions: tuple[Annotated[Text, matching(REGION)], ...] = ()
    """Narrows the Regions an inference profile may route to (IAM)."""
    # LiteLLM runs with LITELLM_LOCAL_MODEL_COST_MAP=True: a model missing from its bundled price map
    # costs 0, so spend is never recorded and budgets never stop the team. Such a model needs prices.
    input_cost_per_token: Number = None
    """USD per input token, with `outputCostPerToken`: required for a model the pinned LiteLLM's bundled price
    map lacks (`reference/bedrock_priced_models.json`), since LiteLLM would charge it nothing and budgets would
    never stop a team."""
    output_cost_per_token: Number = None
    """USD per output token, with `inputCostPerToken`."""

    def check(self, problems: Problems) -> None:
        geography = parse_model_id(self.bedrock_model).geography
        if self.region is not None and geography not in (None, GLOBAL) and self.region not in GEOGRAPHY_REGIONS[geography]:
            problems.add("region", f"cannot call the {geography}. inference profile {self.bedrock_model} "
                         f"(regions: {', '.join(GEOGRAPHY_REGIONS[geography])})", self.region)
        if self.destination_regions and geography is None:
            problems.add("destinationRegions", "applies to inference profiles only", self.destination_regions)
        prices = {"inputCostPerToken": self.input_cost_per_token, "outputCostPerToken": self.output_cost_per_token}
        given = [key for key, price in prices.items() if price is not None]
        if len(given) == 1:
            problems.add(next(key for key in prices if key not in given), f"is required with {given[0]}")
        elif not given and not litellm_prices(self.bedrock_model):
            problems.add("bedrockModel", "has no price in the pinned LiteLLM's price map: set inputCostPerToken and "
                         "outputCostPerToken (USD per token), or budgets never stop a team using it", self.bedrock_model)


class LangfuseKeyPair(Frozen):
    """A team's Langfuse project keys kept from before (`langfuseKeys: existing`)."""

    public_key: Annotated[SecretText, _starting("pk-lf-")]
    """The project's public key, `pk-lf-...`."""
    secret_key: Annotated[SecretText, _starting("sk-lf-")]
    """The project's secret key, `sk-lf-...`."""


def _unique_names(key: str, casefold: bool = False) -> AfterValidator:
    """Clients and people confuse names that differ only by case: with `casefold`, one of them is a mistake."""
    def unique(entries: tuple[Any, ...]) -> tuple[Any, ...]:
        problems, seen = Problems(), {}
        for i, entry in enumerate(entries):
            name = entry.name.lower() if casefold else entry.name
            if name in seen:
                problems.add((i, "name"), f"duplicates {key}[{seen[name]}].name", entry.name)
            seen.setdefault(name, i)
        problems.raise_any(key)
        return entries
    return AfterValidator(unique)


class Member(Frozen):
    """A person of a team, by company e-mail."""

    shape: ClassVar[str] = "{email, role}"
    email: Email
    """Their company e-mail (compared in lowercase, as Langfuse stores it)."""
    role: Annotated[Text, one_of(MEMBER_ROLES)]
    """`admin`, `member` or `viewer`: their role in the team's Langfuse organization (ADMIN, MEMBER, VIEWER); in
    the LiteLLM team `admin` is a team admin with `litellmLicenseKey`, else a user like the others."""


class TeamKey(Frozen):
    """A LiteLLM virtual key of the team, generated and kept in Secrets Manager."""

    shape: ClassVar[str] = "{name, maxBudget?, models?}"
    name: Annotated[Text, matching(KEY_NAME)]
    """Lowercase letters, digits and hyphens; the secret is `<stack>/litellm-keys/teams/<team>/<name>`."""
    max_budget: Number = None
    """USD the key may spend (LiteLLM's key budget, within the team's)."""
    models: tuple[Text, ...] = ()
    """Names of the team's models this key may call; empty: every model of the team."""


def _unique_emails(members: tuple[Member, ...]) -> tuple[Member, ...]:
    """One entry per person: Langfuse and LiteLLM both find a person by the address, whatever its case."""
    problems, seen = Problems(), {}
    for i, member in enumerate(members):
        email = member.email.lower()
        if email in seen:
            problems.add((i, "email"), f"duplicates members[{seen[email]}].email", member.email)
        seen.setdefault(email, i)
    problems.raise_any("members")
    return members


class Team(Frozen):
    """A team: its LiteLLM team, members and keys, its own Langfuse organization and project."""

    name: Annotated[
        Text, matching(TEAM_NAME),
        Check(lambda name: name not in RESERVED_TEAM_NAMES, RESERVED_TEAM_NAMES.get,
              schema={"not": {"enum": list(RESERVED_TEAM_NAMES)}}),
        Check(lambda name: len(name) >= LANGFUSE_PROJECT_NAME_MIN_LENGTH,
              f"must have at least {LANGFUSE_PROJECT_NAME_MIN_LENGTH} characters: the team's Langfuse project is named "
              "after it, and Langfuse refuses shorter project names", schema={"minLength": LANGFUSE_PROJECT_NAME_MIN_LENGTH}),
    ]
    """Lowercase letters, digits and hyphens, at least 3 characters (the team's Langfuse project is named after
    it); not `platform` (the platform project, which traces calls made without a team) nor `litellm-dashboard`
    (LiteLLM's admin UI)."""
    models: tuple[Text, ...] = ()
    """Names from `models` this team may call; empty: every configured model."""
    max_budget: Number = None
    """USD the team may spend per `budgetDuration`."""
    budget_duration: Annotated[Text, matching(BUDGET_DURATION)] = None
    """The budget's period, like `30d`; needs `maxBudget`."""
    rpm_limit: integer(1, MAX_RPM_LIMIT) = None
    """Requests per minute (the ceiling is a typo guard)."""
    tpm_limit: integer(1, MAX_TPM_LIMIT) = None
    """Tokens per minute (the ceiling is a typo guard)."""
    langfuse_keys: Annotated[Text, one_of(("generate", "existing"))] = "generate"
    """`generate`: the team plane creates the project and its keys; `existing`: adopt the keys in
    `existingLangfuseKeys`."""
    members: Annotated[tuple[Member, ...], AfterValidator(_unique_emails)] = ()
    """The team's people: each reads the team's Langfuse project with that role (the team's own Langfuse
    organization, so no other team's) and is a member of its LiteLLM team; one who has not signed in to Langfuse
    yet gets an invitation. A removed entry loses that access; people added by hand are left alone. Not with
    `langfuseKeys: existing`."""
    keys: Annotated[tuple[TeamKey, ...], _unique_names("keys")] = ()
    """The team's LiteLLM virtual keys, `{name, maxBudget?, models?}` each: generated, stored in Secrets Manager
    (the stack output `teamLitellmKeySecretArns` names each secret), registered by the team plane, rotated by
    replacing the key's random value, revoked when the entry goes."""
    existing_keys: Joined[LangfuseKeyPair] = None  # from existingLangfuseKeys when langfuse_keys == "existing"

    def check(self, problems: Problems) -> None:
        if self.budget_duration and self.max_budget is None:
            problems.add("budgetDuration", "needs maxBudget", self.budget_duration)
        if self.members and self.langfuse_keys == "existing":
            problems.add("members", "needs langfuseKeys: generate: an existing project is adopted where it is, in an "
                         "organization the gateway does not own, so it cannot decide who reads it (manage its people "
                         "in Langfuse, or let the team plane generate the team's project)")
        for i, key in enumerate(self.keys):
            for j, model in enumerate(key.models):
                if self.models and model not in self.models:
                    problems.add(("keys", i, "models", j), f"is not one of the team's models ({', '.join(self.models)})",
                                 model)

    @property
    def env_suffix(self) -> str:
        """Deterministic, collision-free environment-variable suffix (`home-rentals` -> `HOME_RENTALS`)."""
        return self.name.upper().replace("-", "_")


def _token_part(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        refuse(HIDDEN, f"is required, a non-empty string: {DOCKER_HUB_TOKEN_HOWTO}")
    return value


class RegistryCredentials(Frozen):
    """Pull credentials for a registry: a username and an access token (never a password)."""

    username: Annotated[SecretText, BeforeValidator(_token_part)]
    """The Docker ID."""
    access_token: Annotated[SecretText, BeforeValidator(_token_part)]
    """A personal access token with the permission "Repo Public Read-only"."""

    @model_validator(mode="before")
    @classmethod
    def _both_keys(cls, value: Any) -> Any:
        """A missing one is refused as an empty one: with how to make it."""
        return {"username": None, "accessToken": None, **value} if isinstance(value, dict) else value


class NetworkSettings(Frozen):
    """The VPC."""

    vpc_cidr: Cidr
    """VPC range, /16 to /22; subnets are prefix+4."""
    az_count: integer(2, 6)
    """Availability Zones (2-6)."""
    nat_gateways: Annotated[Text, one_of(("single", "perAz"))]
    """One NAT gateway, or one per AZ."""
    interface_endpoints: Flag
    """Interface endpoints for bedrock-runtime, secretsmanager, logs, ecr."""
    flow_log_retention_days: LogRetention
    """VPC flow log retention (days, one of CloudWatch's retention periods)."""

    def check(self, problems: Problems) -> None:
        if not 16 <= ipaddress.ip_network(self.vpc_cidr).prefixlen <= 22:
            problems.add("vpcCidr", "must be a /16 to /22 network (subnets are carved as prefix+4)", self.vpc_cidr)


class DatabaseSettings(Frozen):
    """PostgreSQL on RDS."""

    engine_version: Annotated[Text, one_of(("16", "17"))]
    """PostgreSQL major version."""
    instance_class: Annotated[Text, matching(RDS_INSTANCE)]
    """RDS instance class."""
    allocated_storage_gb: integer(20, 65536)
    """Storage (GiB)."""
    max_allocated_storage_gb: integer(20, 65536)
    """Storage autoscaling ceiling (GiB), at least `allocatedStorageGb`."""
    multi_az: Flag
    """Multi-AZ standby."""
    backup_retention_days: integer(1, 35)
    """Automated backups (days; at least 7 in prod)."""
    performance_insights: Flag
    """Performance Insights."""
    restored_instance: Annotated[Text, matching(r"^[a-z](-?[a-z0-9])*$")] = None
    """Set only by a point-in-time restore (see "Backups and restores"): the restored instance
    `<prefix>-postgres-<suffix>` the stack now runs on."""

    def check(self, problems: Problems) -> None:
        _not_below(problems, "maxAllocatedStorageGb", self.max_allocated_storage_gb,
                 "database.allocatedStorageGb", self.allocated_storage_gb)


class LitellmSettings(Frozen):
    """The LiteLLM proxy."""

    image: Image
    """LiteLLM image `name:tag@sha256:<digest>`, 1.104 or newer (default: `reference/images.py`)."""
    cpu: FargateCpu
    """Fargate CPU units per task."""
    memory: Integer
    """MiB per task: a Fargate memory size for `cpu`."""
    desired_count: integer(1, 100)
    """Tasks."""
    max_count: integer(1, 100)
    """Autoscaling ceiling, at least `desiredCount`."""
    max_requests_before_restart: integer(100)
    """Requests after which a gunicorn worker is replaced (±10% jitter); the process keeps serving, and its other
    worker serves while one retires. Each recycle may fail a call per open connection: see "Timeouts, restarts and
    what clients see"."""

    def check(self, problems: Problems) -> None:
        _fargate_memory(problems, self.cpu, "memory", self.memory)
        _not_below(problems, "maxCount", self.max_count, "litellm.desiredCount", self.desired_count)
        _image_problems(problems, "image", self.image, "LiteLLM", MIN_LITELLM)


class LangfuseSettings(Frozen):
    """Langfuse v4: web and worker."""

    web_image: Image
    """Langfuse v4 web image `name:tag@sha256:<digest>` (default: `reference/images.py`)."""
    worker_image: Image
    """Langfuse worker image, of the web image's tag."""
    web_cpu: FargateCpu
    """Web task CPU units (prod: Langfuse's documented minimum)."""
    web_memory: Integer
    """Web task MiB: a Fargate memory size for `webCpu`."""
    web_desired_count: integer(1, 50)
    """Web tasks."""
    web_max_count: integer(1, 50)
    """Web autoscaling ceiling, at least `webDesiredCount`."""
    worker_cpu: FargateCpu
    """Worker task CPU units (prod: the documented minimum)."""
    worker_memory: Integer
    """Worker task MiB: a Fargate memory size for `workerCpu`."""
    worker_desired_count: integer(1, 50)
    """Worker tasks."""
    telemetry_enabled: Flag
    """Langfuse usage telemetry."""
    auth_disable_signup: Flag
    """`true` refuses every new account, invited or not (Langfuse creates an invited person's account at
    sign-up): only existing accounts could sign in. See "Signing in to Langfuse"."""
    admin_email: Email
    """The initial admin user (password generated, in Secrets Manager)."""
    organization_name: Text
    """The Langfuse organization holding the platform project (each team's project is in an organization of its
    own, named after the team)."""

    def check(self, problems: Problems) -> None:
        _fargate_memory(problems, self.web_cpu, "webMemory", self.web_memory)
        _fargate_memory(problems, self.worker_cpu, "workerMemory", self.worker_memory)
        _not_below(problems, "webMaxCount", self.web_max_count, "langfuse.webDesiredCount", self.web_desired_count)
        _image_problems(problems, "webImage", self.web_image, "Langfuse", major=4)
        _image_problems(problems, "workerImage", self.worker_image)
        web, worker = parse_image(self.web_image), parse_image(self.worker_image)
        if web.tag != worker.tag:
            problems.add("workerImage", f"must have the web image's tag ({web.tag})", self.worker_image)


class ClickhouseSettings(Frozen):
    """ClickHouse: the stack's own host (its own instance in ECS mode, a container on the EC2 host), or an
    external one."""

    image: Image
    """ClickHouse image `name:tag@sha256:<digest>`, 25.12 or newer (default: `reference/images.py`)."""
    instance_type: InstanceType
    """The ClickHouse host in ECS mode (Graviton types listed in `reference/instance_types.py`; prod: 2 whole vCPUs
    and more than 8 GiB, Langfuse's minimum)."""
    data_volume_gb: integer(10, 16384)
    """Its data volume (GiB)."""
    external_url: Annotated[Text, matching(HTTPS_URL)] = None
    """ECS mode: use an external ClickHouse (e.g. ClickHouse Cloud `https://<host>:8443`) instead of the stack's
    own host."""
    external_user: Text
    """The external ClickHouse's user; with `externalUrl`, RFC 3986 unreserved characters only (Langfuse's
    migration puts it into a URL unescaped)."""
    external_password: Joined[SecretText] = None  # from clickhouseExternalPassword

    # Editors check the user as the rule below does: only with externalUrl.
    model_config = ConfigDict(json_schema_extra={
        "if": {"required": ["externalUrl"]}, "then": {"properties": {"externalUser": {"pattern": URL_SAFE_USER}}},
    })

    def check(self, problems: Problems) -> None:
        _image_problems(problems, "image", self.image, "ClickHouse", MIN_CLICKHOUSE)
        if self.external_url is not None and not re.fullmatch(URL_SAFE_USER, self.external_user):
            problems.add("externalUser", f"must match {URL_SAFE_USER}: Langfuse's migration puts it into a URL unescaped "
                         "(packages/shared/clickhouse/scripts/up.sh `?username=$CLICKHOUSE_USER&...`)", self.external_user)

    @property
    def hosted(self) -> bool:
        """True when the stack runs ClickHouse itself."""
        return self.external_url is None


class RedisSettings(Frozen):
    """Valkey: a container on the EC2 host, ElastiCache in ECS mode."""

    image: Image
    """Valkey/Redis container image (EC2 host), 7 or newer (default: `reference/images.py`)."""
    node_type: Annotated[Text, matching(CACHE_NODE)]
    """ElastiCache node type (ECS mode)."""
    engine_version: Annotated[Text, matching(r"^[0-9]+\.[0-9]+$")]
    """ElastiCache Valkey version, 7.0 or newer (ECS mode)."""
    replicas: integer(0, 5)
    """ElastiCache read replicas; 1 or more enables automatic failover (ECS mode)."""

    def check(self, problems: Problems) -> None:
        _image_problems(problems, "image", self.image, "Redis/Valkey", MIN_REDIS)
        if int(self.engine_version.split(".")[0]) < MIN_REDIS[0]:
            problems.add("engineVersion", "must be 7.0 or newer", self.engine_version)


class HostSettings(Frozen):
    """The single EC2 host (compute: ec2)."""

    instance_type: InstanceType
    """Graviton types listed in `reference/instance_types.py`; its containers' memory limits must fit (see "Staging on
    one host")."""
    data_volume_gb: integer(10, 16384)
    """Its data volume (GiB)."""
    root_volume_gb: integer(20, 1024)
    """Its root volume (GiB)."""
    ubuntu_serial: Annotated[Text, matching(UBUNTU_SERIAL)]
    """Canonical's release serial of the Ubuntu 24.04 arm64 image both compose hosts boot (the EC2 host, and the
    ClickHouse host in ECS mode). The AMI changes only when you move it (see "Moving the hosts to a new Ubuntu
    image"); never `current`."""


class LoadBalancerSettings(Frozen):
    """The Application Load Balancer in front of LiteLLM and Langfuse."""

    scheme: Annotated[Text, one_of(("internet-facing", "internal"))]
    """`internal`: the load balancer lives in the private subnets with private addresses only, reached over VPN,
    Direct Connect or VPC peering; `allowedCidrs` still gate it. Its name (and the `hostedZoneId` aliases to
    it) resolves publicly to those private addresses; the zone must be a public one, since ACM validates the
    certificate through public DNS."""
    public: Flag
    """The gateway is meant to face the whole internet: only then may prod list `0.0.0.0/0` (or any range wider
    than a /8) in `allowedCidrs`. Refused with `scheme: internal`."""

    def check(self, problems: Problems) -> None:
        if self.scheme == "internal" and self.public:
            problems.add("public", "contradicts loadBalancer.scheme 'internal' (an internal load balancer has "
                         "private addresses only)", True)


class BackupSettings(Frozen):
    """Scheduled snapshots of the compose hosts' data volumes (Data Lifecycle Manager)."""

    snapshot_retention_days: integer(1, 365)  # a typo guard
    """Days each daily snapshot of the data volumes is kept (and its copy, with `copyToRegion`)."""
    snapshot_time: Annotated[Text, matching(SNAPSHOT_TIME)]
    """UTC start of the daily snapshot (`hh:mm`)."""
    copy_to_region: Annotated[Text, matching(REGION)] = None
    """Copy every snapshot to this other Region."""
    copy_kms_key_arn: Annotated[Text, matching(KMS_KEY_ARN)] = None
    """The copies' KMS key, in `copyToRegion` (default: that Region's `aws/ebs` key)."""

    def check(self, problems: Problems) -> None:
        if self.copy_kms_key_arn is not None and self.copy_to_region is None:
            problems.add("copyKmsKeyArn", "needs backup.copyToRegion", self.copy_kms_key_arn)
        elif self.copy_kms_key_arn is not None and self.copy_kms_key_arn.split(":")[3] != self.copy_to_region:
            problems.add("copyKmsKeyArn", f"must be a key in backup.copyToRegion ({self.copy_to_region}): a KMS key "
                         "encrypts only in its own Region", self.copy_kms_key_arn)


class AlarmSettings(Frozen):
    """Who is told, and when (renderers/alarms.py describes every alarm from these)."""

    emails: tuple[Email, ...]
    """Who is told: each address gets an SNS email subscription (confirm the mail AWS sends; nothing arrives
    before). Duplicates are refused."""
    http5xx_percent: integer(1, 100) = Field(alias="http5xxPercent")  # to_camel: http5Xx
    """Per service (LiteLLM, Langfuse web): share of requests the targets answered 5xx over 5 minutes (ignored
    below 20 requests)."""
    unhealthy_hosts: integer(1, 100)
    """Targets failing the load balancer's health check, per service, for 3 minutes."""
    disk_used_percent: integer(1, 99)
    """Data volume and root volume of each compose host (the stg host; the ClickHouse host in ECS mode)."""
    database_cpu_percent: integer(1, 100)
    """PostgreSQL CPU, 15 minutes."""
    database_free_storage_gb: integer(1, 65536)
    """PostgreSQL free storage (GiB); must be below `database.allocatedStorageGb`."""
    database_connections: integer(1, 100000)
    """PostgreSQL connections, 10 minutes (RDS's default max is ~100 on db.t4g.micro, ~200 on db.t4g.small)."""
    valkey_memory_percent: integer(1, 100)
    """ElastiCache Valkey memory per node (ECS mode; noeviction: full means writes fail)."""
    langfuse_queue_length: integer(1)
    """Jobs waiting in Langfuse's OTEL and API ingestion queues, 15 minutes (no depth published for 15 minutes
    alarms too)."""
    litellm_errors: integer(1)
    """LiteLLM error log lines per 5 minutes."""

    def check(self, problems: Problems) -> None:
        lowered = [email.lower() for email in self.emails]
        for i, email in enumerate(self.emails):
            if lowered.index(email.lower()) < i:  # SNS would hold one subscription for both
                problems.add(("emails", i), f"duplicates alarms.emails[{lowered.index(email.lower())}]", email)


class LangfuseSso(Frozen):
    """Sign-in to Langfuse through the company's identity provider (see services/langfuse_access.py)."""

    provider: Annotated[Text, one_of(SSO_PROVIDERS)] = Field(description=f"One of {', '.join(SSO_PROVIDERS)}.")
    client_id: Text = None
    """The OAuth client id."""
    issuer: Annotated[Text, matching(SSO_URL, "must be an https:// URL")] = None
    """The issuer URL: for every provider but azure-ad, google and github-enterprise."""
    tenant_id: Annotated[Text, matching(TENANT_ID, "must be the directory (tenant) id")] = None
    """azure-ad: the directory (tenant) id."""
    base_url: Annotated[Text, matching(SSO_URL, "must be an https:// URL")] = None
    """github-enterprise: the server's URL."""
    name: Text = None
    """custom: the sign-in button's label."""
    allowed_domains: tuple[Annotated[Text, matching(DOMAIN)], ...] = ()
    """google: the Workspace domains (`hd` claim) that may sign in; required for google."""
    client_secret: Joined[SecretText] = None  # from langfuseSsoClientSecret

    def check(self, problems: Problems) -> None:
        _, endpoint, _ = SSO_PROVIDERS[self.provider]
        required = ("clientId", *((endpoint,) if endpoint else ()), *(("name",) if self.provider == "custom" else ()))
        values = {"clientId": self.client_id, "issuer": self.issuer, "tenantId": self.tenant_id,
                  "baseUrl": self.base_url, "name": self.name}
        for key in required:
            if values[key] is None:
                problems.add(key, f"is required for provider {self.provider}")
        for key in ("issuer", "tenantId", "baseUrl", "name"):
            if values[key] is not None and key not in required:
                problems.add(key, f"does not apply to provider {self.provider}")
        if self.provider == "google" and not self.allowed_domains:
            problems.add("allowedDomains", "must list the company's Google Workspace domains (without it any Google "
                         "account could sign up)", [])
        elif self.provider != "google" and "allowed_domains" in self.model_fields_set:
            problems.add("allowedDomains", "applies to provider google only (the others admit whoever the company's "
                         "own tenant admits)")


def _given(pattern: str) -> BeforeValidator:
    """A key that must be present: missing (null) or not text, it is refused as not matching."""
    def given(value: Any) -> Any:
        if not isinstance(value, str):
            refuse(value, f"must match {pattern}")
        return value
    return BeforeValidator(given)


class AssumeRole(Frozen):
    """A role of `aws:assumeRoles` (pulumi-aws 7), assumed in turn by the AWS provider and by the deploy's own
    AWS calls."""

    unknown_key: ClassVar[str] = "is not a key of aws:assumeRoles"
    shape: ClassVar[str] = "{roleArn, sessionName?, externalId?, ...}"
    role_arn: Annotated[Text, matching(ROLE_ARN), _given(ROLE_ARN)]
    """The role's ARN."""
    session_name: Annotated[Text, matching(SESSION_NAME)] = None
    """STS's RoleSessionName (default: `llm-gateway-deploy`)."""
    external_id: Annotated[Text, matching(EXTERNAL_ID)] = None
    """STS's ExternalId."""
    source_identity: Text = None
    """STS's SourceIdentity."""
    policy: Text = None
    """A session policy (JSON text)."""
    policy_arns: tuple[Text, ...] = ()
    """Managed session policies."""
    tags: dict[str, Text] = {}
    """Session tags."""
    transitive_tag_keys: tuple[Text, ...] = ()
    """Session tags passed on to the next role."""
    duration: Text = None
    """Accepted, not carried: boto3 refreshes the deploy's own calls' session before it expires."""

    @model_validator(mode="before")
    @classmethod
    def _role_arn_given(cls, value: Any) -> Any:
        return {"roleArn": None, **value} if isinstance(value, dict) else value

    def carried(self) -> AssumedRole:
        given = {"session_name": self.session_name, "external_id": self.external_id,
                 "source_identity": self.source_identity, "policy": self.policy}
        return AssumedRole(self.role_arn, **{key: value for key, value in given.items() if value is not None},
                           policy_arns=self.policy_arns, tags=tuple(sorted(self.tags.items())),
                           transitive_tag_keys=self.transitive_tag_keys)


def _role_list(value: Any) -> Any:
    if not isinstance(value, list):
        refuse(HIDDEN, ROLES_IN_PLAIN_TEXT)
    return value


class Settings(Frozen):
    """The `llm-gateway` namespace of `Pulumi.<stack>.yaml` (and `aws:region`)."""

    project: SkipJsonSchema[str] = Field(alias="pulumi:project")  # Pulumi.yaml name; a namespace key has no ':'
    stack: SkipJsonSchema[str] = Field(alias="pulumi:stack")
    region: Annotated[Region, Hint("pulumi config set aws:region <region>")] = Field(alias="aws:region")
    """Region of the stack: one of the Regions in `reference/regions.py` (commercial partition). Each row says how
    that Region delivers load balancer access logs. Add a row to serve another Region."""
    aws_profile: Annotated[Text, Plain(PROFILE_IN_PLAIN_TEXT), Check(
        lambda profile: re.fullmatch(PROFILE, profile) is not None, PROFILE_IN_PLAIN_TEXT, shown=False,
        schema={"pattern": PROFILE})] = Field(None, alias="aws:profile")
    """The AWS provider's named profile (pulumi-aws 7). The deploy's own AWS calls (one-off jobs and host commands,
    `components/deploy_session.py`) sign as the provider does: they carry the profile's name in their inputs."""
    aws_assume_roles: Annotated[tuple[AssumeRole, ...], Plain(ROLES_IN_PLAIN_TEXT), BeforeValidator(_role_list)] = Field(
        (), alias="aws:assumeRoles")
    """Roles the AWS provider assumes in turn (pulumi-aws 7), and so the deploy's own AWS calls, which carry each
    role in their inputs (never a secret). Refused, because the jobs could follow them only with a secret in their
    inputs: `aws:accessKey`/`secretKey`/`token` (use a profile or `AWS_ACCESS_KEY_ID`...),
    `aws:assumeRoleWithWebIdentity` (use `AWS_ROLE_ARN` and `AWS_WEB_IDENTITY_TOKEN_FILE`),
    `aws:sharedConfigFiles`/`sharedCredentialsFiles` (use `AWS_CONFIG_FILE`/`AWS_SHARED_CREDENTIALS_FILE`); the
    environment is read by both. pulumi-aws 6's `aws:assumeRole` is refused too."""
    compute: Annotated[Text, one_of(("ecs", "ec2"))]
    """Compute shape (see above)."""
    environment: Annotated[Text, one_of(ENVIRONMENTS)] = None  # the stack's name for the stacks named stg and prod
    """Which defaults apply. The stacks named `stg` and `prod` default to their name and may not set another;
    required for a stack named otherwise."""
    domain: Annotated[Text, matching(DOMAIN)] = None
    """Gateway at `https://litellm.<domain>`, Langfuse at `https://langfuse.<domain>`. Required unless
    `allowInsecureHttp`."""
    hosted_zone_id: Annotated[Text, matching(HOSTED_ZONE_ID)] = None
    """Route53 zone for the DNS records and certificate validation. Required in prod with `domain`; without it
    (stg) the records to create are logged and exported as `dnsRecordsToCreate`."""
    allowed_cidrs: Annotated[tuple[Cidr, ...], NonEmptyList()]
    """IPv4 ranges that may reach the load balancer (80/443); each range once (duplicates and nested ranges are
    refused). In prod no range wider than a /8 (e.g. `0.0.0.0/0`) unless `loadBalancer.public: true`."""
    allow_insecure_http: Flag = False
    """Without `domain`: plain HTTP on the load balancer name. Refused in prod."""
    protect: Flag
    """Pulumi protection for stateful resources (database, secrets, data volumes, buckets)."""
    log_retention_days: LogRetention
    """Application log retention (days, one of CloudWatch's retention periods)."""
    models: Annotated[tuple[Model, ...], NonEmptyList("{name, bedrockModel, region?}"), _unique_names("models", casefold=True)]
    """The models clients may call."""
    teams: Annotated[tuple[Team, ...], _unique_names("teams")] = ()
    """The teams: each gets its LiteLLM team and its own Langfuse project."""
    network: NetworkSettings
    database: DatabaseSettings
    litellm: LitellmSettings
    langfuse: LangfuseSettings
    clickhouse: ClickhouseSettings
    redis: RedisSettings
    host: HostSettings
    load_balancer: LoadBalancerSettings
    backup: BackupSettings
    alarms: AlarmSettings
    existing_langfuse_keys: Annotated[dict[str, LangfuseKeyPair], Secret(SET_SECRET_PATH),
                                      Hint("team -> {publicKey, secretKey}")] = {}
    """For teams with `langfuseKeys: existing`: `pulumi config set --secret --path
    'existingLangfuseKeys.<team>.publicKey' pk-lf-...` (and `.secretKey`)."""
    clickhouse_external_password: Annotated[SecretText, Secret(SET_SECRET)] = None
    """With `clickhouse.externalUrl` (ECS only): the external ClickHouse's password, `pulumi config set --secret
    clickhouseExternalPassword ...`; it may hold any character."""
    docker_hub_credentials: Annotated[RegistryCredentials, Secret(SET_SECRET_PATH)] = None
    """Docker Hub pulls authenticated (per-account limits instead of the NAT address's anonymous ones), required
    in prod while an image it runs comes from Docker Hub: `pulumi config set --secret --path
    'dockerHubCredentials.username' ...` (and `.accessToken`). Stored as `<stack>/docker-hub`; ECS pulls
    Docker Hub images with it (`repositoryCredentials`), the hosts log docker compose in with it."""
    langfuse_sso: Annotated[LangfuseSso, Hint("{provider, clientId, issuer | tenantId | baseUrl, ...}")] = None
    """Sign-in through the company's identity provider: `issuer` for most providers, `tenantId` for azure-ad,
    `baseUrl` for github-enterprise, `name` for custom; google requires `allowedDomains`. Passwords are then
    off: `langfuse.adminEmail` must be an account of the provider."""
    langfuse_sso_client_secret: Annotated[SecretText, Secret(SET_SECRET)] = None
    """With `langfuseSso`: `pulumi config set --secret langfuseSsoClientSecret ...`."""
    langfuse_ee_license_key: Annotated[SecretText, Secret(SET_SECRET), _starting(
        LICENSE_PREFIX, " (an enterprise licence; others lack the admin API)")] = None
    """Langfuse enterprise licence (`langfuse_ee_...`), optional: injected into web and worker by reference; then
    only `langfuse.adminEmail` may create organizations, and project-level roles work. `pulumi config set
    --secret langfuseEeLicenseKey langfuse_ee_...`. (`langfuseOrganizationKeys` of earlier versions is
    refused: the team plane writes projects in every edition.)"""
    litellm_license_key: Annotated[SecretText, Secret(SET_SECRET)] = None
    """LiteLLM Enterprise licence, optional: stored in `<stack>/litellm-external`, injected into LiteLLM by
    reference (`LITELLM_LICENSE`); then a team member with `role: admin` is a LiteLLM team admin, who can make
    the team's keys in LiteLLM's UI (without it, LiteLLM refuses team admins: they are users). `pulumi config set
    --secret litellmLicenseKey ...`."""
    smoke_test: Flag
    """After the team plane, every deploy proves each team's chain inside the VPC: a short-lived key of the
    team, one call to its cheapest chat model (`max_tokens` 1: one tiny Bedrock call per team per deploy), and its
    trace found in the team's own Langfuse project, else the deploy fails with the team's name. `make smoke
    STACK=<stack>` runs it on demand either way."""
    @model_validator(mode="wrap")
    @classmethod
    def _validated(cls, data: Any, handler: Callable[[Any], Settings], info: Any) -> Settings:
        """Every problem at once: the keys' own, and every rule whose keys are valid (RULES)."""
        data, problems, failed = _prepared(dict(data), (info.context or {}).get("secret_keys", set()))
        try:
            settings, errors = handler(data), []
            valid = {name: value for name, value in settings if cls.model_fields[name].alias not in failed}
        except ValidationError as error:
            settings, errors = None, error.errors()
            valid = _valid_alone(data, failed)
        for rule in RULES:
            with suppress(_Incomplete):  # a key it reads is refused already
                rule(_Valid(valid), problems)
        details = [InitErrorDetails(type=PydanticCustomError(e["type"], e["msg"], e.get("ctx")), loc=e["loc"],
                                    input=e["input"]) for e in errors]
        problems.details[:0] = details
        problems.raise_any(cls.__name__)
        return _joined(settings)

    @property
    def name_prefix(self) -> str:
        """Prefix for AWS names: unique per stack, stable across updates (reference/names.py)."""
        return names.prefix(self.project, self.stack)

    @property
    def litellm_host(self) -> str | None:
        return f"litellm.{self.domain}" if self.domain else None

    @property
    def langfuse_host(self) -> str | None:
        return f"langfuse.{self.domain}" if self.domain else None

    @property
    def deploy_credentials(self) -> DeployCredentials:
        """The identity of the deploy's own AWS calls: the AWS provider's (config/deploy_credentials.py)."""
        return DeployCredentials(self.aws_profile, tuple(role.carried() for role in self.aws_assume_roles))

    def team(self, name: str) -> Team:
        return next(team for team in self.teams if team.name == name)


def _prepared(data: dict[str, Any], secret_keys: set[str]) -> tuple[dict[str, Any], Problems, set[str]]:
    """The stack's keys with what they leave to their environment (config/defaults.py) and to
    aws:region filled in; a secret set in plain text, or a plain key set as a secret, is refused and left out."""
    problems, failed = Problems(), set()
    stack = data["pulumi:stack"]
    environment = data.setdefault("environment", stack) if stack in ENVIRONMENTS else data.get("environment")
    if environment is None:
        problems.add("environment", f"is required for stack '{stack}' (one of: stg, prod)")
        failed.add("environment")
    env = environment if environment in ENVIRONMENTS else "stg"
    for key, value in TOP_LEVEL_DEFAULTS[env].items():
        data.setdefault(key, value)
    for group, defaults in GROUP_DEFAULTS.items():
        given = data.get(group, {})
        if isinstance(given, dict):
            data[group] = {**{key: value for key, value in defaults[env].items() if value is not None}, **given}
    if data.get("aws:region") in REGIONS and isinstance(data.get("models"), list):
        data["models"] = [{"region": data["aws:region"], **model} if isinstance(model, dict) else model
                          for model in data["models"]]
    for field in Settings.model_fields.values():
        secret = next((m for m in field.metadata if isinstance(m, Secret)), None)
        plain = next((m for m in field.metadata if isinstance(m, Plain)), None)
        if secret and field.alias in data and field.alias not in secret_keys:
            problems.add(field.alias, f"must be set with {secret.how}, never in plain text")
        elif plain and field.alias in data and field.alias in secret_keys:
            problems.add(field.alias, plain.message)
        else:
            continue
        failed.add(field.alias)
        del data[field.alias]
    return data, problems, failed


@cache
def _adapter(name: str) -> TypeAdapter:
    field = Settings.model_fields[name]
    return TypeAdapter(Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation)


def _valid_alone(data: dict[str, Any], failed: set[str]) -> dict[str, Any]:
    """Each key that is valid on its own (the settings as a whole are not). A key refused only by its
    own objects' rules (`check`) still feeds the rules across keys, as each of its keys is valid."""
    valid = {name: field.get_default() for name, field in Settings.model_fields.items()
             if field.alias not in data and field.alias not in failed and not field.is_required()}
    for name, field in Settings.model_fields.items():
        if field.alias in data and field.alias not in failed:
            with suppress(ValidationError):
                valid[name] = _adapter(name).validate_python(data[field.alias], context={"checks": False})
    return valid


class _Incomplete(Exception):
    """A rule read a key that is refused already."""


class _Valid:
    def __init__(self, values: dict[str, Any]):
        self._values = values

    def __getattr__(self, name: str) -> Any:
        if name not in self._values:
            raise _Incomplete(name)
        return self._values[name]


def _joined(settings: Settings) -> Settings:
    """The secret keys' values where the settings use them."""
    sso, keys = settings.langfuse_sso, settings.existing_langfuse_keys
    return settings.model_copy(update={
        "teams": tuple(team.model_copy(update={"existing_keys": keys.get(team.name)}) for team in settings.teams),
        "clickhouse": settings.clickhouse.model_copy(update={"external_password": settings.clickhouse_external_password}),
        "langfuse_sso": sso and sso.model_copy(update={"client_secret": settings.langfuse_sso_client_secret}),
    })


# --- rules across top-level keys: each runs once every key it reads is valid ---------------------

def _stack_name(s: Any, problems: Problems) -> None:
    """Every AWS name starts with `<project>-<stack>` (reference/names.py): bound it so each fits."""
    if not re.fullmatch(names.STACK_NAME, s.project):
        problems.add("project", f"(Pulumi.yaml name) must match {names.STACK_NAME}", s.project)
        return
    longest = names.max_stack_length(s.project)
    if not re.fullmatch(names.STACK_NAME, s.stack):
        problems.add("stack", f"name must match {names.STACK_NAME} (S3, RDS and ElastiCache names are built from it)", s.stack)
    elif len(s.stack) > longest:
        problems.add("stack", f"name must have at most {longest} characters (the longest AWS name built from it "
                     "must fit its limit, see reference/names.py)", s.stack)


def _environment_of_stack(s: Any, problems: Problems) -> None:
    # The policy pack and every default follow `environment`: prod judged as stg is not prod.
    if s.stack in ENVIRONMENTS and s.environment != s.stack:
        problems.add("environment", f"must be '{s.stack}' in the stack named {s.stack} (or leave it out)", s.environment)


def _zone_needs_domain(s: Any, problems: Problems) -> None:
    if s.hosted_zone_id and not s.domain:
        problems.add("hostedZoneId", "needs domain", s.hosted_zone_id)


def _prod_zone(s: Any, problems: Problems) -> None:
    # Without a zone the first deploy waits on records created by hand; prod must finish on its own.
    if s.environment == "prod" and s.domain and not s.hosted_zone_id:
        problems.add("hostedZoneId", "is required in prod with domain: the certificate validation and the "
                     "litellm./langfuse. records are created in that Route53 zone (pulumi config set hostedZoneId <zone id>)")


def _plain_http(s: Any, problems: Problems) -> None:
    if not s.domain and not s.allow_insecure_http:
        problems.add("domain", "is required unless allowInsecureHttp is true (plain HTTP on the load balancer name)")
    if s.allow_insecure_http and s.domain:
        problems.add("allowInsecureHttp", "must not be set together with domain (HTTPS is used)", True)


def _plain_http_in_prod(s: Any, problems: Problems) -> None:
    if s.allow_insecure_http and s.environment == "prod":
        problems.add("allowInsecureHttp", "must not be true in prod", True)


def _distinct_cidrs(s: Any, problems: Problems) -> None:
    """Each range once: a repeated one is a rule AWS refuses as a duplicate, a nested one is dead
    (or a typo for another range)."""
    cidrs = s.allowed_cidrs
    networks = [ipaddress.ip_network(cidr) for cidr in cidrs]
    for i, network in enumerate(networks):
        for j, earlier in enumerate(networks[:i]):
            if network == earlier:
                problems.add(f"allowedCidrs[{i}]", f"duplicates allowedCidrs[{j}]", cidrs[i])
            elif network.overlaps(earlier):
                problems.add(f"allowedCidrs[{i}]", f"overlaps allowedCidrs[{j}] '{cidrs[j]}' (list each range once)", cidrs[i])


def _exposure(s: Any, problems: Problems) -> None:
    """Prod faces the whole internet only when the stack says it means to (loadBalancer.public)."""
    if s.environment != "prod" or s.load_balancer.public:
        return
    for i, cidr in enumerate(s.allowed_cidrs):
        if ipaddress.ip_network(cidr).prefixlen < WIDEST_PRIVATE_PREFIX:
            hint = ("list the networks that reach the internal load balancer (VPN, Direct Connect, peering)"
                    if s.load_balancer.scheme == "internal" else
                    "list your office/VPN ranges, or set loadBalancer.public: true if the gateway is meant to be public")
            problems.add(f"allowedCidrs[{i}]", f"is wider than a /{WIDEST_PRIVATE_PREFIX} (the internet, or most of "
                         f"it): refused in prod; {hint}", cidr)


def _prod_backups(s: Any, problems: Problems) -> None:
    if s.environment == "prod" and s.database.backup_retention_days < 7:
        problems.add("database.backupRetentionDays", "must be >= 7 in prod", s.database.backup_retention_days)


def _alarm_storage(s: Any, problems: Problems) -> None:
    allocated = s.database.allocated_storage_gb
    if s.alarms.database_free_storage_gb >= allocated:
        problems.add("alarms.databaseFreeStorageGb", f"must be below database.allocatedStorageGb ({allocated}): the "
                     "alarm would never clear", s.alarms.database_free_storage_gb)


def _restored_instance(s: Any, problems: Problems) -> None:
    """A restored database keeps the stack's name (scripts/restore.py names it)."""
    restored, original = s.database.restored_instance, names.database(names.prefix(s.project, s.stack))
    longest = names.LIMITS["RDS instance"].max_length
    if restored is not None and (not restored.startswith(f"{original}-") or len(restored) > longest):
        problems.add("database.restoredInstance", f"must be {original}-<suffix>, at most {longest} characters "
                     "(scripts/restore.py names it)", restored)


def _snapshot_copies(s: Any, problems: Problems) -> None:
    if s.backup.copy_to_region is not None and s.backup.copy_to_region == s.region:
        problems.add("backup.copyToRegion", "must be another Region than aws:region", s.backup.copy_to_region)


def _team_models(s: Any, problems: Problems) -> None:
    known = {model.name for model in s.models}
    for i, team in enumerate(s.teams):
        listed = [(f"teams[{i}].models[{j}]", name) for j, name in enumerate(team.models)]
        listed += [(f"teams[{i}].keys[{k}].models[{j}]", name) for k, key in enumerate(team.keys)
                   for j, name in enumerate(key.models)]
        for path, name in listed:
            if name not in known:
                problems.add(path, f"is not a configured model (known: {', '.join(sorted(known))})", name)


def _existing_keys(s: Any, problems: Problems) -> None:
    """`existingLangfuseKeys` holds a pair for every team that declared it, and for no other."""
    wanted = {team.name for team in s.teams if team.langfuse_keys == "existing"}
    for name in s.existing_langfuse_keys:
        if name not in wanted:
            problems.add(f"existingLangfuseKeys.{name}", "is not a team with langfuseKeys: existing")
    for name in sorted(wanted - set(s.existing_langfuse_keys)):
        problems.add(f"existingLangfuseKeys.{name}", "must hold publicKey and secretKey")


def _external_clickhouse(s: Any, problems: Problems) -> None:
    """ClickHouse Cloud (or any external ClickHouse) instead of the stack's own host."""
    if s.clickhouse.external_url is None and s.clickhouse_external_password is not None:
        problems.add("clickhouseExternalPassword", "needs clickhouse.externalUrl")
    if s.clickhouse.external_url is not None and s.clickhouse_external_password is None:
        problems.add("clickhouseExternalPassword", "is required with clickhouse.externalUrl "
                     "(pulumi config set --secret clickhouseExternalPassword ...)")


def _external_clickhouse_on_ecs(s: Any, problems: Problems) -> None:
    if s.clickhouse.external_url is not None and s.compute == "ec2":
        problems.add("clickhouse.externalUrl", "applies to compute: ecs (the EC2 host runs its own ClickHouse)",
                     s.clickhouse.external_url)


def _sso_client_secret(s: Any, problems: Problems) -> None:
    if s.langfuse_sso is None and s.langfuse_sso_client_secret is not None:
        problems.add("langfuseSsoClientSecret", "needs langfuseSso")
    if s.langfuse_sso is not None and s.langfuse_sso_client_secret is None:
        problems.add("langfuseSsoClientSecret", "is required with langfuseSso "
                     "(pulumi config set --secret langfuseSsoClientSecret ...)")


def _sso_admin(s: Any, problems: Problems) -> None:
    sso, admin = s.langfuse_sso, s.langfuse.admin_email
    if sso is not None and sso.allowed_domains and admin.rsplit("@", 1)[-1].lower() not in sso.allowed_domains:
        problems.add("langfuse.adminEmail", "must be in langfuseSso.allowedDomains (with SSO the admin signs in "
                     "through the identity provider)", admin)


RULES: tuple[Callable[[Any, Problems], None], ...] = (
    _stack_name, _environment_of_stack, _zone_needs_domain, _prod_zone, _plain_http, _plain_http_in_prod,
    _distinct_cidrs, _exposure, _prod_backups, _alarm_storage, _restored_instance, _snapshot_copies, _team_models,
    _existing_keys, _external_clickhouse, _external_clickhouse_on_ecs, _sso_client_secret, _sso_admin,
)
