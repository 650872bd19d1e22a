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

from components.langfuse_key_pair import LangfuseKeyPair
from components.litellm_team_key import LitellmTeamKey
from components.team_plane_store import TeamPlaneStore, TeamPlaneStoreArgs
from program.foundation import Foundation
from program.team_keys import declare_team_keys
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
    keys, litellm_keys = declare_team_keys(settings, foundation.key.arn)
    store = TeamPlaneStore("team-plane", TeamPlaneStoreArgs(
        settings, foundation.account_id, foundation.key.arn, foundation.access_logs.bucket_name,
        {name: (pair.arn, pair.version) for name, pair in keys.items()},
        (foundation.platform_keys.arn, foundation.platform_keys.version),
        {name: (key.arn, key.version) for name, key in litellm_keys.items()},
    ))
    return TeamPlane(keys=keys, litellm_keys=litellm_keys, store=store)
