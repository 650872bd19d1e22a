"""loadBalancer.scheme: an internal load balancer in the private subnets, or today's internet-facing
one in the public subnets; and what prod refuses before it faces the whole internet."""

from __future__ import annotations

import pytest

from config.loader import SettingsError
from tests.support.program import run_shipped
from tests.support.settings import make_settings
from tests.support.variants import EU_EC2, PROD_ECS, STG_EC2, STG_ECS

ALB = "aws:lb/loadBalancer:LoadBalancer"


@pytest.mark.parametrize(("variant", "ports"), [(PROD_ECS, {443, 80}), (STG_EC2, {443, 80}), (EU_EC2, {80, 3000})],
                         ids=["ecs https", "ec2 https", "ec2 http"])
def test_internal_load_balancer_lives_in_the_private_subnets(variant, ports):
    assert variant.config["loadBalancer"] == {"scheme": "internal"}
    run = variant.run()
    (alb,) = run.of_type(ALB)
    assert alb.input("internal") is True
    assert set(alb.input("subnets")) == run.subnet_ids("private")
    # allowedCidrs still gate both listeners.
    group = run.security_group_id("load-balancer")
    ingress = {(r.input("cidrIpv4"), r.input("fromPort")) for r in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
               if r.input("securityGroupId") == group}
    assert ingress == {("10.0.0.0/8", port) for port in ports}


@pytest.mark.parametrize("run", [STG_ECS.run, lambda: run_shipped("stg")], ids=["ecs", "ec2"])
def test_internet_facing_is_the_default_in_the_public_subnets(run):
    run = run()
    (alb,) = run.of_type(ALB)
    assert alb.input("internal") is False and set(alb.input("subnets")) == run.subnet_ids("public")


def test_internal_load_balancer_with_a_zone_aliases_its_names_there():
    run = PROD_ECS.run()
    assert PROD_ECS.settings().hosted_zone_id
    (alb,) = run.of_type(ALB)
    aliases = {r.input("name"): r.input("aliases")[0]["name"] for r in run.of_type("aws:route53/record:Record")
               if r.input("type") == "A"}
    dns = run.outputs["loadBalancerDnsName"]
    assert dns.startswith("internal-")  # AWS's name for an internal load balancer
    assert aliases == {"litellm.llm.example.com": dns, "langfuse.llm.example.com": dns}


def test_internal_load_balancer_serves_plain_http_when_allowed():
    run = EU_EC2.run()
    assert EU_EC2.config["allowInsecureHttp"] is True and EU_EC2.config["domain"] is None
    (alb,) = run.of_type(ALB)
    assert alb.input("internal") is True
    listeners = {listener.input("port"): listener.input("protocol") for listener in run.of_type("aws:lb/listener:Listener")}
    assert listeners == {80: "HTTP", 3000: "HTTP"}
    dns = run.outputs["loadBalancerDnsName"]
    assert (run.outputs["litellmUrl"], run.outputs["langfuseUrl"]) == (f"http://{dns}", f"http://{dns}:3000")


@pytest.mark.parametrize(
    "changes, stack, expected",
    [
        ({"loadBalancer": {"scheme": "private"}}, "stg",
         "loadBalancer.scheme 'private' must be one of: internet-facing, internal"),
        ({"loadBalancer": {"public": "yes"}}, "stg", "loadBalancer.public 'yes' must be true or false"),
        ({"loadBalancer": {"internal": True}}, "stg",
         "loadBalancer.internal is not a known key (known: public, scheme)"),
        ({"loadBalancer": {"scheme": "internal", "public": True}}, "stg",
         "loadBalancer.public true contradicts loadBalancer.scheme 'internal' (an internal load balancer has "
         "private addresses only)"),
        ({"allowedCidrs": ["10.0.0.0/8", "0.0.0.0/0"]}, "prod",
         "allowedCidrs[1] '0.0.0.0/0' is wider than a /8 (the internet, or most of it): refused in prod; list your "
         "office/VPN ranges, or set loadBalancer.public: true if the gateway is meant to be public"),
        # The whole internet in two halves.
        ({"allowedCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}, "prod",
         "allowedCidrs[1] '128.0.0.0/1' is wider than a /8 (the internet, or most of it): refused in prod; list "
         "your office/VPN ranges, or set loadBalancer.public: true if the gateway is meant to be public"),
        ({"allowedCidrs": ["0.0.0.0/0"], "loadBalancer": {"scheme": "internal"}}, "prod",
         "allowedCidrs[0] '0.0.0.0/0' is wider than a /8 (the internet, or most of it): refused in prod; list the "
         "networks that reach the internal load balancer (VPN, Direct Connect, peering)"),
    ],
)
def test_load_balancer_config_refused_with_its_key_path(changes, stack, expected):
    with pytest.raises(SettingsError) as raised:
        make_settings(stack=stack, **changes)
    assert expected in raised.value.problems


@pytest.mark.parametrize(
    "changes, stack, scheme",
    [
        ({"allowedCidrs": ["0.0.0.0/0"], "loadBalancer": {"public": True}}, "prod", "internet-facing"),  # said so
        ({"allowedCidrs": ["0.0.0.0/0"]}, "stg", "internet-facing"),
        ({"allowedCidrs": ["0.0.0.0/0"], "loadBalancer": {"scheme": "internal"}}, "stg", "internal"),
        ({"allowedCidrs": ["10.0.0.0/8", "172.16.0.0/12"], "loadBalancer": {"scheme": "internal"}}, "prod", "internal"),
    ],
)
def test_load_balancer_config_accepted(changes, stack, scheme):
    assert make_settings(stack=stack, **changes).load_balancer.scheme == scheme


def test_defaults_are_internet_facing_and_not_public():
    for stack in ("stg", "prod"):
        lb = make_settings(stack=stack).load_balancer
        assert (lb.scheme, lb.public) == ("internet-facing", False)
