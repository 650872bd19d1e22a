"""What runs on the local platform: the shared service specs (services/specs.py), the stores that
stand in for AWS's managed ones, and every difference from the AWS platforms, each with its reason.

In place of RDS and S3: PostgreSQL 17 (Debian's official image), with TLS (a self-signed
certificate it makes itself at its first start: the apps' `sslmode=require` holds as against RDS),
and SeaweedFS as the S3-compatible store for Langfuse's events, media and exports and for the team plane's
document and code. The rest (ClickHouse, Valkey, Langfuse web and worker, LiteLLM, the migrators,
db-init, the team plane's job) are the shared specs with the differences listed in
`local_differences`; nothing else changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from config.settings import LocalSettings, Settings
from reference.images import DEFAULT_IMAGES
from services import secret_refs
from services.secret_refs import SecretRef
from services.specs import (
    DATABASE_ADMIN_USER, LANGFUSE_WEB_PORT, LITELLM_PORT, POSTGRES_PORT, SMOKE_JOB, Endpoints, HealthCheck,
    ServiceSpec, Volume, workload_specs,
)
from team_plane.embed import CODE_VAR, code, code_key
from team_plane.key_source import ENVIRONMENT, KEY_SOURCE_VAR, KEYS_VAR
from team_plane.litellm_start import DOCUMENT_VAR

if TYPE_CHECKING:  # LiteLLM's spec runs the proxy config the renderer made (renderers/litellm_proxy.py)
    from renderers.litellm_proxy import ProxyConfig


POSTGRES = "postgres"  # service names are the containers' names on the stack's network
OBJECT_STORE = "objects"
TEAM_PLANE_STORE = "team-plane-store"
OBJECT_STORE_PORT = 8333  # weed mini's S3 port (mini.go: s3.port)
LANGFUSE_BUCKET = "langfuse"
TEAM_PLANE_BUCKET = "team-plane"
# Buckets have no Region here; boto3 and Langfuse's SDK still sign for one.
OBJECT_STORE_REGION = "us-east-1"

# Logical secrets only the local platform has (the others: services/secret_refs.py).
OBJECT_STORE_KEYS = "object-store"  # accessKeyId, secretAccessKey: the store's one (admin) identity
# The key variables (team_plane/key_source.py): the Langfuse pairs LiteLLM's start reads, and every key
# the team plane's steps read (the pairs and the teams' LiteLLM keys).
TEAM_KEY_VALUES, LANGFUSE_PAIRS, EVERY_KEY = "team-key-values", "langfusePairs", "everyKey"
OBJECT_STORE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": SecretRef(OBJECT_STORE_KEYS, "accessKeyId"),
    "AWS_SECRET_ACCESS_KEY": SecretRef(OBJECT_STORE_KEYS, "secretAccessKey"),
}

# The data volume, where the official image declares it; the cluster and the TLS files side by side in it.
POSTGRES_VOLUME_PATH = "/var/lib/postgresql/data"
POSTGRES_PGDATA = f"{POSTGRES_VOLUME_PATH}/pgdata"
TLS_DIR = f"{POSTGRES_VOLUME_PATH}/tls"
# At its first start PostgreSQL gets a key and a self-signed certificate for its name on the stack's
# network, made with the image's openssl (Debian's postgresql-common depends on ssl-cert, which
# depends on openssl) in its data volume, so they stay across restarts and never pass through the
# deploy, its state or an environment. No client verifies it: `sslmode=require` encrypts without
# checking the server, as against RDS. Not the image's build-time snakeoil certificate (one key for
# everyone who pulled that build). The script runs as root ahead of the image's entrypoint, which
# initializes PGDATA and steps down to the postgres user; the server refuses a key file others can
# read (src/backend/libpq/be-secure-common.c), hence the umask and the owner, handed over at every
# start (a start stopped between making and handing them over leaves them root's).
POSTGRES_START = f"""\
set -eu
if [ ! -s {TLS_DIR}/server.key ] || [ ! -s {TLS_DIR}/server.crt ]; then
  mkdir -p {TLS_DIR}
  (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -days 3650 \\
    -subj /CN={POSTGRES} -addext subjectAltName=DNS:{POSTGRES} -keyout {TLS_DIR}/server.key -out {TLS_DIR}/server.crt)
fi
chown -R postgres:postgres {TLS_DIR}
exec docker-entrypoint.sh postgres -c ssl=on -c ssl_cert_file={TLS_DIR}/server.crt -c ssl_key_file={TLS_DIR}/server.key
"""

SEED_DIR_VAR, SEED_DIR = "LLM_GATEWAY_SEED_DIR", "/seed"
CODE_FILE, DOCUMENT_FILE = "code.json", "desired.json"
# The team plane's code and document into the store, where the containers' bootstrap and LiteLLM's
# start read them (on AWS the deploy writes them into the team-plane bucket itself).
TEAM_PLANE_SEED = f"""\
import os, boto3
s3 = boto3.client("s3")
for variable, name in (("{CODE_VAR}", "{CODE_FILE}"), ("{DOCUMENT_VAR}", "{DOCUMENT_FILE}")):
    bucket, key = os.environ[variable].removeprefix("s3://").split("/", 1)
    with open(os.path.join(os.environ["{SEED_DIR_VAR}"], name), "rb") as body:
        s3.put_object(Bucket=bucket, Key=key, Body=body.read(), ContentType="application/json")
    print("llm-gateway: wrote s3://" + bucket + "/" + key)
"""


def published(local: LocalSettings) -> dict[str, dict[int, int]]:
    """Service -> container port -> its port on 127.0.0.1: what the deploying machine's user reaches.
    Langfuse signs its media and export links for the store: the browser follows them there."""
    return {"litellm": {LITELLM_PORT: local.litellm_port}, "langfuse-web": {LANGFUSE_WEB_PORT: local.langfuse_port},
            OBJECT_STORE: {OBJECT_STORE_PORT: local.object_store_port}}


def local_endpoints(local: LocalSettings, document_key: str) -> Endpoints:
    """Every address is a container's name on the stack's network, or 127.0.0.1 for the browser;
    `document_key`: where the team document lives in its bucket (renderers/team_document.py)."""
    return Endpoints(
        region=OBJECT_STORE_REGION, database_host=POSTGRES, redis_host="redis", redis_tls=False,
        clickhouse_host="clickhouse", langfuse_internal_url=f"http://langfuse-web:{LANGFUSE_WEB_PORT}",
        litellm_internal_url=f"http://litellm:{LITELLM_PORT}", langfuse_public_url=f"http://127.0.0.1:{local.langfuse_port}",
        bucket=LANGFUSE_BUCKET, team_document=f"s3://{TEAM_PLANE_BUCKET}/{document_key}",
    )


def postgres() -> ServiceSpec:
    """PostgreSQL 17 in place of RDS: its superuser is the one db-init connects as."""
    return ServiceSpec(
        name=POSTGRES,
        # Major 17 as on RDS; Debian's image, whose openssl makes the certificate (reference/images.py).
        image=DEFAULT_IMAGES["postgres-server"],
        port=POSTGRES_PORT,
        entrypoint=("sh", "-c", POSTGRES_START),
        # The cluster in a directory of the volume, beside the TLS files (initdb wants an empty directory).
        environment={"POSTGRES_USER": DATABASE_ADMIN_USER, "POSTGRES_DB": "postgres", "PGDATA": POSTGRES_PGDATA},
        secrets={"POSTGRES_PASSWORD": SecretRef(secret_refs.POSTGRES, "password")},
        # Over TCP: during its first initialization the image's temporary server listens on the socket only.
        health_check=HealthCheck(("pg_isready", "--host", "127.0.0.1", "--username", DATABASE_ADMIN_USER,
                                  "--dbname", "postgres"), interval=10, timeout=5, retries=10, start_period=60),
        volumes=(Volume("postgres-data", POSTGRES_VOLUME_PATH),),
        stop_timeout=60,
    )


def object_store() -> ServiceSpec:
    """SeaweedFS's single-process S3 server (`weed mini`) in place of S3: path-style addresses, one
    identity from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (weed/s3api/auth_credentials.go
    loadEnvironmentVariableCredentials: an admin), which also turns authentication on (without any
    identity mini allows every request: `isAuthEnabled = len(iam.identities) > 0`), both buckets
    created at start (and on a first upload by that admin, s3.autoCreateBucket)."""
    return ServiceSpec(
        name=OBJECT_STORE,
        image=DEFAULT_IMAGES["object-store"],
        port=OBJECT_STORE_PORT,
        # The image's entrypoint adds -dir=/data and drops to its own user (docker/entrypoint.sh).
        command=("mini", f"-s3.port={OBJECT_STORE_PORT}", f"-bucket={LANGFUSE_BUCKET},{TEAM_PLANE_BUCKET}",
                 # Only S3: no WebDAV, admin UI, Iceberg or Lance listeners, and no telemetry.
                 "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false"),
        secrets=dict(OBJECT_STORE_CREDENTIALS),
        health_check=HealthCheck(("curl", "--fail", "--silent", "--output", "/dev/null",
                                  f"http://127.0.0.1:{OBJECT_STORE_PORT}/healthz"),
                                 interval=10, timeout=5, retries=10, start_period=30),
        volumes=(Volume("objects-data", "/data"),),
    )


def team_plane_store(settings: Settings, endpoints: Endpoints) -> ServiceSpec:
    """Writes the team plane's code and document into the store (the document's content is the
    deploy's, given to the job as a file beside the code: `document_file()`)."""
    return ServiceSpec(
        name=TEAM_PLANE_STORE, image=settings.litellm.image, memory=256, entrypoint=("python3", "-c", TEAM_PLANE_SEED),
        environment={CODE_VAR: f"s3://{endpoints.team_plane_bucket}/{code_key()}", DOCUMENT_VAR: endpoints.team_document,
                     SEED_DIR_VAR: SEED_DIR, "AWS_DEFAULT_REGION": endpoints.region},
        config_files={f"{SEED_DIR}/{CODE_FILE}": code()}, depends_on={OBJECT_STORE: "healthy"}, one_off=True,
    )


def document_file() -> str:
    """Where the team-plane-store job finds the document the deploy hands it."""
    return f"{SEED_DIR}/{DOCUMENT_FILE}"


@dataclass(frozen=True)
class Difference:
    """One way the local platform's containers differ from the AWS platforms', and why."""

    services: tuple[str, ...]
    why: str
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, SecretRef] = field(default_factory=dict)
    removed: tuple[str, ...] = ()
    depends_on: Mapping[str, Literal["healthy", "completed"]] = field(default_factory=dict)


S3_KINDS = ("EVENT_UPLOAD", "MEDIA_UPLOAD", "BATCH_EXPORT")
STORE_URL = f"http://{OBJECT_STORE}:{OBJECT_STORE_PORT}"
# botocore's endpoint for S3 alone (configprovider.py: AWS_ENDPOINT_URL_<SERVICE> first); it signs
# path-style addresses for a custom endpoint.
S3_ENDPOINT_VAR = "AWS_ENDPOINT_URL_S3"
AWS_CONFIG_DIR = "/root/.aws"  # the LiteLLM image runs as root: botocore's ~/.aws (SSO's token cache too)


def _langfuse_store(media_endpoint: str, external: str) -> dict[str, str]:
    """Langfuse's S3 variables for the store (packages/shared/src/env.ts, web/src/env.mjs at v4.16.0)."""
    environment = {}
    for kind in S3_KINDS:
        environment[f"LANGFUSE_S3_{kind}_ENDPOINT"] = STORE_URL
        environment[f"LANGFUSE_S3_{kind}_FORCE_PATH_STYLE"] = "true"
    environment["LANGFUSE_S3_MEDIA_UPLOAD_ENDPOINT"] = media_endpoint
    environment["LANGFUSE_S3_BATCH_EXPORT_EXTERNAL_ENDPOINT"] = external
    return environment


def _langfuse_keys() -> dict[str, SecretRef]:
    return {f"LANGFUSE_S3_{kind}_{name}": ref for kind in S3_KINDS
            for name, ref in (("ACCESS_KEY_ID", OBJECT_STORE_CREDENTIALS["AWS_ACCESS_KEY_ID"]),
                              ("SECRET_ACCESS_KEY", OBJECT_STORE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]))}


def local_differences(settings: Settings) -> tuple[Difference, ...]:
    """Every difference from the AWS platforms' containers (the specs of services/specs.py)."""
    local = settings.local
    external = f"http://127.0.0.1:{local.object_store_port}"
    # What reads the team document (S3) and key values (Secrets Manager) on AWS.
    team_plane_steps = ("team-plane-plan", "team-plane-verify", *((SMOKE_JOB,) if settings.smoke_test else ()))
    team_plane_readers = ("litellm", *team_plane_steps)
    differences = [
        Difference(
            ("langfuse-web",), "S3-compatible store in place of S3: its address, path-style, and static keys (no task "
            "role); media links are signed for the browser, which reaches the store on 127.0.0.1 "
            "(packages/shared/src/env.ts, web/src/env.mjs at v4.16.0: no separate external media endpoint)",
            environment=_langfuse_store(external, external), secrets=_langfuse_keys(), depends_on={OBJECT_STORE: "healthy"},
        ),
        Difference(
            ("langfuse-worker",), "S3-compatible store in place of S3 (as for langfuse-web; the worker reaches media on "
            "the stack's network); export links are signed for the browser",
            environment=_langfuse_store(STORE_URL, external),
            secrets=_langfuse_keys(), depends_on={OBJECT_STORE: "healthy"},
        ),
        Difference(
            ("langfuse-worker",), "no CloudWatch: the queue metrics feed the AWS alarms only (Langfuse's default is off)",
            removed=("ENABLE_AWS_CLOUDWATCH_METRIC_PUBLISHING",),
        ),
        Difference(
            team_plane_readers, "the team plane's document and code live in the S3-compatible store (boto3's "
            "S3 endpoint; its static keys in place of the task role)",
            environment={S3_ENDPOINT_VAR: STORE_URL}, secrets=dict(OBJECT_STORE_CREDENTIALS),
        ),
        Difference(
            ("litellm",), "no Secrets Manager: the Langfuse pairs its start reads come from one secret variable "
            "(team_plane/key_source.py)",
            environment={KEY_SOURCE_VAR: ENVIRONMENT}, secrets={KEYS_VAR: SecretRef(TEAM_KEY_VALUES, LANGFUSE_PAIRS)},
        ),
        Difference(
            team_plane_steps, "no Secrets Manager: the Langfuse pairs and the teams' LiteLLM keys come from one "
            "secret variable (as on AWS, only the team plane's identity reads the LiteLLM keys)",
            environment={KEY_SOURCE_VAR: ENVIRONMENT}, secrets={KEYS_VAR: SecretRef(TEAM_KEY_VALUES, EVERY_KEY)},
        ),
        Difference(
            ("litellm",), "the team document's content, not its version, says when LiteLLM restarts "
            "(the store keeps no versions); it reads the latest, as on the EC2 host",
            depends_on={TEAM_PLANE_STORE: "completed"},
        ),
        Difference(
            ("db-init",), "PostgreSQL is a container of the stack, not RDS: it must be up first",
            depends_on={POSTGRES: "healthy"},
        ),
    ]
    if local.aws_profile:
        differences.append(Difference(
            ("litellm",), "Bedrock with the deploying machine's named AWS profile (its ~/.aws, read-only): the "
            "configured models' `aws_profile_name`; config and credentials files found whatever the image's home",
            environment={"AWS_CONFIG_FILE": f"{AWS_CONFIG_DIR}/config",
                         "AWS_SHARED_CREDENTIALS_FILE": f"{AWS_CONFIG_DIR}/credentials"},
        ))
    return tuple(differences)


def apply_differences(specs: Sequence[ServiceSpec], differences: Sequence[Difference]) -> tuple[ServiceSpec, ...]:
    """`specs` with every difference that names them applied."""
    changed = []
    for spec in specs:
        for difference in (d for d in differences if spec.name in d.services):
            environment = {k: v for k, v in spec.environment.items() if k not in difference.removed}
            spec = replace(spec, environment={**environment, **difference.environment},
                           secrets={**spec.secrets, **difference.secrets},
                           depends_on={**spec.depends_on, **difference.depends_on})
        changed.append(spec)
    return tuple(changed)


# What the local platform runs that the AWS platforms do not, and what it leaves out: each with why.
STANDS_IN = {
    POSTGRES: "RDS PostgreSQL",
    OBJECT_STORE: "S3 (Langfuse's bucket, the team plane's bucket)",
    TEAM_PLANE_STORE: "the deploy writing the team plane's document and code into S3",
}
def left_out(settings: Settings) -> dict[str, str]:
    """What the AWS platforms run and the local one does not, each with why."""
    out = {"clickhouse-ready": "Docker waits on ClickHouse's health itself, as the EC2 host's compose does"}
    if not settings.smoke_test:
        # On AWS `make smoke` runs it on demand too; locally it runs with a deploy or not at all.
        out[SMOKE_JOB] = "smokeTest is off"
    return out


def local_specs(settings: Settings, proxy: ProxyConfig, endpoints: Endpoints) -> tuple[ServiceSpec, ...]:
    """Every container of the local platform, the one-offs and the team plane's steps included (the
    smoke step with smokeTest)."""
    leave_out = left_out(settings)
    shared = [spec for group in workload_specs(settings, proxy, endpoints).values() for spec in group
              if spec.name not in leave_out]
    local = (postgres(), object_store(), team_plane_store(settings, endpoints))
    return apply_differences((*local, *shared), local_differences(settings))


# --- the team keys without Secrets Manager ----------------------------------------------------------
# Each key pair has an id and a version of its own, and every pair travels in one secret variable
# (team_plane/key_source.py). The id takes the place of the secret's ARN in the team document: the
# secret's name as the AWS platforms would give it. The version takes the place of the secret's version
# id: a digest of the pair, so a rotated pair is a new version, which changes the document (the team
# plane runs again and LiteLLM restarts), as a new secret version does on AWS.
KEY_VERSION_HEX = 32


def key_id(prefix: str, logical_secret: str) -> str:
    """e.g. llm-gateway-local/langfuse-keys/teams/mle."""
    return f"{prefix}/{logical_secret}"


def key_version(value: Mapping[str, str]) -> str:
    """A digest of the pair: it says that the pair changed and nothing of it (128 bits of a SHA-256 of
    values with 122 random bits each, or a team's own existing keys: not reversible)."""
    return hashlib.sha256(json.dumps(dict(value), sort_keys=True).encode()).hexdigest()[:KEY_VERSION_HEX]
