"""The llm-gateway policy pack: `pulumi preview|up --policy-pack policy`.

Only assembles the pack; the rules live in rules.py (per resource) and graph.py (whole stack),
wrapped into pulumi_policy objects by pack.py, where the tests exercise them.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

if __package__:
    from .pack import PACK_NAME, POLICIES
else:  # `python -m pulumi.policy` runs this file with policy/ on sys.path
    from pack import PACK_NAME, POLICIES

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,  # each policy sets its own level; this is the fallback
    description="Security baseline of the llm-gateway stacks (LiteLLM + Langfuse on AWS).",
)
