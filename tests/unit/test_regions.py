"""Regions: the loader serves only the Regions in reference/regions.py; the access-log bucket lets in
the principal AWS uses in each."""

from __future__ import annotations

import pytest

from components.access_logs import AccessLogs, AccessLogsArgs
from config.loader import SettingsError
from reference.regions import ELB_LOG_DELIVERY_SERVICE, REGIONS
from tests.support.pulumi_mocks import ACCOUNT_ID, json_input, run_pulumi
from tests.support.settings import make_settings
from tests.support.variants import EU_EC2, EU_ECS


def log_delivery_principal(run) -> dict:
    policy = run.named("access-logs-bucket", "aws:s3/bucketPolicy:BucketPolicy")
    statements = {s.get("Sid"): s for s in json_input(policy, "policy")["Statement"]}
    return statements["LoadBalancerLogDelivery"]["Principal"]


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_access_logs_admit_the_principal_aws_uses_in_the_region(region):
    run = run_pulumi(
        lambda: AccessLogs("access-logs", AccessLogsArgs("llm-gateway-stg", region, ACCOUNT_ID, 30, False)),
        region=region,
    )
    account = REGIONS[region].elb_account
    # One principal: the regional ELB account where the Region predates the service principal.
    expected = {"AWS": f"arn:aws:iam::{account}:root"} if account else {"Service": ELB_LOG_DELIVERY_SERVICE}
    assert log_delivery_principal(run) == expected
    assert not [c for c in run.mocks.calls if "elb" in c.token]  # no data source: the table answers


@pytest.mark.parametrize("variant", [EU_ECS, EU_EC2], ids=["ecs", "ec2"])
def test_the_program_runs_in_a_region_newer_than_the_elb_account_list(variant):
    assert variant.config["region"] == "eu-central-2" and REGIONS["eu-central-2"].elb_account is None
    run = variant.run()
    assert log_delivery_principal(run) == {"Service": ELB_LOG_DELIVERY_SERVICE}


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"region": "us-gov-west-1"}, "aws:region 'us-gov-west-1' is not a Region this program serves"),
        ({"region": "eu-west-9"}, "aws:region 'eu-west-9' is not a Region this program serves"),
        ({"region": "us-east-1\n"}, "aws:region 'us-east-1\n' must match"),
        ({"models": [{"name": "titan", "bedrockModel": "amazon.titan-embed-text-v2:0", "region": "us-east-9"}]},
         "models[0].region 'us-east-9' is not a Region this program serves"),
    ],
)
def test_regions_the_program_cannot_serve_are_refused_with_the_list(changes, expected):
    with pytest.raises(SettingsError) as raised:
        make_settings(**changes, teams=[])
    (problem,) = [p for p in raised.value.problems if p.startswith(expected)]
    if "serves" in expected:
        assert problem.endswith(f"(reference/regions.py: {', '.join(sorted(REGIONS))})")
