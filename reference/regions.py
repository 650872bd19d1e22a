"""The AWS Regions the program can serve, and what each one needs that differs between Regions.

Only the commercial partition (`arn:aws:`): every ARN the program builds is in it, and an IAM
role of one partition cannot be granted anything in another (GovCloud, China).

Load balancer access logs: "Enable access logs for your Application Load Balancer", step 2
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html)
gives two bucket policies. Regions available before August 2022 deliver logs as a regional
Elastic Load Balancing account (`"Principal": {"AWS": "arn:aws:iam::<elb-account-id>:root"}`);
Regions available as of August 2022 or later deliver as the log-delivery service
(`"Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}`) and have no such
account. The account ids below are the doc's list, as the provider's own copy has them
(hashicorp/terraform-provider-aws internal/service/elb/service_account_data_source.go). The newer
Regions listed are those of the doc's second list where this program's Bedrock profiles route
(reference/bedrock.py); a Region missing here is refused by the loader: add its line to serve it.
"""

from __future__ import annotations

from dataclasses import dataclass

ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


@dataclass(frozen=True)
class Region:
    # The regional Elastic Load Balancing account that writes access logs (Regions available
    # before August 2022); None: the Region uses the log-delivery service principal.
    elb_account: str | None = None


REGIONS: dict[str, Region] = {
    # Available before August 2022: a regional ELB account writes the access logs.
    "us-east-1": Region("127311923021"),
    "us-east-2": Region("033677994240"),
    "us-west-1": Region("027434742980"),
    "us-west-2": Region("797873946194"),
    "af-south-1": Region("098369216593"),
    "ap-east-1": Region("754344448648"),
    "ap-northeast-1": Region("582318560864"),
    "ap-northeast-2": Region("600734575887"),
    "ap-northeast-3": Region("383597477331"),
    "ap-south-1": Region("718504428378"),
    "ap-southeast-1": Region("114774131450"),
    "ap-southeast-2": Region("783225319266"),
    "ap-southeast-3": Region("589379963580"),
    "ca-central-1": Region("985666609251"),
    "eu-central-1": Region("054676820928"),
    "eu-north-1": Region("897822967062"),
    "eu-south-1": Region("635631232127"),
    "eu-west-1": Region("156460612806"),
    "eu-west-2": Region("652711504416"),
    "eu-west-3": Region("009996457667"),
    "me-south-1": Region("076674570225"),
    "sa-east-1": Region("507241528517"),
    # Available as of August 2022 or later: the log-delivery service principal.
    "ap-east-2": Region(),
    "ap-south-2": Region(),
    "ap-southeast-4": Region(),
    "ap-southeast-5": Region(),
    "ap-southeast-7": Region(),
    "eu-central-2": Region(),
    "eu-south-2": Region(),
    "me-central-1": Region(),
}


def elb_log_principal(region: str) -> dict[str, str]:
    """Who writes the load balancer's access logs into the bucket, in `region`."""
    account = REGIONS[region].elb_account
    return {"AWS": f"arn:aws:iam::{account}:root"} if account else {"Service": ELB_LOG_DELIVERY_SERVICE}
