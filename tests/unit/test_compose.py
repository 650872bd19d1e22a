"""The compose renderer: one service per spec, secrets only by env file, `$` kept literal."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from renderers.compose_host.compose_file import ON_DEMAND_PROFILE
from renderers.compose_host.layout import AwsLogs, HostPaths, host_config_files, secret_env, volume_dirs
from services.specs import HealthCheck, ServiceSpec, clickhouse, langfuse_web
from tests.support.hosts import (
    CLICKHOUSE_PORTS,
    STAGING_ENDPOINTS,
    STAGING_PORTS,
    clickhouse_specs,
    compose_file_of,
    pinned_images,
    secret_arns,
    staging_settings,
    staging_specs,
)
from tests.support.settings import make_settings
from tests.support import yaml_docs


def compose_reads(value: str) -> str:
    """What compose makes of a string in the file: `$$` is a literal `$`, any other `$` interpolates."""
    out, i = [], 0
    while i < len(value):
        if value[i] == "$":
            if value[i + 1:i + 2] != "$":
                raise AssertionError(f"compose would interpolate at {value[i:i + 20]!r}")
            i += 1
        out.append(value[i])
        i += 1
    return "".join(out)


def rendered(specs, ports, **kwargs) -> dict:
    return yaml_docs.load(compose_file_of(specs, ports, **kwargs))["services"]


HOSTS = {
    "staging": (staging_specs, STAGING_PORTS),
    "clickhouse": (clickhouse_specs, CLICKHOUSE_PORTS),
}


@pytest.fixture(params=sorted(HOSTS))
def host(request):
    build, ports = HOSTS[request.param]
    specs = build()
    return specs, ports, rendered(specs, ports)


def test_one_service_per_spec_running_its_image(host):
    specs, _, services = host
    assert list(services) == [spec.name for spec in specs]
    images = pinned_images(specs)
    assert {name: service["image"] for name, service in services.items()} == images


def test_plain_environment_inline_secret_environment_only_by_env_file(host):
    specs, _, services = host
    for spec in specs:
        service = services[spec.name]
        environment = {name: compose_reads(value) for name, value in service.get("environment", {}).items()}
        assert environment == dict(spec.environment)
        assert not set(environment) & set(spec.secrets)
        expected_env_file = [f"/run/llm-gateway/secrets/{spec.name}.env"] if spec.secrets else None
        assert service.get("env_file") == expected_env_file


@pytest.mark.parametrize("value", [
    "plain", "$REDIS_AUTH", '"$REDIS_AUTH"', "${X}", "${X:-default}", "$$", "a$", "$", "100$ and $5", "os.environ/KEY",
])
def test_dollar_reaches_the_container_literally(value):
    spec = ServiceSpec(
        name="probe", image="x", entrypoint=("sh", "-c", value), command=(value,), environment={"V": value},
        health_check=HealthCheck(("sh", "-c", value)),
    )
    service = rendered([spec], {})["probe"]
    assert compose_reads(service["environment"]["V"]) == value
    assert [compose_reads(part) for part in service["entrypoint"]] == ["sh", "-c", value]
    assert [compose_reads(part) for part in service["command"]] == [value]
    assert [compose_reads(part) for part in service["healthcheck"]["test"]] == ["CMD", "sh", "-c", value]


def test_every_spec_string_survives_compose_interpolation(host):
    specs, _, services = host
    for spec in specs:
        service = services[spec.name]
        if spec.entrypoint:
            assert tuple(compose_reads(part) for part in service["entrypoint"]) == spec.entrypoint
        if spec.command:
            assert tuple(compose_reads(part) for part in service["command"]) == spec.command
        if spec.health_check:
            assert tuple(compose_reads(part) for part in service["healthcheck"]["test"]) == ("CMD", *spec.health_check.command)


def test_redis_reads_its_password_from_its_own_environment():
    services = rendered(staging_specs(), STAGING_PORTS)
    assert '--requirepass "$$REDIS_AUTH"' in services["redis"]["entrypoint"][2]


def test_dependencies_with_conditions_on_the_staging_host():
    services = rendered(staging_specs(), STAGING_PORTS)
    depends_on = {name: service.get("depends_on", {}) for name, service in services.items()}
    completed, healthy = {"condition": "service_completed_successfully"}, {"condition": "service_healthy"}
    assert depends_on == {
        # LiteLLM waits on nothing of Langfuse: tracing is best effort, serving is not.
        "litellm": {"db-init": completed, "litellm-migrator": completed},
        # The team plane's steps run in order, on demand (the deploy runs them with SSM).
        "team-plane-plan": {},
        "team-plane-apply": {"team-plane-plan": completed},
        "team-plane-verify": {"team-plane-apply": completed},
        "team-plane-smoke": {},  # its own job, after the team plane's
        "litellm-migrator": {"db-init": completed},
        # Langfuse's schemas are migrated once, by its own job, before web and worker start; on the
        # host after LiteLLM's migrator, so one one-off runs at a time (memory).
        "langfuse-migrator": {"db-init": completed, "clickhouse": healthy, "litellm-migrator": completed},
        "db-init": {},
        "langfuse-web": {"langfuse-migrator": completed, "clickhouse": healthy, "redis": healthy},
        "langfuse-worker": {"langfuse-migrator": completed, "redis": healthy},
        "clickhouse": {},
        "redis": {},
    }


def test_dependencies_on_services_outside_the_file_are_dropped():
    web = langfuse_web(make_settings(compute="ec2"), STAGING_ENDPOINTS)
    web = replace(web, depends_on={"clickhouse": "healthy", "redis": "healthy"})  # both elsewhere
    assert "depends_on" not in rendered([web], {})["langfuse-web"]


def test_restart_policy_one_off_runs_once():
    services = rendered(staging_specs(), STAGING_PORTS)
    assert {name: service["restart"] for name, service in services.items()} == {
        "litellm": "unless-stopped", "litellm-migrator": "no", "db-init": "no", "langfuse-web": "unless-stopped",
        "langfuse-worker": "unless-stopped", "clickhouse": "unless-stopped", "redis": "unless-stopped",
        "team-plane-plan": "no", "team-plane-apply": "no", "team-plane-verify": "no", "langfuse-migrator": "no",
        "team-plane-smoke": "no",
    }
    # Only what the deploy asks for: never part of `up`.
    assert {name for name, service in services.items() if service.get("profiles")} == {
        "team-plane-plan", "team-plane-apply", "team-plane-verify", "team-plane-smoke"}
    assert all(service["profiles"] == [ON_DEMAND_PROFILE] for service in services.values() if service.get("profiles"))


@pytest.mark.parametrize("build, ports, expected", [
    (staging_specs, STAGING_PORTS, {"litellm": ["4000:4000"], "langfuse-web": ["3000:3000"]}),
    (clickhouse_specs, CLICKHOUSE_PORTS, {"clickhouse": ["8123:8123", "9000:9000"]}),
    (staging_specs, {}, {}),
])
def test_only_the_requested_ports_are_published(build, ports, expected):
    services = rendered(build(), ports)
    assert {name: service["ports"] for name, service in services.items() if "ports" in service} == expected


def test_named_volumes_are_bind_mounts_under_the_data_dir_and_config_files_read_only():
    paths = HostPaths(data_dir="/mnt/gateway", config_dir="/opt/gateway/config")
    specs = staging_specs()
    services = rendered(specs, STAGING_PORTS, paths=paths)
    mounts = {name: service.get("volumes", []) for name, service in services.items()}
    config = "/opt/gateway/config/clickhouse/etc/clickhouse-server/config.d/langfuse.xml"
    assert mounts["clickhouse"] == [
        {"type": "bind", "source": "/mnt/gateway/clickhouse-data", "target": "/var/lib/clickhouse",
         "bind": {"create_host_path": False}},
        {"type": "bind", "source": "/mnt/gateway/clickhouse-logs", "target": "/var/log/clickhouse-server",
         "bind": {"create_host_path": False}},
        {"type": "bind", "source": config, "target": "/etc/clickhouse-server/config.d/langfuse.xml",
         "read_only": True, "bind": {"create_host_path": False}},
    ]
    assert mounts["redis"] == [
        {"type": "bind", "source": "/mnt/gateway/redis-data", "target": "/data", "bind": {"create_host_path": False}},
    ]
    # The team plane's steps share their scratch space on tmpfs (the SQL holds secret keys for a moment).
    scratch = {"type": "bind", "source": "/run/llm-gateway/scratch/team-plane-work", "target": "/work",
               "bind": {"create_host_path": False}}
    assert {name: volumes for name, volumes in mounts.items() if name.startswith("team-plane-") and volumes} == {
        step: [scratch] for step in ("team-plane-plan", "team-plane-apply", "team-plane-verify")}
    assert {name for name, volumes in mounts.items() if volumes} == {
        "clickhouse", "redis", "team-plane-plan", "team-plane-apply", "team-plane-verify"}
    # The host writes exactly the files the compose file mounts, and owns each volume as its service's user.
    assert host_config_files(specs, paths) == {config: clickhouse(make_settings()).config_files[
        "/etc/clickhouse-server/config.d/langfuse.xml"]}
    assert volume_dirs(specs, paths) == {
        "/mnt/gateway/clickhouse-data": "101:101", "/mnt/gateway/clickhouse-logs": "101:101", "/mnt/gateway/redis-data": "0:0",
        "/run/llm-gateway/scratch/team-plane-work": "0:0",
    }


def test_limits_user_health_and_stop_grace_period():
    services = rendered(clickhouse_specs(), CLICKHOUSE_PORTS)
    service = services["clickhouse"]
    assert service["mem_limit"] == "3328m"  # a t4g.medium's MemTotal (4096 - 256 MiB) less the host's 512
    assert service["ulimits"] == {"nofile": {"soft": 262144, "hard": 262144}}
    assert service["user"] == "101:101"
    assert service["stop_grace_period"] == "30s"
    assert service["healthcheck"] == {
        "test": ["CMD", "wget", "--no-verbose", "--tries=1", "--spider", "http://127.0.0.1:8123/ping"],
        "interval": "20s", "timeout": "5s", "retries": 10, "start_period": "30s",
    }
    staging = rendered(staging_specs(), STAGING_PORTS)
    # What a t4g.large (8192 - 374 MiB of MemTotal) leaves after the host's 512 and the apps' limits.
    assert staging["clickhouse"]["mem_limit"] == "4490m"
    assert staging["langfuse-web"]["stop_grace_period"] == "120s"
    assert "cpus" not in staging["litellm"] and "user" not in staging["litellm"]


@pytest.mark.parametrize("logs, expected", [
    (None, {"driver": "json-file", "options": {"max-size": "10m", "max-file": "5"}}),
    (AwsLogs("/llm-gateway-stg/gateway-host", "eu-west-1"), {"driver": "awslogs", "options": {
        "awslogs-region": "eu-west-1", "awslogs-group": "/llm-gateway-stg/gateway-host", "tag": "redis/{{.ID}}",
        "mode": "non-blocking", "max-buffer-size": "4m",
    }}),
])
def test_logging(logs, expected):
    assert rendered(staging_specs(), STAGING_PORTS, logs=logs)["redis"]["logging"] == expected


def test_fixed_project_name_and_deterministic_output():
    specs = staging_specs()
    first = compose_file_of(specs, STAGING_PORTS)
    assert first == compose_file_of(specs, STAGING_PORTS)
    assert yaml_docs.load(first)["name"] == "llm-gateway"
    assert first.startswith("# docker compose file of an llm-gateway compose host")


@pytest.mark.parametrize("build", [staging_specs, clickhouse_specs])
def test_secret_env_covers_every_secret_reference_exactly(build):
    specs = build()
    arns = secret_arns(specs)
    plan = secret_env(specs, arns)
    assert {
        (service, entry.env, entry.arn, entry.key) for service, entries in plan.items() for entry in entries
    } == {
        (spec.name, var, arns[ref.secret], ref.key) for spec in specs for var, ref in spec.secrets.items()
    }
    assert all(entries for entries in plan.values())
    assert set(plan) == {spec.name for spec in specs if spec.secrets}


def test_litellm_on_the_host_gets_no_team_key():
    """LiteLLM's start reads the teams' keys (team_plane/litellm_start.py): the host's plan holds none."""
    specs = staging_specs(staging_settings(team_count=3))
    entries = secret_env(specs, secret_arns(specs))["litellm"]
    assert [e for e in entries if "langfuse-keys/teams/" in e.arn] == []


def test_secret_env_refuses_a_secret_without_arn():
    specs = staging_specs()
    arns = secret_arns(specs)
    del arns["redis"]
    with pytest.raises(ValueError, match="no secret ARN for: redis"):
        secret_env(specs, arns)


def _bad_specs():
    specs = {spec.name: spec for spec in staging_specs()}
    return {
        "no image": (list(specs.values()), {"images": {}}, "no image for: clickhouse, db-init"),
        "unknown published": (list(specs.values()), {"published": {"grafana": (3000,)}}, "unknown services: grafana"),
        "orphan one-off": ([specs["db-init"]], {}, "no long-running service depends on: db-init"),
        "plain and secret": (
            [replace(specs["redis"], environment={"REDIS_AUTH": "x"})], {}, "redis: REDIS_AUTH both plain and secret",
        ),
        "duplicate": ([specs["redis"], specs["redis"]], {}, "duplicate services"),
    }


@pytest.mark.parametrize("case", sorted(_bad_specs()))
def test_refuses_inconsistent_input(case):
    specs, overrides, message = _bad_specs()[case]
    kwargs = {"images": pinned_images(specs), "published": {}, **overrides}
    with pytest.raises(ValueError, match=re.escape(message)):
        compose_file_of(specs, kwargs["published"], images=kwargs["images"])


def test_volume_owner_must_be_numeric():
    spec = replace(clickhouse_specs()[0], user="clickhouse")
    with pytest.raises(ValueError, match="numeric uid:gid"):
        volume_dirs([spec], HostPaths())
