"""The teams: each team's Langfuse key secret, and the reconciliation of LiteLLM teams and Langfuse
projects to the stack's `teams`.

Two phases, because the platform sits between them: `declare_team_plane` creates what the
platform's containers reference (the teams' key secrets), before the platform; `reconcile_teams`
runs once the platform serves.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.langfuse_key_pair import LangfuseKeyPair, LangfuseKeyPairArgs
from components.langfuse_project import LangfuseProject, LangfuseProjectArgs
from components.litellm_team import LiteLLMTeam, LiteLLMTeamArgs
from components.team_plane_store import TeamPlaneStore, TeamPlaneStoreArgs
from config import secret_refs
from config.services import project_init_name
from program.foundation import Foundation
from program.platform import Platform, PlatformInputs


@dataclass(frozen=True)
class TeamPlane:
    keys: dict[str, LangfuseKeyPair]  # team -> its Langfuse key pair's secret
    store: TeamPlaneStore  # the desired-state document

    def platform_inputs(self, foundation: Foundation) -> PlatformInputs:
        settings = foundation.settings
        return PlatformInputs(
            team_document=self.store.document_url, team_document_version=self.store.version_id,
            reader_policy_arn=self.store.reader_policy_arn,
            secret_arns={secret_refs.team_keys(name): pair.arn for name, pair in self.keys.items()},
            secret_versions={secret_refs.team_keys(name): pair.version for name, pair in self.keys.items()},
            job_triggers={project_init_name(settings.team(name)): pair.version for name, pair in self.keys.items()},
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


def reconcile_teams(foundation: Foundation, team_plane: TeamPlane, platform: Platform) -> None:
    settings, lb = foundation.settings, foundation.load_balancer
    for team in settings.teams:
        LiteLLMTeam(
            f"litellm-team-{team.name}",
            LiteLLMTeamArgs(
                proxy_url=lb.litellm_url, master_key=foundation.secrets.litellm_master_key, team_id=team.name,
                models=team.models, max_budget=team.max_budget, budget_duration=team.budget_duration,
                rpm_limit=team.rpm_limit, tpm_limit=team.tpm_limit,
            ),
            opts=pulumi.ResourceOptions(depends_on=platform.litellm_ready),
        )
        if settings.langfuse_organization_keys:  # enterprise Langfuse: projects through its API
            organization = settings.langfuse_organization_keys
            keys = team_plane.keys[team.name]
            LangfuseProject(
                f"langfuse-project-{team.name}",
                LangfuseProjectArgs(
                    langfuse_url=lb.langfuse_url,
                    organization_public_key=pulumi.Output.secret(organization.public_key.reveal()),
                    organization_secret_key=pulumi.Output.secret(organization.secret_key.reveal()),
                    project_name=team.name, public_key=keys.public_key, secret_key=keys.secret_key,
                ),
                # Deleting the project deletes its traces: in prod a removed team's project stays.
                opts=pulumi.ResourceOptions(depends_on=platform.langfuse_ready, retain_on_delete=settings.protect),
            )
