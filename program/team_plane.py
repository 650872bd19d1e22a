"""The teams: each team's Langfuse key secret and the desired-state document the platform's
team-plane job reconciles LiteLLM teams and Langfuse projects to (inside the VPC, renderers/team_document.py).

Declared before the platform: the platform's containers read the document (LiteLLM's start) and
run the job, which runs again whenever the document changes (a team added, changed or removed, or
a rotated key).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.langfuse_key_pair import LangfuseKeyPair, LangfuseKeyPairArgs
from components.team_plane_store import TeamPlaneStore, TeamPlaneStoreArgs
from services import secret_refs
from program.foundation import Foundation
from program.platform import PlatformInputs, TEAM_PLANE_JOB


@dataclass(frozen=True)
class TeamPlane:
    keys: dict[str, LangfuseKeyPair]  # team -> its Langfuse key pair's secret
    store: TeamPlaneStore  # the desired-state document (and the code the containers run)

    def platform_inputs(self) -> PlatformInputs:
        return PlatformInputs(
            team_document=self.store.document_url, team_document_version=self.store.version_id,
            reader_policy_arn=self.store.reader_policy_arn,
            job_triggers={TEAM_PLANE_JOB: self.store.version_id},
        )

    @property
    def exports(self) -> dict[str, pulumi.Output[str]]:
        return {name: pair.arn for name, pair in self.keys.items()}


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
    store = TeamPlaneStore("team-plane", TeamPlaneStoreArgs(
        settings, foundation.account_id, foundation.key.arn, foundation.access_logs.bucket_name,
        {name: (pair.arn, pair.version) for name, pair in keys.items()},
        (foundation.platform_keys.arn, foundation.platform_keys.version),
    ))
    return TeamPlane(keys=keys, store=store)
