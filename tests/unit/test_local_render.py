"""The docker rendering of a ServiceSpec (renderers/docker.py) and what the local platform runs
(services/local.py): table-driven, plain values in and out."""

from __future__ import annotations

import pytest

from services.specs import TEAM_PLANE_JOB
from renderers.litellm_proxy import render_proxy_config
from services.secret_refs import SecretRef
from services.specs import HealthCheck, ServiceSpec, Volume
from reference.images import parse_image
from renderers.compose_host.layout import Mount
from renderers.docker import docker_service, healthcheck, job_groups, job_step, start_order
from services.local import (
    OBJECT_STORE, POSTGRES, TEAM_PLANE_STORE, Difference, apply_differences, local_differences, local_endpoints,
    local_specs, published,
)
from team_plane.embed import code
from renderers.team_document import DOCUMENT_KEY
from tests.support.settings import make_settings

LOCAL = {"compute": "local", "domain": None, "allowedCidrs": None}


def local_settings(**local):
    return make_settings(teams=[{"name": "mle"}], **LOCAL, **({"local": local} if local else {}))


def specs_of(settings) -> dict[str, ServiceSpec]:
    endpoints = local_endpoints(settings.local, DOCUMENT_KEY)
    return {spec.name: spec for spec in local_specs(settings, render_proxy_config(settings), endpoints)}

DIGEST = "sha256:" + "c" * 64
IMAGE = f"ghcr.io/example/app:1.0@{DIGEST}"


def service(**fields) -> ServiceSpec:
    return ServiceSpec(**{"name": "app", "image": IMAGE, "port": 8080,
                          "health_check": HealthCheck(("probe",), interval=30, timeout=10, retries=8, start_period=120),
                          **fields})


@pytest.fixture(scope="module")
def specs():
    return specs_of(local_settings())


def test_a_service_runs_by_digest_on_its_name_with_ports_on_loopback():
    rendered = docker_service(service(volumes=(Volume("app-data", "/data"),), memory=512), prefix="llm-gateway-local",
                              published={8080: 18080}, binds=(Mount("/home/me/.aws", "/root/.aws", read_only=True),))

    assert (rendered.name, rendered.alias, rendered.image) == ("llm-gateway-local-app", "app", f"ghcr.io/example/app@{DIGEST}")
    assert rendered.ports == ((8080, 18080),)  # bound to 127.0.0.1 by the component (LOOPBACK)
    assert rendered.volumes == (("llm-gateway-local-app-data", "/data"),)
    assert rendered.binds == (Mount("/home/me/.aws", "/root/.aws", read_only=True),)
    assert rendered.memory == 512


def test_dependants_wait_as_long_as_docker_takes_to_call_the_service_unhealthy():
    check = healthcheck(HealthCheck(("probe",), interval=30, timeout=10, retries=8, start_period=120))
    assert (check.tests, check.interval, check.start_period, check.retries) == (("CMD", "probe"), "30s", "120s", 8)
    # Langfuse web's check: 120 s of start period, then 8 failures of up to 40 s each; the provider's
    # default wait_timeout (60 s) would give up before its start period ends.
    assert check.wait_seconds == 440


def test_a_changed_health_check_changes_a_label_so_the_container_is_replaced():
    before = docker_service(service(), prefix="p")
    after = docker_service(service(health_check=HealthCheck(("probe", "--deep"), start_period=120)), prefix="p")

    assert before.labels["llm-gateway.healthcheck-sha256"] != after.labels["llm-gateway.healthcheck-sha256"]
    assert {k: v for k, v in before.labels.items() if "healthcheck" not in k} == {
        "llm-gateway.stack": "p", "llm-gateway.service": "app"}


@pytest.mark.parametrize("spec, message", [
    (service(image="ghcr.io/example/app:1.0"), "image 'ghcr.io/example/app:1.0' is not pinned by digest"),
    (service(environment={"A": "1"}, secrets={"A": SecretRef("litellm", "masterKey")}), "app: A both plain and secret"),
    (service(one_off=True), "app is a one-off: it runs as a step of a job"),
])
def test_what_cannot_run_as_a_container_is_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        docker_service(spec, prefix="p")


def test_a_one_off_becomes_a_job_step_whose_volumes_are_its_jobs_scratch():
    step = job_step(service(one_off=True, entrypoint=("sh", "-c", "exit 0"), volumes=(Volume("work", "/work"),),
                            secrets={"DATABASE_URL": SecretRef("langfuse", "databaseUrl")}))
    assert (step.entrypoint, step.command, step.volumes) == (("sh", "-c", "exit 0"), (), {"work": "/work"})
    assert step.secrets == {"DATABASE_URL": SecretRef("langfuse", "databaseUrl")}
    with pytest.raises(ValueError, match="app is not a one-off"):
        job_step(service())


def test_the_local_platform_runs_the_shared_specs_and_its_stores(specs):
    assert set(specs) == {
        POSTGRES, OBJECT_STORE, TEAM_PLANE_STORE, "db-init", "litellm-migrator", "litellm", "langfuse-migrator",
        "langfuse-web", "langfuse-worker", "clickhouse", "redis", "team-plane-plan", "team-plane-apply",
        "team-plane-verify", "team-plane-smoke",  # stg's defaults: smokeTest on
    }
    assert specs[TEAM_PLANE_STORE].config_files == {"/seed/code.json": code()}  # the bytes the bootstrap checks


def test_every_unit_starts_after_what_it_needs(specs):
    order = start_order(list(specs.values()))
    position = {name: index for index, name in enumerate(order)}
    for unit, needs in order.items():
        assert all(position[need] < position[unit] for need in needs), unit
    assert order["db-init"] == {POSTGRES}
    assert order["litellm"] == {"db-init", "litellm-migrator", TEAM_PLANE_STORE}
    assert order[TEAM_PLANE_JOB] == {"litellm", "langfuse-web"}
    assert [s.name for s in job_groups(list(specs.values()))[TEAM_PLANE_JOB].steps] == [
        "team-plane-plan", "team-plane-apply", "team-plane-verify"]


def test_a_difference_adds_and_removes_what_it_lists_for_its_services_only():
    base = (service(name="a", environment={"KEEP": "1", "DROP": "1"}), service(name="b", environment={"DROP": "1"}))
    (a, b) = apply_differences(base, [Difference(("a",), "why", environment={"NEW": "2"}, removed=("DROP",),
                                                 secrets={"S": SecretRef("x", "y")}, depends_on={"b": "healthy"})])
    assert (a.environment, a.secrets, a.depends_on) == ({"KEEP": "1", "NEW": "2"}, {"S": SecretRef("x", "y")}, {"b": "healthy"})
    assert b == base[1]


def test_every_difference_names_services_the_platform_runs_and_says_why(specs):
    for difference in local_differences(local_settings(awsProfile="dev")):
        assert set(difference.services) <= set(specs), difference
        assert difference.why and (difference.environment or difference.secrets or difference.removed
                                   or difference.depends_on)


def test_langfuse_signs_media_and_export_links_for_the_browser_on_loopback(specs):
    web, worker = specs["langfuse-web"].environment, specs["langfuse-worker"].environment
    assert web["LANGFUSE_S3_MEDIA_UPLOAD_ENDPOINT"] == "http://127.0.0.1:9090"
    assert worker["LANGFUSE_S3_MEDIA_UPLOAD_ENDPOINT"] == worker["LANGFUSE_S3_EVENT_UPLOAD_ENDPOINT"] == "http://objects:8333"
    assert web["LANGFUSE_S3_BATCH_EXPORT_EXTERNAL_ENDPOINT"] == worker["LANGFUSE_S3_BATCH_EXPORT_EXTERNAL_ENDPOINT"]
    assert "ENABLE_AWS_CLOUDWATCH_METRIC_PUBLISHING" not in worker
    assert published(local_settings(objectStorePort=19090).local)[OBJECT_STORE] == {8333: 19090}


def test_a_named_profile_reaches_litellm_only(specs):
    with_profile = specs_of(local_settings(awsProfile="dev"))
    assert with_profile["litellm"].environment["AWS_CONFIG_FILE"] == "/root/.aws/config"
    assert "AWS_CONFIG_FILE" not in specs["litellm"].environment
    assert [s for s in with_profile.values() if "AWS_CONFIG_FILE" in s.environment] == [with_profile["litellm"]]


def test_postgres_makes_its_own_certificate_in_its_volume_from_debians_image(specs):
    """What the server serves TLS with is made in the container (tests/integration/
    test_local_postgres_tls.py runs the script): no key in the deploy's state or an environment."""
    spec = specs[POSTGRES]
    assert set(spec.secrets) == {"POSTGRES_PASSWORD"}
    script = spec.entrypoint[-1]
    assert "openssl req -x509" in script and "exec docker-entrypoint.sh postgres -c ssl=on" in script
    (volume,) = spec.volumes
    assert spec.environment["PGDATA"].startswith(volume.container_path + "/")
    assert f"{volume.container_path}/tls/server.key" in script
    # Major 17 as on RDS and as the psql of db-init; Debian's build (its openssl), not Alpine's.
    server, client = parse_image(spec.image), parse_image(specs["db-init"].image)
    assert server.tag == "17-bookworm" and client.tag == "17-alpine" and server.repository == client.repository
