"""Bedrock model identifiers and the least-privilege resources needed to invoke them.

A model id is either a foundation model (`amazon.titan-embed-text-v2:0`) or a cross-Region
inference profile: a geography prefix plus a foundation model id
(`us.anthropic.claude-sonnet-4-20250514-v1:0`). Invoking through a profile needs the profile
ARN in the calling Region and the foundation-model ARN in every Region the profile may route to;
a `global.` profile also routes to the Region-less foundation-model ARN.
"""

from __future__ import annotations

from dataclasses import dataclass

INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")

# Regions each geography's system profiles may route to (superset across models, from AWS's
# cross-Region inference documentation). A model's `destinationRegions` setting narrows it.
GEOGRAPHY_REGIONS: dict[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-1", "us-west-2"),
    "us-gov": ("us-gov-east-1", "us-gov-west-1"),
    "eu": (
        "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1",
        "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3",
    ),
    "apac": (
        "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
        "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2",
        "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7",
        "me-central-1",
    ),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
}
GLOBAL = "global"
PROFILE_PREFIXES = (*GEOGRAPHY_REGIONS, GLOBAL)


@dataclass(frozen=True)
class BedrockModelId:
    geography: str | None  # None for a foundation model
    foundation_model: str

    @property
    def is_profile(self) -> bool:
        return self.geography is not None


def parse_model_id(model_id: str) -> BedrockModelId:
    head, _, rest = model_id.partition(".")
    if head in PROFILE_PREFIXES and rest:
        return BedrockModelId(head, rest)
    return BedrockModelId(None, model_id)


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def foundation_model_arn(partition: str, region: str, model: str) -> str:
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model}"


def inference_profile_arn(partition: str, region: str, account_id: str, profile: str) -> str:
    return f"arn:{partition}:bedrock:{region}:{account_id}:inference-profile/{profile}"


@dataclass(frozen=True)
class InvokeGrant:
    """One IAM statement's worth of resources, optionally bound to the profile they serve."""

    resources: tuple[str, ...]
    via_profile: str | None = None  # condition bedrock:InferenceProfileArn
    regionless: bool = False  # the global leg: condition aws:RequestedRegion = unspecified


def invoke_grants(
    model_id: str, region: str, account_id: str, destination_regions: tuple[str, ...] = ()
) -> tuple[InvokeGrant, ...]:
    """The grants that let a workload in `region` invoke `model_id`, and nothing wider."""
    partition = partition_of(region)
    parsed = parse_model_id(model_id)
    if not parsed.is_profile:
        return (InvokeGrant((foundation_model_arn(partition, region, model_id),)),)

    profile = inference_profile_arn(partition, region, account_id, model_id)
    if parsed.geography == GLOBAL:
        routed = destination_regions or (region,)
    else:
        routed = destination_regions or GEOGRAPHY_REGIONS[parsed.geography]
    grants = [
        InvokeGrant((profile,)),
        InvokeGrant(
            tuple(foundation_model_arn(partition, r, parsed.foundation_model) for r in routed),
            via_profile=profile,
        ),
    ]
    if parsed.geography == GLOBAL:
        grants.append(
            InvokeGrant(
                (foundation_model_arn(partition, "", parsed.foundation_model),),
                via_profile=profile,
                regionless=True,
            )
        )
    return tuple(grants)


def invoke_policy_document(grants: tuple[InvokeGrant, ...]) -> dict:
    """An IAM policy document allowing only the invoke actions on exactly these resources."""
    statements = []
    for grant in grants:
        statement: dict = {
            "Effect": "Allow",
            "Action": list(INVOKE_ACTIONS),
            "Resource": sorted(grant.resources),
        }
        conditions: dict = {}
        if grant.via_profile:
            conditions["StringEquals"] = {"bedrock:InferenceProfileArn": grant.via_profile}
        if grant.regionless:
            conditions.setdefault("StringEquals", {})["aws:RequestedRegion"] = "unspecified"
        if conditions:
            statement["Condition"] = conditions
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}
