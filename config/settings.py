"""The stack's settings: typed, immutable, validated once by `config.loader`.

Everything downstream (renderers, service specs, components) receives these objects and never
reads Pulumi config itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from config import names
from config.deploy_credentials import DeployCredentials

Environment = Literal["stg", "prod"]
Compute = Literal["ecs", "ec2"]
KeySource = Literal["generate", "existing"]


class SecretText:
    """A secret read from stack config; its value never shows up in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretText(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretText) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Model:
    name: str  # what clients send
    bedrock_model: str  # foundation model id or inference profile id
    region: str  # Bedrock Region the proxy calls
    destination_regions: tuple[str, ...] = ()  # narrows a profile's routing Regions for IAM
    # USD per token, for models LiteLLM's bundled price map lacks (else spend and budgets see 0).
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None


@dataclass(frozen=True)
class LangfuseKeyPair:
    public_key: SecretText
    secret_key: SecretText


@dataclass(frozen=True)
class RegistryCredentials:
    """Pull credentials for a registry: a username and an access token (never a password)."""

    username: SecretText
    access_token: SecretText


@dataclass(frozen=True)
class Team:
    name: str
    models: tuple[str, ...] = ()  # empty: every configured model
    max_budget: float | None = None
    budget_duration: str | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    langfuse_keys: KeySource = "generate"
    existing_keys: LangfuseKeyPair | None = None  # set when langfuse_keys == "existing"

    @property
    def env_suffix(self) -> str:
        """Deterministic, collision-free environment-variable suffix (`home-rentals` -> `HOME_RENTALS`)."""
        return self.name.upper().replace("-", "_")


@dataclass(frozen=True)
class NetworkSettings:
    vpc_cidr: str
    az_count: int
    nat_gateways: Literal["single", "perAz"]
    interface_endpoints: bool
    flow_log_retention_days: int


@dataclass(frozen=True)
class DatabaseSettings:
    engine_version: Literal["16", "17"]
    instance_class: str
    allocated_storage_gb: int
    max_allocated_storage_gb: int
    multi_az: bool
    backup_retention_days: int
    performance_insights: bool
    # The instance the stack runs on, when a point-in-time restore replaced the original
    # (`<prefix>-postgres-<suffix>`, made by scripts/restore.py); None: `<prefix>-postgres`.
    restored_instance: str | None = None


@dataclass(frozen=True)
class LitellmSettings:
    image: str
    cpu: int  # Fargate CPU units per task
    memory: int  # MiB per task
    desired_count: int
    max_count: int
    max_requests_before_restart: int


@dataclass(frozen=True)
class LangfuseSettings:
    web_image: str
    worker_image: str
    web_cpu: int
    web_memory: int
    web_desired_count: int
    web_max_count: int
    worker_cpu: int
    worker_memory: int
    worker_desired_count: int
    telemetry_enabled: bool
    auth_disable_signup: bool
    admin_email: str
    organization_name: str


@dataclass(frozen=True)
class LangfuseSso:
    """Sign-in to Langfuse through the company's identity provider (see config/langfuse_access.py)."""

    provider: str  # a key of config.langfuse_access.SSO_PROVIDERS
    client_id: str
    client_secret: SecretText
    issuer: str | None = None
    tenant_id: str | None = None  # azure-ad
    base_url: str | None = None  # github-enterprise
    name: str | None = None  # custom: the button's label
    allowed_domains: tuple[str, ...] = ()  # google: the Workspace domains (hd claim) that may sign in


@dataclass(frozen=True)
class ClickhouseSettings:
    image: str
    instance_type: str
    data_volume_gb: int
    external_url: str | None = None  # e.g. ClickHouse Cloud https://<host>:8443; None: our own host
    external_user: str = "default"
    external_password: SecretText | None = None

    @property
    def hosted(self) -> bool:
        """True when the stack runs ClickHouse itself."""
        return self.external_url is None


@dataclass(frozen=True)
class RedisSettings:
    image: str  # container image where Redis runs as a container (EC2 host)
    node_type: str  # ElastiCache node type (ECS mode)
    engine_version: str  # ElastiCache Valkey version
    replicas: int  # ElastiCache read replicas; >= 1 enables automatic failover


@dataclass(frozen=True)
class HostSettings:
    instance_type: str  # the single EC2 host (compute: ec2)
    data_volume_gb: int
    root_volume_gb: int
    # Canonical's release serial of the Ubuntu 24.04 arm64 image that both compose hosts (this one,
    # and the ClickHouse host in ECS mode) boot: the AMI changes only when an operator moves it.
    ubuntu_serial: str


@dataclass(frozen=True)
class LoadBalancerSettings:
    # internet-facing: public subnets, public addresses; internal: private subnets, reached over
    # VPN, Direct Connect or peering (the DNS name resolves publicly to private addresses).
    scheme: Literal["internet-facing", "internal"]
    # The gateway is meant to be reachable from the whole internet: what lets prod list 0.0.0.0/0.
    public: bool


@dataclass(frozen=True)
class BackupSettings:
    """Scheduled snapshots of the compose hosts' data volumes (Data Lifecycle Manager)."""

    snapshot_retention_days: int
    snapshot_time: str  # HH:MM UTC, the daily snapshot's start
    copy_to_region: str | None = None  # a second Region holding a copy of each snapshot
    copy_kms_key_arn: str | None = None  # the copies' key, in copy_to_region; None: that Region's aws/ebs key


@dataclass(frozen=True)
class AlarmSettings:
    """Who is told, and when (config/alarms.py describes every alarm from these)."""

    emails: tuple[str, ...]  # SNS email subscribers (each confirms once)
    http5xx_percent: int  # targets' 5xx per request, per service, over 5 minutes
    unhealthy_hosts: int  # unhealthy targets per target group
    disk_used_percent: int  # each compose host's data and root volume
    database_cpu_percent: int
    database_free_storage_gb: int
    database_connections: int
    valkey_memory_percent: int  # ElastiCache DatabaseMemoryUsagePercentage (noeviction: full = writes fail)
    langfuse_queue_length: int  # jobs waiting in Langfuse's ingestion queues
    litellm_errors: int  # LiteLLM error log lines per 5 minutes


@dataclass(frozen=True)
class Settings:
    stack: str
    environment: Environment
    region: str
    compute: Compute
    domain: str | None
    hosted_zone_id: str | None
    allowed_cidrs: tuple[str, ...]
    allow_insecure_http: bool
    protect: bool
    log_retention_days: int
    models: tuple[Model, ...]
    teams: tuple[Team, ...]
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
    langfuse_sso: LangfuseSso | None = None
    # Langfuse's enterprise licence (`langfuse_ee_...`): required with an organization key.
    langfuse_ee_license_key: SecretText | None = None
    # Docker Hub pulls authenticated (per-account limits instead of the NAT address's anonymous ones).
    docker_hub_credentials: RegistryCredentials | None = None
    # The identity of the deploy's own AWS calls: the AWS provider's (config/deploy_credentials.py).
    deploy_credentials: DeployCredentials = field(default_factory=DeployCredentials)
    project: str = field(default="llm-gateway")

    @property
    def name_prefix(self) -> str:
        """Prefix for AWS names: unique per stack, stable across updates (config/names.py)."""
        return names.prefix(self.project, self.stack)

    @property
    def litellm_host(self) -> str | None:
        return f"litellm.{self.domain}" if self.domain else None

    @property
    def langfuse_host(self) -> str | None:
        return f"langfuse.{self.domain}" if self.domain else None

    def team(self, name: str) -> Team:
        return next(team for team in self.teams if team.name == name)
