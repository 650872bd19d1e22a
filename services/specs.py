"""Every container of the platform, described once and platform-neutral.

A `ServiceSpec` says what runs (image, entrypoint, command, ports), with which plain environment
and which secret environment (references to Secrets Manager keys, never values), how its health
is checked, what it needs in CPU/memory and volumes, and what must be up before it starts. The ECS
task definitions and the EC2 host's compose file are renderings of these specs; deploy-time
values (database host, Redis endpoint, bucket, URLs) arrive as plain strings in `Endpoints`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlparse

from config.settings import LANGFUSE_PLATFORM_PROJECT_ID, Settings
from reference.images import DEFAULT_IMAGES, parse_image
from reference.instance_types import INSTANCE_TYPES
from services import langfuse_schema, secret_refs
from services.database_init import APP_DATABASES, init_script
from services.langfuse_access import license_secrets, sign_in_environment
from services.secret_refs import SecretRef
from services.serving import SERVING, ServingTimeouts
from team_plane import job as team_plane_job, litellm_start
from team_plane.embed import BOOTSTRAP, entrypoint_environment
from team_plane.litellm_start import LANGFUSE_HOST_VAR

if TYPE_CHECKING:  # LiteLLM's spec runs the proxy config the renderer made (renderers/litellm_proxy.py)
    from renderers.litellm_proxy import ProxyConfig

LITELLM_PORT = 4000
LANGFUSE_WEB_PORT = 3000
LANGFUSE_WORKER_PORT = 3030
CLICKHOUSE_HTTP_PORT = 8123
CLICKHOUSE_NATIVE_PORT = 9000
CLICKHOUSE_NATIVE_TLS_PORT = 9440
REDIS_PORT = 6379
POSTGRES_PORT = 5432
CLICKHOUSE_USER = "langfuse"
DATABASE_ADMIN_USER = "gateway_admin"
LANGFUSE_ORG_ID = "llm-gateway"
# Liveness, not readiness: /health/readiness queries the database, so an RDS failover would fail
# every task's target health at once (litellm/proxy/health_endpoints/_health_endpoints.py).
LITELLM_HEALTH_PATH = "/health/liveliness"
# What the load balancer probes on Langfuse web: 200 while serving, 500 from SIGTERM on
# (web/src/pages/api/public/ready.ts), so a stopping task is drained before it exits.
LANGFUSE_READY_PATH = "/api/public/ready"
EVENTS_PREFIX = "events/"  # raw ingestion events in the Langfuse bucket (media/ and exports/ beside it)
# The web image's entrypoint (web/entrypoint.sh) runs `prisma migrate deploy` and ClickHouse's
# `migrate up` unless these are "true", then execs its arguments. Only langfuse-migrator migrates:
# two tasks starting together would both migrate ClickHouse (no lock across tasks), and ECS may stop
# a slow starter mid-migration, leaving the schema "dirty".
MIGRATIONS_OFF = {"LANGFUSE_AUTO_POSTGRES_MIGRATION_DISABLED": "true", "LANGFUSE_AUTO_CLICKHOUSE_MIGRATION_DISABLED": "true"}



# The LiteLLM container's entrypoint: team_plane/litellm_start.py, run by the image's python3 from
# the code the deploy stores next to the team document (team_plane/embed.py): it checks the
# environment, joins the teams of the team-plane document to the base config, then execs the proxy.
# The base config travels in the task definition / compose file, so every change rolls out on
# deploy; the teams travel in the document.
LITELLM_STARTUP_GUARD = BOOTSTRAP
LITELLM_CONFIG_FILE = litellm_start.CONFIG_FILE


# How long a dependency may be down before a container's health check gives up on the container: an
# RDS Multi-AZ failover takes 60-120 s (RDS User Guide, "Failing over a Multi-AZ DB instance"), and
# Langfuse worker's /api/health queries PostgreSQL and pings Redis (worker/src/features/health/index.ts
# at v4.16.0). An unhealthy container is replaced by ECS (and counted by the deployment circuit breaker).
DEPENDENCY_OUTAGE_SECONDS = 180


@dataclass(frozen=True)
class HealthCheck:
    """Docker's (and the ECS agent's) container health check. The container turns unhealthy after
    `retries` failed checks in a row, each check starting `interval` s after the previous one ended, so
    an outage is tolerated for (retries - 1) x interval s at least; ECS accepts retries 1-10."""

    command: tuple[str, ...]  # exec form, run inside the container
    interval: int = 30
    timeout: int = 10
    retries: int = 8  # (8 - 1) x 30 = 210 s >= DEPENDENCY_OUTAGE_SECONDS
    start_period: int = 60


@dataclass(frozen=True)
class Volume:
    name: str  # a named, persistent volume on the host
    container_path: str


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    image: str
    cpu: int | None = None  # CPU units (1024 = one vCPU); None: shares its host
    memory: int | None = None  # MiB hard limit; None: shares its host
    port: int | None = None
    entrypoint: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, SecretRef] = field(default_factory=dict)
    health_check: HealthCheck | None = None
    http_health_path: str | None = None  # what a load balancer probes
    volumes: tuple[Volume, ...] = ()
    config_files: Mapping[str, str] = field(default_factory=dict)  # container path -> content
    ulimit_nofile: int | None = None
    user: str | None = None
    stop_timeout: int = 30
    # Services that must have started healthy ("healthy") or finished ("completed") first.
    depends_on: Mapping[str, Literal["healthy", "completed"]] = field(default_factory=dict)
    one_off: bool = False  # runs to completion on each deploy (migrations, database setup)
    # The on-demand job it is a step of (TEAM_PLANE_JOB, SMOKE_JOB): started only when the deploy (or
    # `make smoke`) asks, never by a host's `up`. None: not on demand.
    on_demand: str | None = None
    # Logical secret holding the pull credentials of the image's registry; None: anonymous pull.
    registry_secret: str | None = None
    # Calls AWS APIs with its workload's identity (its task role; on a compose host, the instance
    # role): the only containers of a host that may reach the instance metadata service (renderers/compose_host/imds.py).
    aws_identity: bool = False

    @property
    def secret_names(self) -> frozenset[str]:
        """The secrets its environment references (what a new value must restart)."""
        return frozenset(ref.secret for ref in self.secrets.values())

    @property
    def read_secrets(self) -> frozenset[str]:
        """Every secret whoever starts it reads: the environment's and the pull credentials."""
        return self.secret_names | ({self.registry_secret} if self.registry_secret else set())


@dataclass(frozen=True)
class Endpoints:
    """Deploy-time values the services need, already resolved to plain strings."""

    region: str
    database_host: str
    redis_host: str
    redis_tls: bool
    clickhouse_host: str
    langfuse_internal_url: str  # how LiteLLM reaches Langfuse web
    litellm_internal_url: str  # how the team-plane job reaches LiteLLM's admin API (inside the VPC)
    langfuse_public_url: str  # NEXTAUTH_URL
    bucket: str  # Langfuse events, media and exports (by prefix)
    team_document: str  # s3://<bucket>/<key> of the team-plane document (renderers/team_document.py)
    # Its object version, pinned in LiteLLM's task definition (ECS); None: LiteLLM reads the latest (the host).
    team_document_version: str | None = None

    @property
    def team_plane_bucket(self) -> str:
        """The bucket of the team document, which also holds the code the containers run."""
        return self.team_document.removeprefix("s3://").split("/", 1)[0]


def _python_http_probe(port: int, path: str) -> tuple[str, ...]:
    code = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=5)"
    return ("python3", "-c", code)


def _node_http_probe(port: int, path: str) -> tuple[str, ...]:
    # The Langfuse images have node but neither curl nor a reliable wget.
    code = (
        f"require('http').get('http://127.0.0.1:{port}{path}',"
        "r=>process.exit(r.statusCode<400?0:1)).on('error',()=>process.exit(1))"
    )
    return ("node", "-e", code)


# A worker reaching its request limit stops taking connections at once, but gunicorn forks its
# replacement only when it has exited (gunicorn/arbiter.py `manage_workers` counts it until it is
# reaped), and it exits only when its calls in flight have ended, up to a streamed completion's
# minutes. A single worker would leave the task serving nothing meanwhile (measured: a liveness probe
# waited for the whole of a slow call); a second one keeps serving, the jitter keeps them apart.
MIN_LITELLM_WORKERS = 2


def litellm_workers(cpu: int) -> int:
    """One worker per vCPU of the task, at least two."""
    return max(MIN_LITELLM_WORKERS, cpu // 1024)


def _litellm_database_url() -> dict[str, SecretRef]:
    return {"DATABASE_URL": SecretRef(secret_refs.LITELLM, "databaseUrl")}


def gunicorn_arguments(timeouts: ServingTimeouts) -> str:
    """GUNICORN_CMD_ARGS of the proxy: gunicorn's settings LiteLLM's command line has no flag for
    (its uvicorn workers take `--keep-alive` as their idle timeout, uvicorn/workers.py). The start
    applies them over LiteLLM's own gunicorn options (team_plane/litellm_start.py, SERVE)."""
    return (f"--keep-alive {timeouts.keep_alive} --timeout {timeouts.worker_silence} "
            f"--graceful-timeout {timeouts.graceful_stop}")


def litellm(settings: Settings, proxy: ProxyConfig, endpoints: Endpoints, timeouts: ServingTimeouts = SERVING) -> ServiceSpec:
    size = settings.litellm
    recycle_after = size.max_requests_before_restart
    return ServiceSpec(
        name="litellm",
        image=size.image,
        cpu=size.cpu,
        memory=size.memory,
        port=LITELLM_PORT,
        entrypoint=("python3", "-c", LITELLM_STARTUP_GUARD),
        # Under gunicorn the master keeps the socket and forks a fresh worker when one reaches its
        # limit (litellm/proxy/proxy_cli.py _run_gunicorn_server: max_requests, max_requests_jitter).
        # Under plain uvicorn with one worker LiteLLM turns MAX_REQUESTS_BEFORE_RESTART into the
        # server's own limit and the whole process exits (uvicorn_args["limit_max_requests"]), and
        # whether uvicorn's supervisor replaces a worker depends on the image's uvicorn version.
        command=("--run_gunicorn", "--port", str(LITELLM_PORT)),
        stop_timeout=timeouts.stop,
        environment={
            "LITELLM_LOG": "ERROR",
            "LITELLM_MODE": "PRODUCTION",
            "JSON_LOGS": "True",  # litellm/_logging.py: one JSON object per line for CloudWatch
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "NUM_WORKERS": str(litellm_workers(size.cpu)),
            "MAX_REQUESTS_BEFORE_RESTART": str(recycle_after),
            # Workers (and tasks started together) must not all recycle on the same request.
            "MAX_REQUESTS_BEFORE_RESTART_JITTER": str(max(1, recycle_after // 10)),
            "DISABLE_SCHEMA_UPDATE": "true",  # the migrator owns the schema
            "GUNICORN_CMD_ARGS": gunicorn_arguments(timeouts),
            "AWS_DEFAULT_REGION": endpoints.region,
            LANGFUSE_HOST_VAR: endpoints.langfuse_internal_url,
            "REDIS_HOST": endpoints.redis_host,
            "REDIS_PORT": str(REDIS_PORT),
            "REDIS_SSL": str(endpoints.redis_tls),
            litellm_start.DOCUMENT_VAR: endpoints.team_document,
            **({litellm_start.DOCUMENT_VERSION_VAR: endpoints.team_document_version} if endpoints.team_document_version else {}),
            **entrypoint_environment(endpoints.team_plane_bucket, "litellm_start"),
            "LITELLM_PROXY_CONFIG": proxy.text,
            "LITELLM_REQUIRED_ENV": ",".join(proxy.env.names),
        },
        secrets=dict(proxy.env.secrets),
        health_check=HealthCheck(_python_http_probe(LITELLM_PORT, LITELLM_HEALTH_PATH), start_period=90),
        http_health_path=LITELLM_HEALTH_PATH,
        # Not Langfuse, nor the teams' project runs (which wait for Langfuse): tracing is best
        # effort, serving is not.
        depends_on={"db-init": "completed", "litellm-migrator": "completed"},
        aws_identity=True,  # Bedrock; its start reads the team-plane document and the team keys
    )


def litellm_migrator(settings: Settings) -> ServiceSpec:
    """Applies LiteLLM's schema migrations once per deploy, then exits."""
    return ServiceSpec(
        name="litellm-migrator",
        image=settings.litellm.image,
        cpu=512,
        memory=1024,
        command=("--skip_server_startup",),
        environment={"DISABLE_SCHEMA_UPDATE": "false", "LITELLM_LOG": "INFO"},
        secrets=_litellm_database_url(),
        depends_on={"db-init": "completed"},
        one_off=True,
    )


def database_init(endpoints: Endpoints) -> ServiceSpec:
    secrets = {"PGPASSWORD": SecretRef(secret_refs.POSTGRES, "password")}
    owners = {"litellm": secret_refs.LITELLM, "langfuse": secret_refs.LANGFUSE}
    for db in APP_DATABASES:
        secrets[db.password_env] = SecretRef(owners[db.name], "databasePassword")
    return ServiceSpec(
        name="db-init",
        image=DEFAULT_IMAGES["postgres-client"],
        cpu=256,
        memory=512,
        entrypoint=("sh", "-c", init_script()),
        environment={
            "PGHOST": endpoints.database_host,
            "PGPORT": str(POSTGRES_PORT),
            "PGDATABASE": "postgres",
            "PGUSER": DATABASE_ADMIN_USER,
            "PGSSLMODE": "require",
        },
        secrets=secrets,
        one_off=True,
    )


def _node_options(memory: int) -> str:
    # Leave a quarter of the container's memory to everything that is not the V8 heap.
    return f"--max-old-space-size={memory * 3 // 4}"


LANGFUSE_REDIS_VARS = ("REDIS_HOST", "REDIS_PORT", "REDIS_TLS_ENABLED")


def _langfuse_environment(settings: Settings, endpoints: Endpoints) -> dict[str, str]:
    environment = {
        "NEXTAUTH_URL": endpoints.langfuse_public_url,
        "HOSTNAME": "0.0.0.0",
        "TELEMETRY_ENABLED": str(settings.langfuse.telemetry_enabled).lower(),
        "LANGFUSE_LOG_FORMAT": "json",
        **_clickhouse_environment(settings, endpoints),
        "CLICKHOUSE_CLUSTER_ENABLED": "false",
        "REDIS_HOST": endpoints.redis_host,
        "REDIS_PORT": str(REDIS_PORT),
        "REDIS_TLS_ENABLED": str(endpoints.redis_tls).lower(),
    }
    # CLICKHOUSE_DISABLE_LAZY_MATERIALIZATION stays at Langfuse's "auto": it reads the live server's
    # version() at start (packages/shared/src/server/clickhouse/compatibility.ts); an image tag says
    # nothing about an external ClickHouse.
    # No static keys: the SDK's default chain finds the task role / instance profile.
    for kind, prefix in (("EVENT_UPLOAD", EVENTS_PREFIX), ("MEDIA_UPLOAD", "media/"), ("BATCH_EXPORT", "exports/")):
        environment[f"LANGFUSE_S3_{kind}_BUCKET"] = endpoints.bucket
        environment[f"LANGFUSE_S3_{kind}_REGION"] = endpoints.region
        environment[f"LANGFUSE_S3_{kind}_PREFIX"] = prefix
    environment["LANGFUSE_S3_BATCH_EXPORT_ENABLED"] = "true"
    return environment


def _clickhouse_environment(settings: Settings, endpoints: Endpoints) -> dict[str, str]:
    clickhouse = settings.clickhouse
    if clickhouse.hosted:
        return {
            "CLICKHOUSE_URL": f"http://{endpoints.clickhouse_host}:{CLICKHOUSE_HTTP_PORT}",
            "CLICKHOUSE_MIGRATION_URL": f"clickhouse://{endpoints.clickhouse_host}:{CLICKHOUSE_NATIVE_PORT}",
            "CLICKHOUSE_USER": CLICKHOUSE_USER,
        }
    host = urlparse(clickhouse.external_url).hostname
    return {
        "CLICKHOUSE_URL": clickhouse.external_url.rstrip("/"),
        # The native protocol over TLS, as managed ClickHouse serves it.
        "CLICKHOUSE_MIGRATION_URL": f"clickhouse://{host}:{CLICKHOUSE_NATIVE_TLS_PORT}",
        "CLICKHOUSE_MIGRATION_SSL": "true",
        "CLICKHOUSE_USER": clickhouse.external_user,
    }


# The key of the ClickHouse secret holding the password percent-encoded (langfuse_schema.url_query_value).
CLICKHOUSE_PASSWORD_FOR_URL = "passwordForUrl"
LANGFUSE_SECRETS = {
    "DATABASE_URL": SecretRef(secret_refs.LANGFUSE, "databaseUrl"),
    "SALT": SecretRef(secret_refs.LANGFUSE, "salt"),
    "ENCRYPTION_KEY": SecretRef(secret_refs.LANGFUSE, "encryptionKey"),
    "CLICKHOUSE_PASSWORD": SecretRef(secret_refs.CLICKHOUSE, "password"),
    "REDIS_AUTH": SecretRef(secret_refs.REDIS, "authToken"),
}


def _langfuse_container(settings: Settings, endpoints: Endpoints, *, name: str, image: str, cpu: int,
                        memory: int, port: int, health_path: str, start_period: int,
                        environment: Mapping[str, str] | None = None, secrets: Mapping[str, SecretRef] | None = None,
                        **fields) -> ServiceSpec:
    """What Langfuse web and worker share: one Langfuse's environment and secrets, sized to the container."""
    return ServiceSpec(
        name=name,
        image=image,
        cpu=cpu,
        memory=memory,
        port=port,
        environment={**_langfuse_environment(settings, endpoints), "NODE_OPTIONS": _node_options(memory), **(environment or {})},
        secrets={**LANGFUSE_SECRETS, **license_secrets(settings.langfuse_ee_license_key), **(secrets or {})},
        health_check=HealthCheck(_node_http_probe(port, health_path), start_period=start_period),
        stop_timeout=120,
        aws_identity=True,  # S3 (events, media, exports); the worker also publishes CloudWatch metrics
        **fields,
    )


def langfuse_web(settings: Settings, endpoints: Endpoints, timeouts: ServingTimeouts = SERVING) -> ServiceSpec:
    langfuse = settings.langfuse
    sign_in, sign_in_secrets = sign_in_environment(
        settings.langfuse_sso, langfuse.auth_disable_signup, langfuse.admin_email,
        licensed=settings.langfuse_ee_license_key is not None,
    )
    return _langfuse_container(
        settings, endpoints,
        name="langfuse-web",
        image=langfuse.web_image,
        cpu=langfuse.web_cpu,
        memory=langfuse.web_memory,
        port=LANGFUSE_WEB_PORT,
        health_path="/api/public/health",
        start_period=120,
        environment={
            **MIGRATIONS_OFF,
            **sign_in,
            # Idle connections outlive the load balancer's (services/serving.py), in ms. The image's
            # command, `node ./web/server.js --keepAliveTimeout 110000` (web/Dockerfile, v4.16.0),
            # passes an option of `next start` that the standalone server.js ignores: it reads this
            # variable only (Next.js 16.3.0, the version Langfuse pins: build/utils.js, the
            # server.js it writes), else Node's default of 5 s applies.
            "KEEP_ALIVE_TIMEOUT": str(timeouts.keep_alive * 1000),
            # Headless init: the organization, the platform project and its key pair, the admin.
            "LANGFUSE_INIT_ORG_ID": LANGFUSE_ORG_ID,
            "LANGFUSE_INIT_ORG_NAME": langfuse.organization_name,
            "LANGFUSE_INIT_PROJECT_ID": LANGFUSE_PLATFORM_PROJECT_ID,
            "LANGFUSE_INIT_PROJECT_NAME": "platform",
            "LANGFUSE_INIT_USER_EMAIL": langfuse.admin_email,
            "LANGFUSE_INIT_USER_NAME": "Platform admin",
        },
        secrets={
            "NEXTAUTH_SECRET": SecretRef(secret_refs.LANGFUSE, "nextauthSecret"),
            "LANGFUSE_INIT_PROJECT_PUBLIC_KEY": SecretRef(secret_refs.PLATFORM_KEYS, "publicKey"),
            "LANGFUSE_INIT_PROJECT_SECRET_KEY": SecretRef(secret_refs.PLATFORM_KEYS, "secretKey"),
            "LANGFUSE_INIT_USER_PASSWORD": SecretRef(secret_refs.LANGFUSE, "adminPassword"),
            **sign_in_secrets,
        },
        http_health_path=LANGFUSE_READY_PATH,
        depends_on={"langfuse-migrator": "completed", "clickhouse": "healthy", "redis": "healthy"},
    )


def langfuse_migrator(settings: Settings, endpoints: Endpoints) -> ServiceSpec:
    """Langfuse's Postgres and ClickHouse migrations, once per deploy, before web and worker start:
    the web image's own entrypoint migrates, then execs the command, which fails the job unless both
    schemas are the image's (services/langfuse_schema.py)."""
    return ServiceSpec(
        name="langfuse-migrator",
        image=settings.langfuse.web_image,
        cpu=512,
        memory=1024,
        command=("sh", "-c", langfuse_schema.SCHEMA_CHECK),
        environment={
            **_clickhouse_environment(settings, endpoints),
            "CLICKHOUSE_CLUSTER_ENABLED": "false",
            **{name: "false" for name in MIGRATIONS_OFF},
            "LLM_GATEWAY_CLICKHOUSE_CHECK": langfuse_schema.CLICKHOUSE_CHECK,
        },
        secrets={
            "DATABASE_URL": LANGFUSE_SECRETS["DATABASE_URL"],
            # The entrypoint pastes it into the migration URL unescaped: the percent-encoded form.
            "CLICKHOUSE_PASSWORD": SecretRef(secret_refs.CLICKHOUSE, CLICKHOUSE_PASSWORD_FOR_URL),
        },
        depends_on={"db-init": "completed", "clickhouse": "healthy"},
        one_off=True,
    )


def langfuse_worker(settings: Settings, endpoints: Endpoints) -> ServiceSpec:
    langfuse = settings.langfuse
    return _langfuse_container(
        settings, endpoints,
        name="langfuse-worker",
        image=langfuse.worker_image,
        cpu=langfuse.worker_cpu,
        memory=langfuse.worker_memory,
        port=LANGFUSE_WORKER_PORT,
        health_path="/api/health",
        start_period=120,
        depends_on={"langfuse-migrator": "completed", "redis": "healthy"},  # the migrator owns the schemas
        # Queue depths to CloudWatch for the alarms (renderers/alarms.py). The worker's queue-metrics
        # runner (LANGFUSE_QUEUE_METRICS_ENABLED, default true) emits them; its CloudWatch client is
        # built without a region (langfuse v4.16.0 packages/shared/src/server/instrumentation/index.ts
        # `new CloudWatchClient()`), so the SDK needs AWS_REGION: the compose host sets none.
        environment={"ENABLE_AWS_CLOUDWATCH_METRIC_PUBLISHING": "true", "AWS_REGION": endpoints.region},
    )


def step_deadline(seconds: int) -> dict[str, str]:
    """A one-off's own deadline, in its environment: past it, the one-off gives up with its own exit
    code and message. The job's runner waits for the deadlines and their start-up (services/jobs.py)."""
    return {team_plane_job.DEADLINE_VAR: str(seconds)}


def deadline_of(spec: ServiceSpec) -> int | None:
    """The one-off's own deadline, as its environment carries it; None when it keeps none."""
    value = spec.environment.get(team_plane_job.DEADLINE_VAR)
    return None if value is None else int(value)


# A new ClickHouse host installs packages, pulls its image and starts before it answers.
CLICKHOUSE_READY_SECONDS = 900


def clickhouse_ready(settings: Settings, endpoints: Endpoints) -> ServiceSpec:
    """Waits until ClickHouse answers: on ECS it lives on its own host, outside any task, so
    Langfuse web (whose start runs the ClickHouse migrations) must not start before it."""
    url = f"http://{endpoints.clickhouse_host}:{CLICKHOUSE_HTTP_PORT}/ping"
    code = (
        f"const seconds = Number(process.env.{team_plane_job.DEADLINE_VAR});"
        "const deadline = Date.now() + seconds * 1000;"
        "const retry = () => Date.now() > deadline"
        f" ? (console.error('llm-gateway: ClickHouse at {url} did not answer within ' + seconds + ' s'), process.exit(1))"
        " : setTimeout(probe, 5000);"
        f"const probe = () => require('http').get('{url}', r => r.statusCode === 200 ? process.exit(0) : retry())"
        ".on('error', retry);"
        "probe();"
    )
    return ServiceSpec(
        name="clickhouse-ready",
        image=settings.langfuse.worker_image,  # already pulled for the worker; has node
        cpu=256,
        memory=512,
        entrypoint=("node", "-e", code),
        environment=step_deadline(CLICKHOUSE_READY_SECONDS),
        one_off=True,
    )


CLICKHOUSE_CONFIG = """\
<clickhouse>
    <!-- Single node for Langfuse: keep system log tables small so idle disks stay idle. -->
    <query_log><ttl>event_date + INTERVAL 7 DAY DELETE</ttl></query_log>
    <query_thread_log remove="1"/>
    <part_log remove="1"/>
    <trace_log remove="1"/>
    <metric_log remove="1"/>
    <asynchronous_metric_log remove="1"/>
    <text_log remove="1"/>
    <processors_profile_log remove="1"/>
    <logger><level>warning</level></logger>
</clickhouse>
"""


def clickhouse(settings: Settings, memory: int | None = None) -> ServiceSpec:
    return ServiceSpec(
        name="clickhouse",
        image=settings.clickhouse.image,
        memory=memory,
        port=CLICKHOUSE_HTTP_PORT,
        environment={"CLICKHOUSE_DB": "default", "CLICKHOUSE_USER": CLICKHOUSE_USER},
        secrets={"CLICKHOUSE_PASSWORD": SecretRef(secret_refs.CLICKHOUSE, "password")},
        health_check=HealthCheck(
            ("wget", "--no-verbose", "--tries=1", "--spider", f"http://127.0.0.1:{CLICKHOUSE_HTTP_PORT}/ping"),
            interval=20, timeout=5, retries=10, start_period=30,
        ),
        volumes=(Volume("clickhouse-data", "/var/lib/clickhouse"), Volume("clickhouse-logs", "/var/log/clickhouse-server")),
        config_files={"/etc/clickhouse-server/config.d/langfuse.xml": CLICKHOUSE_CONFIG},
        ulimit_nofile=262144,
        user="101:101",
    )


def redis(settings: Settings, memory: int = 256) -> ServiceSpec:
    """Valkey as a container (EC2 host); ECS mode uses ElastiCache instead."""
    return ServiceSpec(
        name="redis",
        image=settings.redis.image,
        memory=memory,
        port=REDIS_PORT,
        # The password stays in the environment; `exec` keeps valkey as PID 1 for signals.
        # noeviction: Langfuse keeps its queues here, so memory pressure must fail loudly.
        entrypoint=("sh", "-c", (
            'exec valkey-server --requirepass "$REDIS_AUTH" --maxmemory-policy noeviction '
            f"--maxmemory {memory * 3 // 4}mb --appendonly yes --dir /data"
        )),
        secrets={
            "REDIS_AUTH": SecretRef(secret_refs.REDIS, "authToken"),
            "REDISCLI_AUTH": SecretRef(secret_refs.REDIS, "authToken"),  # for the health check
        },
        health_check=HealthCheck(("valkey-cli", "ping"), interval=20, timeout=5, retries=10, start_period=10),
        volumes=(Volume("redis-data", "/data"),),
    )



TEAM_PLANE_WORK = Volume("team-plane-work", "/work")
# psql runs the plan's SQL in one transaction, within the step's deadline (`timeout`: coreutils'
# syntax, which the image's busybox applet shares), then deletes it: it holds the team secret keys
# pgcrypto hashes (team_plane/langfuse.py).
TEAM_PLANE_APPLY = f"""\
status=0
timeout "${team_plane_job.DEADLINE_VAR}" \\
  psql "$DATABASE_URL" --no-psqlrc --quiet --single-transaction -v ON_ERROR_STOP=1 --tuples-only --no-align \\
  -f {TEAM_PLANE_WORK.container_path}/{team_plane_job.SQL_FILE} || status=$?
rm -f {TEAM_PLANE_WORK.container_path}/{team_plane_job.SQL_FILE}
exit "$status"
"""
# Each step's deadline, its retries included: the plan and verify steps wait out a LiteLLM or a
# Langfuse web that is (re)starting; apply is one transaction. The smoke step's covers its calls (a
# few teams at a time) and then the wait for their traces: Langfuse v4 shows an OTel-ingested trace
# within seconds (worker, ClickHouse writer flushing every second), minutes with a worker restarting
# right after a deploy.
TEAM_PLANE_REQUEST_STEP_SECONDS = 300
TEAM_PLANE_APPLY_SECONDS = 120
SMOKE_STEP_SECONDS = 600
# The on-demand jobs: the team plane's steps, and the smoke step after it.
TEAM_PLANE_JOB, SMOKE_JOB = "team-plane", "team-plane-smoke"


def team_plane_steps(settings: Settings, endpoints: Endpoints) -> tuple[ServiceSpec, ...]:
    """The team-plane job (team_plane/job.py): plan -> apply -> verify, each after the previous one
    completed, sharing one work volume. The LiteLLM image runs the embedded job with its python3 and
    boto3; the document and the team key secrets are read with the runner's AWS identity."""
    common = {
        "LLM_GATEWAY_TEAM_DOCUMENT": endpoints.team_document,
        "LLM_GATEWAY_TEAM_PLANE_WORK": TEAM_PLANE_WORK.container_path,
        "AWS_DEFAULT_REGION": endpoints.region,  # what boto3 reads (the EC2 host sets none)
    }
    common |= entrypoint_environment(endpoints.team_plane_bucket, "job")
    program = ("python3", "-c", BOOTSTRAP)
    plan = ServiceSpec(
        name="team-plane-plan", image=settings.litellm.image, cpu=256, memory=512, entrypoint=program,
        command=("plan",),
        environment={**common, **step_deadline(TEAM_PLANE_REQUEST_STEP_SECONDS),
                     "LITELLM_INTERNAL_URL": endpoints.litellm_internal_url,
                     "LANGFUSE_ORG_ID": LANGFUSE_ORG_ID, "LANGFUSE_ORG_NAME": settings.langfuse.organization_name},
        secrets={"LITELLM_MASTER_KEY": SecretRef(secret_refs.LITELLM, "masterKey"), "SALT": LANGFUSE_SECRETS["SALT"]},
        volumes=(TEAM_PLANE_WORK,), one_off=True, on_demand=TEAM_PLANE_JOB, aws_identity=True,
    )
    apply = ServiceSpec(
        name="team-plane-apply", image=DEFAULT_IMAGES["postgres-client"], cpu=256, memory=512,
        entrypoint=("sh", "-c", TEAM_PLANE_APPLY), environment=step_deadline(TEAM_PLANE_APPLY_SECONDS),
        secrets={"DATABASE_URL": LANGFUSE_SECRETS["DATABASE_URL"]},
        volumes=(TEAM_PLANE_WORK,), depends_on={plan.name: "completed"}, one_off=True, on_demand=TEAM_PLANE_JOB,
    )
    langfuse = _langfuse_environment(settings, endpoints)
    langfuse_redis = {name: langfuse[name] for name in LANGFUSE_REDIS_VARS}
    verify = ServiceSpec(
        name="team-plane-verify", image=settings.litellm.image, cpu=256, memory=512, entrypoint=program,
        command=("verify",),
        # Langfuse's Redis, as Langfuse reaches it: verify empties its API-key cache of the pairs
        # apply wrote or deleted (team_plane/key_cache.py).
        environment={**common, **step_deadline(TEAM_PLANE_REQUEST_STEP_SECONDS),
                     "LANGFUSE_INTERNAL_URL": endpoints.langfuse_internal_url, **langfuse_redis},
        secrets={"REDIS_AUTH": LANGFUSE_SECRETS["REDIS_AUTH"]},
        volumes=(TEAM_PLANE_WORK,), depends_on={apply.name: "completed"}, one_off=True, on_demand=TEAM_PLANE_JOB,
        aws_identity=True,
    )
    return plan, apply, verify


def team_plane_smoke(settings: Settings, endpoints: Endpoints) -> ServiceSpec:
    """The smoke step (team_plane/smoke.py), a job of its own: run by the deploy after the team plane
    when `smokeTest` is on, and by `make smoke` on demand. It reaches LiteLLM and Langfuse web at their
    internal addresses, with the master key and each team's Langfuse pair (read with its identity)."""
    return ServiceSpec(
        name="team-plane-smoke", image=settings.litellm.image, cpu=256, memory=512, entrypoint=("python3", "-c", BOOTSTRAP),
        command=("smoke",),
        environment={
            "LLM_GATEWAY_TEAM_DOCUMENT": endpoints.team_document, "AWS_DEFAULT_REGION": endpoints.region,
            **entrypoint_environment(endpoints.team_plane_bucket, "job"), **step_deadline(SMOKE_STEP_SECONDS),
            "LITELLM_INTERNAL_URL": endpoints.litellm_internal_url, "LANGFUSE_INTERNAL_URL": endpoints.langfuse_internal_url,
        },
        secrets={"LITELLM_MASTER_KEY": SecretRef(secret_refs.LITELLM, "masterKey")},
        one_off=True, on_demand=SMOKE_JOB, aws_identity=True,
    )

# Secret references never depend on deploy-time endpoints; these stand in where only the
# references matter (IAM: which secrets each workload may read).
PLACEHOLDER_ENDPOINTS = Endpoints(
    region="placeholder", database_host="placeholder", redis_host="placeholder", redis_tls=True,
    clickhouse_host="placeholder", langfuse_internal_url="http://placeholder", litellm_internal_url="http://placeholder",
    langfuse_public_url="http://placeholder", bucket="placeholder", team_document="s3://placeholder/placeholder",
)


def registry_secret(settings: Settings, image: str) -> str | None:
    """The secret to pull `image` with: Docker Hub's credentials when the stack has them."""
    if settings.docker_hub_credentials is not None and parse_image(image).registry == "docker.io":
        return secret_refs.DOCKER_HUB
    return None


def _pulled(settings: Settings, specs: tuple[ServiceSpec, ...]) -> tuple[ServiceSpec, ...]:
    return tuple(replace(spec, registry_secret=registry_secret(settings, spec.image)) for spec in specs)


def workload_specs(settings: Settings, proxy: ProxyConfig, endpoints: Endpoints) -> dict[str, tuple[ServiceSpec, ...]]:
    """Containers grouped by the IAM identity they run as."""
    specs = {
        "litellm": (litellm(settings, proxy, endpoints), litellm_migrator(settings)),
        "langfuse": (
            langfuse_web(settings, endpoints), langfuse_worker(settings, endpoints), clickhouse_ready(settings, endpoints),
            langfuse_migrator(settings, endpoints),
        ),
        "db-init": (database_init(endpoints),),
        "clickhouse": (clickhouse(settings),),
        "redis": (redis(settings),),
        # The team plane's identity (a short IAM name): its job and the smoke step.
        "teams": (*team_plane_steps(settings, endpoints), team_plane_smoke(settings, endpoints)),
    }
    return {workload: _pulled(settings, group) for workload, group in specs.items()}


def ecs_specs(settings: Settings, proxy: ProxyConfig, endpoints: Endpoints) -> dict[str, ServiceSpec]:
    """What runs on Fargate, by name: ClickHouse has its own host (or is external) and Redis is
    ElastiCache. An external ClickHouse is a managed service: nothing waits for it to boot."""
    specs = workload_specs(settings, proxy, endpoints)
    return {
        spec.name: spec
        for workload in ("litellm", "langfuse", "db-init", "teams")
        for spec in specs[workload]
        if settings.clickhouse.hosted or spec.name != "clickhouse-ready"
    }


# Of what the OS offers processes (reference/instance_types.py `usable_mib`), the memory the host's
# own processes keep for themselves (systemd, docker, the agents) and a team-plane step (run on
# demand for a minute, one at a time).
HOST_RESERVED_MIB = 512
TEAM_PLANE_STEP_HOST_MIB = 256
# Ports a host publishes: what the load balancer (gateway host) or Langfuse (ClickHouse host) reach.
GATEWAY_HOST_PUBLISHED = {"litellm": (LITELLM_PORT,), "langfuse-web": (LANGFUSE_WEB_PORT,)}
CLICKHOUSE_HOST_PUBLISHED = {"clickhouse": (CLICKHOUSE_HTTP_PORT, CLICKHOUSE_NATIVE_PORT)}


# Below this ClickHouse (the rest of the host) is too small to serve Langfuse at all.
HOST_CLICKHOUSE_MIN_MIB = 768


def gateway_host_specs(settings: Settings, proxy: ProxyConfig, endpoints: Endpoints) -> tuple[ServiceSpec, ...]:
    """The single EC2 host (compute: ec2) runs every container; Postgres stays on RDS.

    Every limit together fits the instance: Fargate sizes become the apps' limits, ClickHouse
    (which sizes its caches to its limit) gets the rest. The one-offs run one at a time (a chain:
    db-init, then the two migrators) and each borrows the share of the services still waiting for it
    (LiteLLM's or Langfuse's); whatever a one-off needs beyond that is taken from ClickHouse. The
    team plane's steps run on demand, later, one at a time, in the host's reserve.
    """
    available = INSTANCE_TYPES[settings.host.instance_type].usable_mib - HOST_RESERVED_MIB
    specs = workload_specs(settings, proxy, endpoints)
    apps = [
        *specs["db-init"],
        *specs["litellm"],
        *(spec for spec in specs["langfuse"] if spec.name != "clickhouse-ready"),  # compose waits on health itself
        # On demand, one at a time, in the host's reserve (HOST_RESERVED_MIB): small Python and psql steps.
        *(replace(step, memory=TEAM_PLANE_STEP_HOST_MIB) for step in specs["teams"]),
    ]
    apps = [replace(spec, depends_on={**spec.depends_on, "litellm-migrator": "completed"})
            if spec.name == "langfuse-migrator" else spec for spec in apps]
    (valkey,) = specs["redis"]
    running = valkey.memory + sum(spec.memory for spec in apps if not spec.one_off)
    borrowed = max(spec.memory - sum(w.memory for w in waiting_for(spec.name, apps))
                   for spec in apps if spec.one_off and not spec.on_demand)
    rest = available - running - max(0, borrowed)
    if rest < HOST_CLICKHOUSE_MIN_MIB:
        raise ValueError(
            f"host.instanceType {settings.host.instance_type} leaves {rest} MiB for ClickHouse after the apps' limits "
            f"(needs {HOST_CLICKHOUSE_MIN_MIB}): choose a larger host or smaller litellm/langfuse memory"
        )
    return (*apps, replace(*specs["clickhouse"], memory=rest), valkey)


def waiting_for(name: str, specs: Sequence[ServiceSpec]) -> tuple[ServiceSpec, ...]:
    """The long-running services that cannot have started while `name` runs: each depends on it,
    directly or through other services."""
    dependants: dict[str, set[str]] = {}
    for spec in specs:
        for dependency in spec.depends_on:
            dependants.setdefault(dependency, set()).add(spec.name)
    waiting, frontier = set(), [name]
    while frontier:
        for dependant in dependants.get(frontier.pop(), ()):
            if dependant not in waiting:
                waiting.add(dependant)
                frontier.append(dependant)
    return tuple(spec for spec in specs if not spec.one_off and spec.name in waiting)


def clickhouse_host_specs(settings: Settings) -> tuple[ServiceSpec, ...]:
    """The dedicated ClickHouse host of ECS mode: the whole instance is ClickHouse's."""
    memory = INSTANCE_TYPES[settings.clickhouse.instance_type].usable_mib - HOST_RESERVED_MIB
    return _pulled(settings, (clickhouse(settings, memory=memory),))


def stack_images(settings: Settings, proxy: ProxyConfig) -> frozenset[str]:
    """Every image reference the stack runs, on Fargate and on its hosts."""
    if settings.compute == "ec2":
        specs = gateway_host_specs(settings, proxy, PLACEHOLDER_ENDPOINTS)
    else:
        specs = (*ecs_specs(settings, proxy, PLACEHOLDER_ENDPOINTS).values(),
                 *(clickhouse_host_specs(settings) if settings.clickhouse.hosted else ()))
    return frozenset(spec.image for spec in specs)


def workload_of(settings: Settings, proxy: ProxyConfig) -> dict[str, str]:
    """Service name -> the workload (IAM identity) it runs as on ECS."""
    specs = workload_specs(settings, proxy, PLACEHOLDER_ENDPOINTS)
    return {spec.name: workload for workload, group in specs.items() for spec in group}


def workload_secret_names(settings: Settings, proxy: ProxyConfig) -> dict[str, frozenset[str]]:
    """The logical secrets each IAM identity reads: exactly its containers' references (teams'
    key pairs as one: secret_refs.TEAM_KEYS).

    ECS gives every workload its own identity (Redis is ElastiCache there, no container); the
    EC2 host runs every container under one instance profile.
    """
    by_workload = {
        workload: frozenset(secret_refs.granted(name) for spec in specs for name in spec.read_secrets)
        for workload, specs in workload_specs(settings, proxy, PLACEHOLDER_ENDPOINTS).items()
    }
    if settings.compute == "ec2":
        return {"gateway-host": frozenset().union(*by_workload.values())}
    on_ecs = {"litellm", "langfuse", "db-init", "teams", *(("clickhouse",) if settings.clickhouse.hosted else ())}
    return {workload: names for workload, names in by_workload.items() if workload in on_ecs}
