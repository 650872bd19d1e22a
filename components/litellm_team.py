"""One LiteLLM team as code: `LiteLLMTeam`, a Pulumi dynamic resource over the team logic of the
team-plane job (team_plane/litellm.py: the admin API client, create-or-adopt, updating only
what differs, undoing logging drift). It stays until the stacks no longer hold these resources.

The provider is pickled by reference, like `components.one_off_task` (see there): keep this
module path and the class names stable while stack state holds these resources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from components.admin_api import AdminApiProvider
from team_plane.litellm import (  # noqa: F401 (moved to the team-plane job; re-exported for callers)
    LOGGING_OVERRIDE_KEYS,
    TEAM_FIELDS,
    LiteLLMAdminClient,
    LiteLLMAdminError,
    TeamSpec,
    ensure_team,
    logging_overridden,
    redact,
    update_body,
)

# On a first deploy the proxy comes up after its database, migrations and Langfuse (a fresh host
# boots for minutes): transient failures are retried for about a quarter of an hour.
DEFAULT_RETRY_DELAYS_SECONDS = (1.0, 2.0, 4.0, 8.0, 15.0) + (30.0,) * 28


@dataclass(frozen=True)
class LiteLLMTeamArgs:
    proxy_url: pulumi.Input[str]  # e.g. https://litellm.example.com
    master_key: pulumi.Input[str]  # always stored as a secret
    team_id: str  # our team name; the proxy config's default_team_settings is keyed on it
    models: Sequence[str] = ()  # empty: every model
    max_budget: float | None = None
    budget_duration: str | None = None  # e.g. 30d
    rpm_limit: int | None = None
    tpm_limit: int | None = None


CONNECTION_FIELDS = ("proxy_url", "master_key")
UNREACHABLE_HINT = ("the machine running `pulumi up` must be able to reach the proxy, e.g. its egress IP must be in the "
                    "stack's allowedCidrs")


def changed_fields(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """Inputs that differ from the stored outputs (an unknown value during preview counts), and
    `logging_overridden` when the last read found the team's logging overridden."""
    changed = [key for key in (*CONNECTION_FIELDS, *TEAM_FIELDS) if olds.get(key) != news.get(key)]
    return [*changed, "logging_overridden"] if olds.get("logging_overridden") else changed


class LiteLLMTeamProvider(AdminApiProvider):
    default_retry_delays = DEFAULT_RETRY_DELAYS_SECONDS

    def _client(self, props: Mapping[str, Any]) -> LiteLLMAdminClient:
        return LiteLLMAdminClient(props["proxy_url"], props["master_key"], unreachable_hint=UNREACHABLE_HINT,
                                  **self.client_options())

    def create(self, props: dict[str, Any]) -> CreateResult:
        desired = TeamSpec.from_props(props)
        ensure_team(self._client(props), desired)
        return CreateResult(desired.team_id, _outputs(props, desired, logging_overridden=False))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = self._client(props).team_info(id_)
        if live is None:
            return ReadResult(None, {})  # gone: the engine drops it from the state
        return ReadResult(id_, _outputs(props, TeamSpec.from_props(live), logging_overridden=logging_overridden(live)))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = changed_fields(olds, news)
        return DiffResult(changes=bool(changed), replaces=["team_id"] if "team_id" in changed else [])

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        desired = TeamSpec.from_props(news)
        ensure_team(self._client(news), desired)
        return UpdateResult(_outputs(news, desired, logging_overridden=False))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._client(props).delete_team(id_)


def _outputs(props: Mapping[str, Any], team: TeamSpec, *, logging_overridden: bool) -> dict[str, Any]:
    # The connection travels in the outputs because read and delete only receive those; the
    # engine keeps master_key secret there, as its input is (plus additional_secret_outputs).
    return {**{key: props[key] for key in CONNECTION_FIELDS}, **team.as_props(), "logging_overridden": logging_overridden}


class LiteLLMTeam(Resource):
    """Its id is the team id; its outputs are its inputs, the master key kept secret, and
    `logging_overridden` (the last read found the team's logging overridden in LiteLLM)."""

    team_id: pulumi.Output[str]
    logging_overridden: pulumi.Output[bool]

    def __init__(self, name: str, args: LiteLLMTeamArgs, opts: pulumi.ResourceOptions | None = None):
        props = {
            "proxy_url": args.proxy_url,
            "master_key": pulumi.Output.secret(args.master_key),
            **TeamSpec(
                team_id=args.team_id, models=tuple(args.models), max_budget=args.max_budget,
                budget_duration=args.budget_duration, rpm_limit=args.rpm_limit, tpm_limit=args.tpm_limit,
            ).as_props(),
            "logging_overridden": None,  # computed by the provider
        }
        secret_outputs = pulumi.ResourceOptions(additional_secret_outputs=["master_key"])
        super().__init__(LiteLLMTeamProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret_outputs))
