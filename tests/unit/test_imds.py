"""Issue 13.4: on a compose host only the containers that call AWS may reach the instance metadata
service. The compose file pins every service to an address; the host's rules allow exactly the AWS
callers' addresses (the real iptables run: tests/integration/test_imds_firewall.py)."""

from __future__ import annotations

import ipaddress

import pytest

from renderers.compose_host.imds import CHAIN, DOCKER_DROP_IN, DYNAMIC_RANGE, FIXED_RANGE, GATEWAY, IPTABLES, SUBNET, render_drop_in
from services.specs import team_plane_steps
from renderers.compose_host.boot import boot
from tests.support.hosts import PLANS, STAGING_ENDPOINTS, staging_settings, written_files
from tests.support import yaml_docs

# Bedrock, S3 and the team document (LiteLLM), S3 and CloudWatch (Langfuse), S3 and Secrets Manager
# (the team plane's plan and verify steps, and its smoke step).
AWS_CALLERS = {"litellm", "langfuse-web", "langfuse-worker", "team-plane-plan", "team-plane-verify", "team-plane-smoke"}


@pytest.fixture(params=sorted(PLANS))
def plan(request):
    return PLANS[request.param]()


def test_the_aws_callers_are_exactly_litellm_langfuse_and_the_team_planes_aws_steps(plan):
    names = {spec.name for spec in plan.specs}
    assert {spec.name for spec in plan.specs if spec.aws_identity} == AWS_CALLERS & names
    if "litellm" in names:  # the staging host: team-plane-apply (psql) is kept out
        assert "team-plane-apply" in names and names >= AWS_CALLERS


def test_team_plane_steps_plan_and_verify_call_aws_apply_does_not():
    steps = team_plane_steps(staging_settings(), STAGING_ENDPOINTS)
    assert {step.name: step.aws_identity for step in steps} == {
        "team-plane-plan": True, "team-plane-apply": False, "team-plane-verify": True,
    }


def test_every_service_has_its_own_fixed_address_on_a_fixed_ipv4_only_network(plan):
    compose = yaml_docs.load(boot(plan).compose_file)
    assert compose["networks"] == {"default": {"enable_ipv6": False, "ipam": {"config": [
        {"subnet": str(SUBNET), "ip_range": str(DYNAMIC_RANGE), "gateway": str(GATEWAY)}]}}}
    addresses = [service["networks"]["default"]["ipv4_address"] for service in compose["services"].values()]
    assert len(set(addresses)) == len(addresses) == len(plan.specs)
    for address in map(ipaddress.ip_address, addresses):
        # Never the gateway, never where docker hands out dynamic addresses.
        assert address in FIXED_RANGE and address != GATEWAY and address not in DYNAMIC_RANGE
    assert not DYNAMIC_RANGE.overlaps(FIXED_RANGE) and GATEWAY in FIXED_RANGE


def test_only_the_services_kept_from_the_metadata_service_lose_net_raw(plan):
    services = yaml_docs.load(boot(plan).compose_file)["services"]
    assert {name for name, service in services.items() if service.get("cap_drop") == ["NET_RAW"]} == {
        spec.name for spec in plan.specs if not spec.aws_identity
    }


def drop_in_starts(plan) -> list[str]:
    content = written_files(boot(plan).user_data)[DOCKER_DROP_IN]["content"]
    assert content == render_drop_in(plan.specs)
    return [line.removeprefix("ExecStartPre=") for line in content.splitlines() if line.startswith("ExecStartPre=")]


def test_the_rules_allow_exactly_the_aws_callers_addresses_then_drop(plan):
    services = yaml_docs.load(boot(plan).compose_file)["services"]
    allowed = sorted(services[name]["networks"]["default"]["ipv4_address"] for name in AWS_CALLERS if name in services)
    starts = drop_in_starts(plan)
    assert sorted(starts[2:-2]) == sorted(f"{IPTABLES} -A {CHAIN} -s {address}/32 -j RETURN" for address in allowed)
    assert starts[-2] == f"{IPTABLES} -A {CHAIN} -j DROP"


def test_the_rules_install_idempotently_before_dockerd_starts(plan):
    jump = f"-d 169.254.169.254/32 -j {CHAIN}"
    starts = drop_in_starts(plan)
    # DOCKER-USER made only when docker has not made it; our chain emptied before it is refilled;
    # the jump inserted only when missing. Docker's own chain is never flushed.
    assert starts[:2] == [
        f"/bin/sh -c '{IPTABLES} -n -L DOCKER-USER >/dev/null 2>&1 || {IPTABLES} -N DOCKER-USER'",
        f"/bin/sh -c '{IPTABLES} -N {CHAIN} 2>/dev/null || {IPTABLES} -F {CHAIN}'",
    ]
    assert starts[-1] == f"/bin/sh -c '{IPTABLES} -C DOCKER-USER {jump} 2>/dev/null || {IPTABLES} -I DOCKER-USER {jump}'"
    assert not any("-F DOCKER-USER" in line for line in starts)
