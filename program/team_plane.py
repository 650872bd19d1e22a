"""The teams: each team's Langfuse key secret, its LiteLLM virtual keys' secrets, and the
desired-state document the platform's team-plane job reconciles LiteLLM and Langfuse to (inside the
VPC, renderers/team_document.py).

Declared before the platform: the platform's containers read the document (LiteLLM's start) and
run the job, which runs again whenever the document changes (a team added, changed or removed, or
a rotated key).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.langfuse_key_pair import LangfuseKeyPair, LangfuseKeyPairArgs
from components.litellm_team_key import LitellmTeamKey, LitellmTeamKeyArgs
from components.team_plane_store import TeamPlaneStore, TeamPlaneStoreArgs
from services import secret_refs
from program.foundation import Foundation
from program.platform import PlatformInputs, TEAM_PLANE_JOB


@dataclass(frozen=True)
class TeamPlane:
    keys: dict[str, LangfuseKeyPair]  # team -> its Langfuse key pair's secret
    litellm_keys: dict[tuple[str, str], LitellmTeamKey]  # (team, key name) -> its LiteLLM virtual key's secret
    store: TeamPlaneStore  # the desired-state document (and the code the containers run)

    def platform_inputs(self) -> PlatformInputs:
        return PlatformInputs(
            team_document=self.store.document_url, team_document_version=self.store.version_id,
            reader_policy_arn=self.store.reader_policy_arn, key_policy_arn=self.store.key_policy_arn,
            job_triggers={TEAM_PLANE_JOB: self.store.version_id},
        )

    @property
    def exports(self) -> dict[str, pulumi.Output[str]]:
        return {name: pair.arn for name, pair in self.keys.items()}

    @property
    def litellm_key_exports(self) -> dict[str, dict[str, pulumi.Output[str]]]:
        """Team -> key name -> its secret's ARN: a team's service reads its key with IAM."""
        exports: dict[str, dict[str, pulumi.Output[str]]] = {}
        for (team, name), key in sorted(self.litellm_keys.items()):
            exports.setdefault(team, {})[name] = key.arn
        return exports


def declare_team_plane(foundation: Foundation) -> TeamPlane:
    settings = foundation.settings
    prefix = settings.name_prefix
    keys = {
        team.name: LangfuseKeyPair(f"langfuse-keys-team-{team.name}", LangfuseKeyPairArgs(
            f"{prefix}/{secret_refs.team_keys(team.name)}", team.name, foundation.key.arn, settings.protect,
            team.existing_keys, retain_on_removal=settings.protect,
        ))
        for team in settings.teams
    }
    # A team's key can leave the config like the team itself: kept in AWS in prod, as its Langfuse pair is.
    litellm_keys = {
        (team.name, key.name): LitellmTeamKey(f"litellm-keys-team-{team.name}.{key.name}", LitellmTeamKeyArgs(
            f"{prefix}/{secret_refs.team_litellm_key(team.name, key.name)}", team.name, key.name, foundation.key.arn,
            retain_on_removal=settings.protect,
        ))
        for team in settings.teams for key in team.keys
    }
    store = TeamPlaneStore("team-plane", TeamPlaneStoreArgs(
        settings, foundation.account_id, foundation.key.arn, foundation.access_logs.bucket_name,
        {name: (pair.arn, pair.version) for name, pair in keys.items()},
        (foundation.platform_keys.arn, foundation.platform_keys.version),
        {name: (key.arn, key.version) for name, key in litellm_keys.items()},
    ))
    return TeamPlane(keys=keys, litellm_keys=litellm_keys, store=store)
