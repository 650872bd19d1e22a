"""The team plane's desired state: one JSON document, the only per-team payload of a stack.

Every team-dependent thing reads this document at run time instead of carrying the teams in an
AWS payload whose size would grow with them (user data 16 KB, a task definition 64 KiB, an IAM
managed policy 6,144 characters):

- the LiteLLM container's start (team_plane/litellm_start.py) turns it into the
  proxy config's `default_team_settings` and each team's key variables, read from the team's
  Secrets Manager secret;
- the team-plane job, run inside the VPC by the platform (a one-off ECS task, or SSM Run Command
  on the EC2 host), reconciles LiteLLM teams, their members and virtual keys, and Langfuse
  organizations, projects and members to it; the smoke step proves each team's chain with it.

The deploy writes it to the stack's team-plane bucket (`DOCUMENT_KEY`). It holds names, limits,
e-mails, secret ARNs and secret version ids, never a secret value. One team per line of the rendered
JSON, in name order, so `pulumi preview --diff` shows exactly which teams are added, changed or
removed. A rotated key changes its secret's version id, and with it the document: the job runs
again (it reads each key at the version named here), and LiteLLM restarts (at its start it reads
the document, at the version its ECS task definition pins or the latest on the host, and each key's
current version).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reference.bedrock_prices import litellm_price
from services import secret_refs
from renderers.litellm_proxy import team_key_vars
# The container's start reads the document with nothing of this project around: the format's
# version and its reader live there, once.
from config.settings import Settings, Team
from team_plane.document import DOCUMENT_VERSION, parse_team_document  # noqa: F401 (the reader lives with the job)

__all__ = [
    "DOCUMENT_KEY", "DOCUMENT_VERSION", "KeySecret", "parse_team_document", "render_team_document", "smoke_model",
    "team_document", "team_keys_arn_pattern",
]

DOCUMENT_KEY = "team-plane/desired.json"


# The smoke call's tokens, about: its one-line prompt with the chat template around it, one token out.
SMOKE_INPUT_TOKENS, SMOKE_OUTPUT_TOKENS = 16, 1


@dataclass(frozen=True)
class KeySecret:
    """Where a key lives (a Langfuse key pair, a LiteLLM virtual key): the secret's ARN and its current version id."""

    arn: str
    version: str


def smoke_model(settings: Settings, team: Team) -> str | None:
    """The model of the team's smoke call: its cheapest chat model by what that call costs, at the stack's prices
    for the model or else the pinned LiteLLM's (which prices the call the same way). A model the price map knows
    as another mode (an embedding model) takes no chat call; one it does not know (priced in the stack) is taken
    only when the team has no model the map knows as a chat model. None: no chat model at all."""
    known, unknown = [], []
    for model in settings.models:
        if team.models and model.name not in team.models:
            continue
        mapped = litellm_price(model.bedrock_model)
        if mapped is not None and mapped.mode != "chat":
            continue
        prices = ((model.input_cost_per_token, model.output_cost_per_token) if model.input_cost_per_token is not None
                  else (mapped.input_cost_per_token, mapped.output_cost_per_token))
        cost = prices[0] * SMOKE_INPUT_TOKENS + prices[1] * SMOKE_OUTPUT_TOKENS
        (known if mapped is not None else unknown).append((cost, model.name))
    candidates = known or unknown
    return min(candidates)[1] if candidates else None


def team_document(settings: Settings, team_keys: Mapping[str, KeySecret], platform_keys: KeySecret,
                  litellm_keys: Mapping[tuple[str, str], KeySecret] = {}) -> dict[str, Any]:
    """The desired state of every team (pure: plain values in, plain values out). `litellm_keys`: (team, key name)
    -> the secret of that LiteLLM key."""
    missing = sorted({team.name for team in settings.teams} - set(team_keys))
    missing += sorted(f"{team.name}/{key.name}" for team in settings.teams for key in team.keys
                      if (team.name, key.name) not in litellm_keys)
    if missing:
        raise ValueError(f"no key secret for: {', '.join(missing)}")
    teams = []
    for team in sorted(settings.teams, key=lambda t: t.name):
        public_var, secret_var = team_key_vars(team)
        keys = team_keys[team.name]
        teams.append({
            "name": team.name,
            "models": list(team.models),
            "maxBudget": team.max_budget,
            "budgetDuration": team.budget_duration,
            "rpmLimit": team.rpm_limit,
            "tpmLimit": team.tpm_limit,
            "langfuseKeys": team.langfuse_keys,  # generate: the project is ours; existing: adopt
            "keySecretArn": keys.arn,
            "keySecretVersion": keys.version,
            "publicKeyVar": public_var,
            "secretKeyVar": secret_var,
            "members": [{"email": member.email.lower(), "role": member.role} for member in team.members],
            "keys": [{"name": key.name, "maxBudget": key.max_budget, "models": list(key.models),
                      "secretArn": litellm_keys[team.name, key.name].arn,
                      "secretVersion": litellm_keys[team.name, key.name].version} for key in team.keys],
            "smokeModel": smoke_model(settings, team),
        })
    return {
        "version": DOCUMENT_VERSION,
        "stack": settings.stack,
        "environment": settings.environment,
        # In prod a removed team's Langfuse project (and its traces) stays; stg removes it.
        "keepRemovedProjects": settings.protect,
        # OWNER of every team's Langfuse organization: the operators see every team's project.
        "langfuseAdmin": settings.langfuse.admin_email.lower(),
        # LiteLLM makes team admins only with its licence (team_plane/litellm_members.py).
        "litellmTeamAdmins": settings.litellm_license_key is not None,
        "platformKeys": {"keySecretArn": platform_keys.arn, "keySecretVersion": platform_keys.version},
        "teams": teams,
    }


def render_team_document(document: Mapping[str, Any]) -> str:
    """The document as stored: stable key order, one team per line."""
    head = {key: value for key, value in document.items() if key != "teams"}
    lines = ",\n".join(f"  {json.dumps(team, sort_keys=True)}" for team in document["teams"])
    body = json.dumps(head, sort_keys=True, indent=1)
    teams = f'"teams": [\n{lines}\n ]' if lines else '"teams": []'
    return body[:-2] + f",\n {teams}\n}}\n"


def team_keys_arn_pattern(region: str, account_id: str, name_prefix: str, secrets: str = secret_refs.TEAM_KEYS) -> str:
    """Every team's key secret of a stack, for IAM: one name-prefix wildcard ARN (secret names are
    `<prefix>/langfuse-keys/teams/<team>-<suffix>`, or `secret_refs.TEAM_LITELLM_KEYS`' LiteLLM keys), the same
    size for any number of teams."""
    return f"arn:aws:secretsmanager:{region}:{account_id}:secret:{name_prefix}/{secrets}"
