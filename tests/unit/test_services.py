"""Service specs and their ECS rendering: the env and secret contract of every container."""

from __future__ import annotations

import json

import pytest

from renderers.cost import cost_table, fixed_monthly_cost
from renderers.ecs import container_definition, task_size
from renderers.litellm_proxy import render_proxy_config
from services.secret_refs import SecretRef
from reference.instance_types import INSTANCE_TYPES
from services.specs import (
    HOST_RESERVED_MIB,
    LITELLM_STARTUP_GUARD,
    Endpoints,
    clickhouse,
    clickhouse_host_specs,
    database_init,
    ecs_specs,
    gateway_host_specs,
    waiting_for,
    langfuse_web,
    langfuse_worker,
    litellm,
    litellm_workers,
    redis,
    workload_specs,
)
from tests.support.settings import make_settings
from tests.support.program import run_shipped
from tests.support.variants import AWS_VARIANTS
from tests.support.stacks import ROOT, shipped_settings
from tests.support import yaml_docs
from policy.rules import strings_in

ENDPOINTS = Endpoints(
    region="us-east-1", database_host="db.example.internal", redis_host="redis.example.internal", redis_tls=True,
    clickhouse_host="clickhouse.example.internal", langfuse_internal_url="http://langfuse-web.example.internal:3000",
    litellm_internal_url="http://litellm.example.internal:4000",
    langfuse_public_url="https://langfuse.llm.example.com", bucket="langfuse-bucket",
    team_document="s3://llm-gateway-stg-team-plane-x/team-plane/desired.json",
)
SETTINGS = make_settings(teams=[{"name": "mle"}, {"name": "home-rentals"}])
PROXY = render_proxy_config(SETTINGS)
ARNS = {
    name: f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name.replace('/', '-')}-AbCdEf"
    for name in ("litellm", "langfuse", "postgres", "clickhouse", "redis", "langfuse-keys/platform",
                 "langfuse-keys/teams/mle", "langfuse-keys/teams/home-rentals")
}


def render(spec):
    return container_definition(spec, image="registry/image@sha256:" + "a" * 64, secret_arns=ARNS,
                                log_group=f"/llm-gateway-stg/{spec.name}", region="us-east-1")


def test_litellm_container_gets_every_variable_the_proxy_config_references():
    definition = render(litellm(SETTINGS, PROXY, ENDPOINTS))
    environment = {e["name"]: e["value"] for e in definition["environment"]}
    secrets = {s["name"]: s["valueFrom"] for s in definition["secrets"]}
    referenced = {
        v.removeprefix("os.environ/") for v in strings_in(yaml_docs.load(PROXY.text)) if v.startswith("os.environ/")
    }
    assert referenced <= set(environment) | set(secrets)
    assert set(secrets) == set(PROXY.env.secrets)
    assert not [name for name in secrets if name.startswith("LANGFUSE_PUBLIC_KEY_")]  # teams: read at start
    assert environment["LLM_GATEWAY_TEAM_DOCUMENT"] == ENDPOINTS.team_document
    assert secrets["LITELLM_MASTER_KEY"] == ARNS["litellm"] + ":masterKey::"
    assert environment["LITELLM_PROXY_CONFIG"] == PROXY.text
    assert environment["LITELLM_REQUIRED_ENV"].split(",") == list(PROXY.env.names)
    assert environment["LANGFUSE_HOST"] == "http://langfuse-web.example.internal:3000"
    assert {k: environment[k] for k in ("LITELLM_LOG", "LITELLM_MODE", "LITELLM_LOCAL_MODEL_COST_MAP", "DISABLE_SCHEMA_UPDATE")} == {
        "LITELLM_LOG": "ERROR", "LITELLM_MODE": "PRODUCTION", "LITELLM_LOCAL_MODEL_COST_MAP": "True", "DISABLE_SCHEMA_UPDATE": "true",
    }
    assert definition["entryPoint"] == ["python3", "-c", LITELLM_STARTUP_GUARD]
    assert definition["healthCheck"]["command"][:3] == ["CMD", "python3", "-c"]
    assert "curl" not in json.dumps(definition["healthCheck"]) and "wget" not in json.dumps(definition["healthCheck"])
    assert "/health/liveliness" in definition["healthCheck"]["command"][3]
    assert definition["portMappings"] == [{"containerPort": 4000, "protocol": "tcp", "name": "litellm"}]


@pytest.mark.parametrize("cpu, workers", [(256, 2), (512, 2), (1024, 2), (2048, 2), (4096, 4)])
def test_litellm_workers_match_vcpus(cpu, workers):
    assert litellm_workers(cpu) == workers


def test_langfuse_containers_contract():
    web, worker = render(langfuse_web(SETTINGS, ENDPOINTS)), render(langfuse_worker(SETTINGS, ENDPOINTS))
    web_env = {e["name"]: e["value"] for e in web["environment"]}
    worker_env = {e["name"]: e["value"] for e in worker["environment"]}
    web_secrets = {s["name"]: s["valueFrom"] for s in web["secrets"]}
    worker_secrets = {s["name"]: s["valueFrom"] for s in worker["secrets"]}
    shared = {
        "CLICKHOUSE_URL": "http://clickhouse.example.internal:8123",
        "CLICKHOUSE_MIGRATION_URL": "clickhouse://clickhouse.example.internal:9000",
        "CLICKHOUSE_USER": "langfuse",
        "CLICKHOUSE_CLUSTER_ENABLED": "false",
        "REDIS_HOST": "redis.example.internal", "REDIS_PORT": "6379", "REDIS_TLS_ENABLED": "true",
        "NEXTAUTH_URL": "https://langfuse.llm.example.com",
        "HOSTNAME": "0.0.0.0",
        "TELEMETRY_ENABLED": "false",
        "LANGFUSE_S3_EVENT_UPLOAD_BUCKET": "langfuse-bucket", "LANGFUSE_S3_EVENT_UPLOAD_REGION": "us-east-1",
        "LANGFUSE_S3_EVENT_UPLOAD_PREFIX": "events/",
        "LANGFUSE_S3_MEDIA_UPLOAD_BUCKET": "langfuse-bucket", "LANGFUSE_S3_MEDIA_UPLOAD_PREFIX": "media/",
        "LANGFUSE_S3_BATCH_EXPORT_ENABLED": "true", "LANGFUSE_S3_BATCH_EXPORT_PREFIX": "exports/",
    }
    for environment in (web_env, worker_env):
        assert shared.items() <= environment.items()
        assert not [k for k in environment if "ACCESS_KEY" in k or "SECRET_ACCESS" in k]  # task role, no static keys
    assert web_env["NODE_OPTIONS"] == "--max-old-space-size=768" and worker_env["NODE_OPTIONS"] == "--max-old-space-size=384"
    assert web_env["AUTH_DISABLE_SIGNUP"] == "false"  # invited people create their accounts
    assert {k: web_env[k] for k in ("LANGFUSE_INIT_ORG_ID", "LANGFUSE_INIT_PROJECT_ID", "LANGFUSE_INIT_USER_EMAIL")} == {
        "LANGFUSE_INIT_ORG_ID": "llm-gateway", "LANGFUSE_INIT_PROJECT_ID": "platform", "LANGFUSE_INIT_USER_EMAIL": "admin@example.com",
    }
    assert web_secrets == {
        "DATABASE_URL": ARNS["langfuse"] + ":databaseUrl::",
        "SALT": ARNS["langfuse"] + ":salt::",
        "ENCRYPTION_KEY": ARNS["langfuse"] + ":encryptionKey::",
        "NEXTAUTH_SECRET": ARNS["langfuse"] + ":nextauthSecret::",
        "CLICKHOUSE_PASSWORD": ARNS["clickhouse"] + ":password::",
        "REDIS_AUTH": ARNS["redis"] + ":authToken::",
        "LANGFUSE_INIT_PROJECT_PUBLIC_KEY": ARNS["langfuse-keys/platform"] + ":publicKey::",
        "LANGFUSE_INIT_PROJECT_SECRET_KEY": ARNS["langfuse-keys/platform"] + ":secretKey::",
        "LANGFUSE_INIT_USER_PASSWORD": ARNS["langfuse"] + ":adminPassword::",
    }
    assert worker_secrets == {k: v for k, v in web_secrets.items() if not k.startswith(("NEXTAUTH", "LANGFUSE_INIT"))}
    assert web["healthCheck"]["command"][:2] == ["CMD", "node"] and "/api/public/health" in web["healthCheck"]["command"][3]
    assert langfuse_web(SETTINGS, ENDPOINTS).http_health_path == "/api/public/ready"
    assert worker["healthCheck"]["command"][:2] == ["CMD", "node"] and "/api/health" in worker["healthCheck"]["command"][3]
    assert web["stopTimeout"] == worker["stopTimeout"] == 120
    assert web["portMappings"][0]["containerPort"] == 3000 and worker["portMappings"][0]["containerPort"] == 3030


@pytest.mark.parametrize("image", ["clickhouse/clickhouse-server:25.12", "clickhouse/clickhouse-server:26.8"])
def test_lazy_materialization_is_left_to_langfuse_auto_detection(image):
    # Langfuse reads the live server's version (it may be an external ClickHouse the tag says nothing about).
    for spec in workload_specs(make_settings(clickhouse={"image": f"{image}@sha256:{'0' * 64}"}), PROXY, ENDPOINTS)["langfuse"]:
        assert "CLICKHOUSE_DISABLE_LAZY_MATERIALIZATION" not in spec.environment, spec.name


def test_no_secret_material_in_any_plain_environment():
    for specs in workload_specs(SETTINGS, PROXY, ENDPOINTS).values():
        for spec in specs:
            for name, value in spec.environment.items():
                assert not any(word in name for word in ("PASSWORD", "SECRET_KEY", "MASTER_KEY", "SALT", "AUTH_TOKEN")), name
                assert "sk-" not in value.replace("sk-lf-", "") or name == "LITELLM_PROXY_CONFIG", name


def test_db_init_runs_with_the_master_user_and_app_passwords_by_reference():
    spec = database_init(ENDPOINTS)
    assert spec.one_off and spec.entrypoint[:2] == ("sh", "-c")
    assert spec.environment["PGHOST"] == "db.example.internal" and spec.environment["PGSSLMODE"] == "require"
    assert spec.secrets == {
        "PGPASSWORD": SecretRef("postgres", "password"),
        "LITELLM_DB_PASSWORD": SecretRef("litellm", "databasePassword"),
        "LANGFUSE_DB_PASSWORD": SecretRef("langfuse", "databasePassword"),
    }


def test_clickhouse_and_redis_specs():
    ch = clickhouse(SETTINGS)
    assert ch.secrets == {"CLICKHOUSE_PASSWORD": SecretRef("clickhouse", "password")}
    assert ch.environment["CLICKHOUSE_USER"] == "langfuse"
    assert [v.container_path for v in ch.volumes] == ["/var/lib/clickhouse", "/var/log/clickhouse-server"]
    valkey = redis(SETTINGS, memory=512)
    assert "--maxmemory-policy noeviction" in valkey.entrypoint[2] and "$REDIS_AUTH" in valkey.entrypoint[2]
    assert "--maxmemory 384mb" in valkey.entrypoint[2]


def test_every_ecs_spec_has_a_fargate_size_and_renders():
    for spec in ecs_specs(SETTINGS, PROXY, ENDPOINTS).values():
        cpu, memory = task_size(spec)
        assert int(cpu) > 0 and int(memory) > 0
        definition = render(spec)
        assert definition["logConfiguration"]["options"]["awslogs-group"] == f"/llm-gateway-stg/{spec.name}"
        assert not [e for e in definition["environment"] if e["name"] in {s["name"] for s in definition["secrets"]}]


def test_spec_without_size_cannot_run_on_fargate():
    with pytest.raises(ValueError, match="clickhouse has no CPU/memory size"):
        task_size(clickhouse(SETTINGS))


# stg: $120 until the host's memory was budgeted against its MemTotal, which a t4g.medium cannot
# hold the platform in (config/defaults.py); its t4g.large adds $24.53.
@pytest.mark.parametrize("stack, ceiling", [("prod", 450), ("stg", 140)])
def test_shipped_stacks_fixed_cost_stays_under_budget(stack, ceiling):
    settings = shipped_settings(stack)
    assert sum(line.monthly for line in fixed_monthly_cost(settings)) <= ceiling


COSTED = {**{name: (variant.settings, variant.run) for name, variant in AWS_VARIANTS.items()},
          **{f"shipped {stack}": (lambda stack=stack: shipped_settings(stack), lambda stack=stack: run_shipped(stack))
             for stack in ("stg", "prod")}}


@pytest.mark.parametrize("name", COSTED)
def test_the_cost_counts_every_secret_the_program_creates(name):
    """Each secret is billed by the month (renderers/cost.py PRICES["secret_month"])."""
    settings, run = COSTED[name]
    (line,) = [line for line in fixed_monthly_cost(settings()) if line.item == "Secrets Manager"]
    assert line.detail == f"{len(run().of_type('aws:secretsmanager/secret:Secret'))} secrets"


@pytest.mark.parametrize("stack", ["prod", "stg"])
def test_readme_lists_the_current_cost_table(stack):
    assert cost_table(shipped_settings(stack)) in (ROOT / "README.md").read_text()


def test_litellm_waits_on_nothing_of_langfuse():
    # Tracing is best effort, serving is not; the teams' projects are the team plane's (team_plane/).
    assert dict(litellm(SETTINGS, PROXY, ENDPOINTS).depends_on) == {"db-init": "completed", "litellm-migrator": "completed"}


def test_langfuse_migrates_once_in_its_own_job_and_never_in_a_service():
    specs = {spec.name: spec for spec in workload_specs(SETTINGS, PROXY, ENDPOINTS)["langfuse"]}
    migrator = specs["langfuse-migrator"]
    # The image's entrypoint (dumb-init, web/entrypoint.sh) migrates, then execs the command: which
    # checks both schemas (tests/integration/test_langfuse_migrator.py runs it).
    assert migrator.one_off and migrator.image == specs["langfuse-web"].image
    assert migrator.entrypoint is None and migrator.command[:2] == ("sh", "-c")
    assert migrator.environment["LANGFUSE_AUTO_POSTGRES_MIGRATION_DISABLED"] == "false"
    assert migrator.environment["LANGFUSE_AUTO_CLICKHOUSE_MIGRATION_DISABLED"] == "false"
    assert migrator.environment["CLICKHOUSE_MIGRATION_URL"] == "clickhouse://clickhouse.example.internal:9000"
    assert set(migrator.secrets) == {"DATABASE_URL", "CLICKHOUSE_PASSWORD"}
    assert dict(migrator.depends_on) == {"db-init": "completed", "clickhouse": "healthy"}
    for name in ("langfuse-web",):  # the web image's entrypoint
        assert specs[name].environment["LANGFUSE_AUTO_POSTGRES_MIGRATION_DISABLED"] == "true", name
        assert specs[name].environment["LANGFUSE_AUTO_CLICKHOUSE_MIGRATION_DISABLED"] == "true", name
    for name in ("langfuse-web", "langfuse-worker"):
        assert specs[name].depends_on["langfuse-migrator"] == "completed", name


def test_prod_runs_langfuse_at_its_documented_minimums():
    # langfuse.com/self-hosting/configuration/scaling: web and worker containers 2 CPU / 4 GiB,
    # ClickHouse 2 CPU / 8 GiB. A t4g sustains only 30% of each vCPU: it does not count.
    settings = shipped_settings("prod")
    langfuse = settings.langfuse
    assert (langfuse.web_cpu, langfuse.worker_cpu) >= (2048, 2048)
    assert (langfuse.web_memory, langfuse.worker_memory) >= (4096, 4096)
    host = INSTANCE_TYPES[settings.clickhouse.instance_type]
    assert host.vcpus >= 2 and not host.burstable
    (clickhouse_spec,) = clickhouse_host_specs(settings)
    assert clickhouse_spec.memory >= 8192


def test_a_host_budgets_the_memory_its_kernel_leaves_to_processes():
    # Karpenter's measurement (reference/instance_types.py): a t4g.medium's MemTotal is 4 GiB less 268038144 bytes.
    assert INSTANCE_TYPES["t4g.medium"].usable_mib == (4096 * 2**20 - 268038144) // 2**20 == 3840
    assert all(kind.usable_mib < kind.memory_mib for kind in INSTANCE_TYPES.values())


@pytest.mark.parametrize("instance_type", ["t4g.large", "t4g.xlarge", "m7g.xlarge"])
def test_the_gateway_host_limits_fit_its_memory(instance_type):
    settings = make_settings(compute="ec2", host={"instanceType": instance_type}, teams=[{"name": "mle"}, {"name": "ops"}])
    specs = {spec.name: spec for spec in gateway_host_specs(settings, render_proxy_config(settings), ENDPOINTS)}
    available = INSTANCE_TYPES[instance_type].usable_mib - HOST_RESERVED_MIB
    running = {name: spec.memory for name, spec in specs.items() if not spec.one_off}
    one_offs = {name: spec.memory for name, spec in specs.items() if spec.one_off}
    assert sum(running.values()) <= available
    # One-offs run one at a time (a chain), each while the services that wait for it have not started;
    # the team plane's steps run on demand, later, in the host's reserve.
    for name, memory in one_offs.items():
        if specs[name].on_demand:
            assert memory <= HOST_RESERVED_MIB // 2, name
            continue
        waiting = {spec.name for spec in waiting_for(name, tuple(specs.values()))}
        assert waiting, f"{name}: no long-running service waits for it"
        assert sum(running.values()) - sum(running[w] for w in waiting) + memory <= available, name
    assert specs["litellm-migrator"].depends_on["db-init"] == "completed"
    assert specs["langfuse-migrator"].depends_on["litellm-migrator"] == "completed"
    assert {spec.name for spec in waiting_for("langfuse-migrator", tuple(specs.values()))} == {"langfuse-web", "langfuse-worker"}


@pytest.mark.parametrize("instance_type, left", [("t4g.small", "-1477"), ("t4g.medium", "512")])
def test_a_host_too_small_for_its_containers_is_refused(instance_type, left):
    """A t4g.medium's nominal 4 GiB left ClickHouse 768 MiB; its MemTotal leaves it 512."""
    settings = make_settings(compute="ec2", host={"instanceType": instance_type})
    with pytest.raises(ValueError, match=f"host.instanceType {instance_type} leaves {left} MiB for ClickHouse"):
        gateway_host_specs(settings, render_proxy_config(settings), ENDPOINTS)
