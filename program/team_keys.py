"""Each team's Langfuse key pair and LiteLLM virtual keys, declared alike on every platform: in
Secrets Manager on AWS (program/team_plane.py), as Pulumi secrets on the local platform
(program/local.py), named `<prefix>/<logical secret>` either way (the secret's name; locally its id
in the key variable)."""

from __future__ import annotations

import pulumi

from components.langfuse_key_pair import LangfuseKeyPair, LangfuseKeyPairArgs
from components.litellm_team_key import LitellmTeamKey, LitellmTeamKeyArgs
from config.settings import Settings
from services import secret_refs


def declare_team_keys(settings: Settings, kms_key_arn: pulumi.Input[str] | None
                      ) -> tuple[dict[str, LangfuseKeyPair], dict[tuple[str, str], LitellmTeamKey]]:
    """Team -> its Langfuse pair, and (team, key name) -> its LiteLLM key; `kms_key_arn` None: no
    Secrets Manager. A team, or one of its keys, can leave the config: on a protected stack what it
    generated is then retained instead of deleted, and never protected (Pulumi would stop the
    removal on it after LiteLLM already deleted the team)."""
    prefix = settings.name_prefix
    keys = {
        team.name: LangfuseKeyPair(f"langfuse-keys-team-{team.name}", LangfuseKeyPairArgs(
            f"{prefix}/{secret_refs.team_keys(team.name)}", team.name, kms_key_arn, settings.protect,
            team.existing_keys, retain_on_removal=settings.protect,
        ))
        for team in settings.teams
    }
    litellm_keys = {
        (team.name, key.name): LitellmTeamKey(f"litellm-keys-team-{team.name}.{key.name}", LitellmTeamKeyArgs(
            f"{prefix}/{secret_refs.team_litellm_key(team.name, key.name)}", team.name, key.name, kms_key_arn,
            retain_on_removal=settings.protect,
        ))
        for team in settings.teams for key in team.keys
    }
    return keys, litellm_keys
