"""EC2 mode (the staging host) under recording mocks: the host, its user data, its data volume."""

from __future__ import annotations

import json

import pytest

from renderers.litellm_proxy import render_proxy_config
from config.loader import SettingsError
from services.specs import Endpoints, gateway_host_specs
from renderers.compose_host.user_data import COMPOSE_FILE, SECRETS_PLAN
from tests.support.hosts import written_files
from tests.support.program import run_shipped
from tests.support.settings import make_settings
from components.compose_host import UBUNTU_ARM64_AMI
from tests.support.pulumi_mocks import CANONICAL_CURRENT, ami_id, unwrap
from tests.support.stacks import shipped_settings
from tests.support.variants import EU_EC2, MOVED_UBUNTU_SERIAL, STG_EC2
from tests.support import yaml_docs

CURRENT = UBUNTU_ARM64_AMI.format(serial="current")
NEWER_IMAGE = "ami-0fedcba9876543210"  # what Canonical's `current` names after a new release


@pytest.fixture(scope="module")
def stg():
    return run_shipped("stg")


def user_data_files(run) -> dict[str, dict]:
    (instance,) = run.of_type("aws:ec2/instance:Instance")
    return written_files(unwrap(instance.inputs["userData"]))


def test_one_graviton_host_in_a_private_subnet_reached_only_through_session_manager(stg):
    (instance,) = stg.of_type("aws:ec2/instance:Instance")
    assert instance.input("instanceType") == "t4g.large"
    assert instance.input("subnetId") == stg.named("network-private-0", "aws:ec2/subnet:Subnet").id and instance.input("associatePublicIpAddress") is False
    assert not instance.input("keyName")
    assert instance.input("metadataOptions") == {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 2,
                                                 "httpProtocolIpv6": "disabled"}
    assert instance.input("rootBlockDevice")["encrypted"] is True
    assert instance.input("vpcSecurityGroupIds") == [stg.security_group_id("gateway-host")]
    assert instance.input("userDataReplaceOnChange") is True


def host_ami(run) -> str:
    (instance,) = run.of_type("aws:ec2/instance:Instance")
    return instance.input("ami")


@pytest.mark.parametrize("stack", ["stg", "prod"])  # the gateway host; the ClickHouse host
def test_a_new_canonical_image_does_not_change_the_hosts_ami(stack):
    """Issue 10, finding 2: a new `current` image must not replace the host on the next `up`."""
    before = run_shipped(stack)
    after = run_shipped(stack, ssm_parameters={CURRENT: NEWER_IMAGE})
    assert host_ami(after) == host_ami(before)
    pinned = UBUNTU_ARM64_AMI.format(serial=shipped_settings(stack).host.ubuntu_serial)
    assert host_ami(after) == ami_id(pinned)
    notes = [m for level, m in after.mocks.logged if level == "info" and NEWER_IMAGE in m]
    assert notes and "host.ubuntuSerial" in notes[0]  # the operator learns there is a newer image


def test_no_note_while_the_pin_is_canonicals_current_image():
    pinned = UBUNTU_ARM64_AMI.format(serial=shipped_settings("stg").host.ubuntu_serial)
    run = run_shipped("stg")  # the mocks' Canonical names the default pin `current` (CANONICAL_CURRENT)
    assert {CURRENT: ami_id(pinned)} == CANONICAL_CURRENT
    assert host_ami(run) == ami_id(pinned)
    assert not [m for _, m in run.mocks.logged if "ubuntuSerial" in m]


def test_the_ami_moves_only_with_the_setting():
    assert STG_EC2.config["host"] == {"ubuntuSerial": MOVED_UBUNTU_SERIAL} == {"ubuntuSerial": "20261004"}
    assert host_ami(STG_EC2.run()) == ami_id(UBUNTU_ARM64_AMI.format(serial="20261004"))
    assert "/stable/20261004/arm64/hvm/ebs-gp3/ami-id" in UBUNTU_ARM64_AMI.format(serial="20261004")


@pytest.mark.parametrize("serial", ["current", "2026-09-23", "20260923-1", ""])
def test_the_image_serial_must_be_a_serial(serial):
    with pytest.raises(SettingsError, match=r"host.ubuntuSerial"):
        make_settings(compute="ec2", host={"ubuntuSerial": serial})


def test_host_role_has_the_foundations_permissions(stg):
    policies = {p.outputs["arn"]: p.input("namePrefix") for p in stg.of_type("aws:iam/policy:Policy")}
    attached = sorted(
        policies.get(a.input("policyArn"), a.input("policyArn"))
        for a in stg.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if a.name.startswith("gateway-host-")
    )
    assert attached == [
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        "llm-gateway-stg-bedrock-invoke-",
        "llm-gateway-stg-gateway-host-secrets-",
        "llm-gateway-stg-langfuse-storage-",
        "llm-gateway-stg-put-metrics-",  # the disk-usage timer and Langfuse's queue metrics
        "llm-gateway-stg-team-plane-keys-",  # the team plane reads the teams' LiteLLM keys
        "llm-gateway-stg-team-plane-reader-",  # LiteLLM's start reads the teams and their keys
    ]


def test_user_data_runs_every_service_from_the_shared_specs(stg):
    settings = shipped_settings("stg")
    files = user_data_files(stg)
    compose = yaml_docs.load(files[COMPOSE_FILE]["content"])["services"]
    (db,) = stg.of_type("aws:rds/instance:Instance")
    specs = {spec.name: spec for spec in gateway_host_specs(settings, render_proxy_config(settings), _endpoints(stg, db))}
    assert set(compose) == set(specs) == {
        "db-init", "litellm", "litellm-migrator", "langfuse-web", "langfuse-worker", "clickhouse", "redis",
        "langfuse-migrator", "team-plane-plan", "team-plane-apply", "team-plane-verify",
        "team-plane-smoke",
    }
    plan = json.loads(files[SECRETS_PLAN]["content"])
    arns = {s.input("namePrefix").split("/", 1)[1].rstrip("-"): s.outputs["arn"] for s in stg.of_type("aws:secretsmanager/secret:Secret")}
    for name, spec in specs.items():
        environment = {k: v.replace("$$", "$") for k, v in (compose[name].get("environment") or {}).items()}
        assert environment == dict(spec.environment), name
        assert "@sha256:" in compose[name]["image"]
        fetched = {entry["env"]: (entry["secret_arn"], entry["key"]) for entry in _plan_entries(plan, name)}
        assert fetched == {var: (arns[ref.secret], ref.key) for var, ref in spec.secrets.items()}, name


def _plan_entries(plan, service):
    for env_file, entries in plan["env_files"].items():
        if env_file.endswith(f"/{service}.env"):
            return entries
    return []


def _endpoints(run, db):
    return Endpoints(
        region="us-east-1", database_host=run.outputs["databaseHost"], redis_host="redis", redis_tls=False,
        clickhouse_host="clickhouse", langfuse_internal_url="http://langfuse-web:3000", litellm_internal_url="http://litellm:4000",
        langfuse_public_url=run.outputs["langfuseUrl"], bucket=run.outputs["langfuseBucket"],
        team_document=run.outputs["teamPlaneDocument"],
    )


def test_no_secret_value_reaches_user_data_or_tags(stg):
    (instance,) = stg.of_type("aws:ec2/instance:Instance")
    text = json.dumps(user_data_files(stg)) + json.dumps(instance.input("tags"))
    assert not [v for v in stg.mocks.generated_secrets if len(v) >= 8 and v in text]


@pytest.mark.parametrize(("run", "settings", "protect"), [
    (lambda: run_shipped("stg"), lambda: shipped_settings("stg"), False),  # stg's default
    (EU_EC2.run, EU_EC2.settings, True),  # a stg stack that sets `protect`
], ids=["stg default", "protect set"])
def test_data_lives_on_a_separate_volume_protected_with_the_stack(run, settings, protect):
    assert (settings().environment, settings().protect) == ("stg", protect)
    run = run()
    (volume,) = run.of_type("aws:ebs/volume:Volume")
    (instance,) = run.of_type("aws:ec2/instance:Instance")
    (attachment,) = run.of_type("aws:ec2/volumeAttachment:VolumeAttachment")
    assert volume.protect is protect and not instance.protect
    assert volume.input("encrypted") is True and volume.input("size") == settings().host.data_volume_gb
    assert (attachment.input("volumeId"), attachment.input("instanceId")) == (volume.id, instance.id)
    assert instance.delete_before_replace and attachment.delete_before_replace  # the volume moves to the new host
    assert volume.id.replace("-", "") in unwrap(instance.inputs["userData"])


def test_load_balancer_sends_traffic_to_the_host(stg):
    groups = {g.outputs["arn"]: g for g in stg.of_type("aws:lb/targetGroup:TargetGroup")}
    targets = {(groups[a.input("targetGroupArn")].input("healthCheck")["path"], a.input("port")) for a in stg.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment")}
    # Langfuse's readiness answers 500 from SIGTERM on: a stopping web is drained, not hit.
    assert targets == {("/health/liveliness", 4000), ("/api/public/ready", 3000)}
    assert {g.input("targetType") for g in groups.values()} == {"instance"}


def test_status_check_alarms_recover_and_reboot_the_host(stg):
    (topic,) = stg.of_type("aws:sns/topic:Topic")
    actions = {a.input("metricName"): a.input("alarmActions") for a in stg.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
               if a.input("metricName", "").startswith("StatusCheckFailed")}
    assert actions == {  # and someone is told
        "StatusCheckFailed_System": ["arn:aws:automate:us-east-1:ec2:recover", topic.outputs["arn"]],
        "StatusCheckFailed_Instance": ["arn:aws:automate:us-east-1:ec2:reboot", topic.outputs["arn"]],
    }


@pytest.mark.parametrize("stack", ["stg", "prod"])  # the gateway host; the ClickHouse host
def test_a_host_boots_only_once_its_subnet_routes_to_the_internet(stack):
    """cloud-init installs the host's packages at its first boot, once, and its apt does not retry a
    network error: the NAT gateway, the route to it and the subnet's association must exist first."""
    run = run_shipped(stack)
    (instance,) = run.of_type("aws:ec2/instance:Instance")
    (association,) = [a for a in run.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
                      if a.input("subnetId") == instance.input("subnetId")]
    (table,) = [t for t in run.of_type("aws:ec2/routeTable:RouteTable") if t.id == association.input("routeTableId")]
    (route,) = [r for r in table.input("routes") if r["cidrBlock"] == "0.0.0.0/0"]
    (nat,) = [n for n in run.of_type("aws:ec2/natGateway:NatGateway") if n.id == route["natGatewayId"]]
    assert {association.urn, table.urn, nat.urn} <= run.waits_for(instance)
