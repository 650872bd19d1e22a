"""One LiteLLM team as code, through the proxy's admin API and the master key.

`LiteLLMTeam` is a Pulumi dynamic resource over the team endpoints of the pinned LiteLLM
(1.104.0, litellm/proxy/management_endpoints/team_endpoints.py): POST /team/new, GET
/team/info, POST /team/update, POST /team/delete. The team's id is exactly our team name,
because the proxy config's `default_team_settings` (each team's Langfuse keys) is keyed on it.

Only the team's identity, models, budget and rate limits are ever sent, and never a callback
or logging setting: team callbacks stored in LiteLLM's database override the config file's
`default_team_settings`, and would silently send a team's traces elsewhere. Such settings are
drift: `/team/{id}/disable_logging` (open to team admins) or the admin UI write
`metadata.logging` / `metadata.callback_settings`, and from then on LiteLLM ignores the config's
entry for the team (litellm/proxy/litellm_pre_call_utils.py `_get_dynamic_logging_metadata`:
any `logging` list, even empty, or a `callback_settings` object wins over the config). Read
reports it (`logging_overridden`), and update writes the team's metadata back without those two
keys (/team/update replaces `metadata`, keeping only LiteLLM's system-managed keys).

Creating adopts a team that already exists under the id; an update sends only the fields that
differ from the live team (re-sending `budget_duration` would restart the budget window), with
explicit nulls for removed limits (/team/update writes every key it is given). Deleting a team
also deletes its virtual keys (LiteLLM's behaviour); deleting a team that is already gone succeeds.

The provider is pickled by reference, like `components.one_off_task` (see there): keep this
module path and the class names stable while stack state holds these resources.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from components.admin_api import AdminApiProvider, AdminResponse, JsonApiClient

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


TEAM_FIELDS = ("team_id", "models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit")
CONNECTION_FIELDS = ("proxy_url", "master_key")
# Team metadata keys that make LiteLLM ignore the config's default_team_settings entry.
LOGGING_OVERRIDE_KEYS = ("logging", "callback_settings")


class LiteLLMAdminError(Exception):
    """The proxy could not be reached, refused the master key, or rejected a request."""


@dataclass(frozen=True)
class TeamSpec:
    """The team settings we manage, in the types LiteLLM stores."""

    team_id: str
    models: tuple[str, ...] = ()
    max_budget: float | None = None
    budget_duration: str | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> TeamSpec:
        """From the engine's property bag (numbers arrive as floats) or a /team/info `team_info`."""

        def optional(key: str, kind: Callable[[Any], Any]) -> Any:
            return None if props.get(key) is None else kind(props[key])

        return cls(
            team_id=props["team_id"],
            models=tuple(props.get("models") or ()),
            max_budget=optional("max_budget", float),
            budget_duration=props.get("budget_duration"),
            rpm_limit=optional("rpm_limit", int),
            tpm_limit=optional("tpm_limit", int),
        )

    def request_fields(self) -> dict[str, Any]:
        """Every managed field of a /team/new or /team/update body, None meaning "no limit"."""
        return {
            "team_id": self.team_id,
            "team_alias": self.team_id,  # what the admin UI shows
            "models": list(self.models),
            "max_budget": self.max_budget,
            "budget_duration": self.budget_duration,
            "rpm_limit": self.rpm_limit,
            "tpm_limit": self.tpm_limit,
        }

    def as_props(self) -> dict[str, Any]:
        return {key: list(self.models) if key == "models" else getattr(self, key) for key in TEAM_FIELDS}


def logging_overridden(live_team: Mapping[str, Any]) -> bool:
    """True when the team's metadata overrides the config's logging (its traces go elsewhere)."""
    metadata = live_team.get("metadata") or {}
    return any(key in metadata for key in LOGGING_OVERRIDE_KEYS)


def update_body(desired: TeamSpec, live_team: Mapping[str, Any]) -> dict[str, Any] | None:
    """The /team/update body that turns the live team into the desired one; None when they agree."""
    live = {**TeamSpec.from_props(live_team).request_fields(), "team_alias": live_team.get("team_alias")}
    changed = {key: value for key, value in desired.request_fields().items() if live[key] != value}
    if logging_overridden(live_team):
        metadata = live_team.get("metadata") or {}
        changed["metadata"] = {key: value for key, value in metadata.items() if key not in LOGGING_OVERRIDE_KEYS}
    return {"team_id": desired.team_id, **changed} if changed else None


def changed_fields(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """Inputs that differ from the stored outputs (an unknown value during preview counts), and
    `logging_overridden` when the last read found the team's logging overridden."""
    changed = [key for key in (*CONNECTION_FIELDS, *TEAM_FIELDS) if olds.get(key) != news.get(key)]
    return [*changed, "logging_overridden"] if olds.get("logging_overridden") else changed


def redact(text: str, master_key: str) -> str:
    # LiteLLM echoes a refused key abbreviated to its last 4 characters.
    return text.replace(master_key, "***").replace(f"sk-...{master_key[-4:]}", "sk-...***")


class LiteLLMAdminClient:
    """urllib over the admin API: retries transient failures, turns the others into clear errors."""

    def __init__(self, proxy_url: str, master_key: str, *, timeout_seconds: float,
                 retry_delays: Sequence[float], sleep: Callable[[float], None]):
        self.proxy_url = proxy_url.rstrip("/")
        self._master_key = master_key
        self._http = JsonApiClient(
            self.proxy_url, {"Authorization": f"Bearer {master_key}"}, timeout_seconds=timeout_seconds,
            retry_delays=retry_delays, sleep=sleep, unreachable=self._unreachable,
        )

    def team_info(self, team_id: str) -> dict[str, Any] | None:
        """The team's `team_info` record, or None when no team has this id."""
        query = urllib.parse.urlencode({"team_id": team_id})
        response = self._call("GET", f"/team/info?{query}", expected=(404,))
        return None if response.status == 404 else response.body["team_info"]

    def new_team(self, fields: Mapping[str, Any]) -> bool:
        """Creates the team; False when its id is taken (e.g. a retried request already created it)."""
        response = self._call("POST", "/team/new", fields, expected=(400,))
        if response.status == 400:
            if "already exists" not in json.dumps(response.body):
                raise self._http_error("POST", "/team/new", response)
            return False
        return True

    def update_team(self, body: Mapping[str, Any]) -> None:
        self._call("POST", "/team/update", body)

    def delete_team(self, team_id: str) -> None:
        """Deletes the team and, LiteLLM-side, its keys; a team that is already gone is fine."""
        self._call("POST", "/team/delete", {"team_ids": [team_id]}, expected=(404,))

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
              expected: Sequence[int] = ()) -> AdminResponse:
        response = self._http.send(method, path, body)
        if response.status in (401, 403):
            # Without the body: LiteLLM echoes part of the refused key, and its hash, in it.
            raise LiteLLMAdminError(
                f"the LiteLLM proxy at {self.proxy_url} refused the master key ({method} {path}: "
                f"HTTP {response.status}); the stack's master key secret must be the key the proxy "
                "runs with (LITELLM_MASTER_KEY)"
            )
        if 200 <= response.status < 300 or response.status in expected:
            return response
        raise self._http_error(method, path, response)

    def _http_error(self, method: str, path: str, response: AdminResponse) -> LiteLLMAdminError:
        body = response.body_for_error(lambda text: redact(text, self._master_key))
        return LiteLLMAdminError(
            f"LiteLLM proxy {method} {self.proxy_url}{path} failed with HTTP {response.status}: {body}"
        )

    def _unreachable(self, method: str, path: str, reason: str, attempts: int) -> LiteLLMAdminError:
        return LiteLLMAdminError(
            f"cannot reach the LiteLLM proxy at {self.proxy_url} ({method} {path}: {reason}; {attempts} attempts): "
            "the machine running `pulumi up` must be able to reach the proxy, e.g. its egress IP must be in the "
            "stack's allowedCidrs"
        )


def ensure_team(client: LiteLLMAdminClient, desired: TeamSpec) -> None:
    """Create the team, or bring the existing one with this id to the desired settings."""
    live = client.team_info(desired.team_id)
    if live is None:
        if client.new_team(desired.request_fields()):
            return
        live = client.team_info(desired.team_id)  # created meanwhile: adopt it
    body = update_body(desired, live)
    if body is not None:
        client.update_team(body)


class LiteLLMTeamProvider(AdminApiProvider):
    default_retry_delays = DEFAULT_RETRY_DELAYS_SECONDS

    def _client(self, props: Mapping[str, Any]) -> LiteLLMAdminClient:
        return LiteLLMAdminClient(props["proxy_url"], props["master_key"], **self.client_options())

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
