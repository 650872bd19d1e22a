"""LiteLLM teams through the proxy's admin API and the master key (litellm 1.104.0,
litellm/proxy/management_endpoints/team_endpoints.py): GET /team/list, GET /team/info, POST
/team/new, /team/update, /team/delete. A team's id is exactly our team name, because the proxy
config's `default_team_settings` (each team's Langfuse keys) is keyed on it.

Only the team's identity, models, budget, rate limits and our `managed-by` metadata mark are ever
sent, never a callback or logging setting: team callbacks stored in LiteLLM's database override the
config's `default_team_settings`, and would silently send a team's traces elsewhere. Such settings
are drift: `/team/{id}/disable_logging` (open to team admins) or the admin UI write
`metadata.logging` / `metadata.callback_settings`, and from then on LiteLLM ignores the config's
entry for the team (litellm/proxy/litellm_pre_call_utils.py `_get_dynamic_logging_metadata`: any
`logging` list, even empty, or a `callback_settings` object wins over the config). An update
writes the team's metadata back without those two keys (/team/update replaces `metadata`, keeping
only LiteLLM's system-managed keys).

Creating adopts a team that already exists under the id (and marks it); an update sends only the
fields that differ from the live team (re-sending `budget_duration` would restart the budget
window), with explicit nulls for removed limits (/team/update writes every key it is given).
Removal deletes only teams carrying our mark, so teams made by hand in the admin UI are never
touched; deleting a team also deletes its virtual keys (LiteLLM's behaviour).

A 404 from /team/info or /team/delete does not prove the team is absent: both wrap any exception
of their database read as 404 "Team not found" (team_endpoints.py `team_info`, `delete_team`). So a
team /team/new says exists but /team/info cannot read is a failure of that team, and a removal
counts only once /team/list no longer shows the team.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from team_plane.http import AdminResponse, Deadline, JsonApiClient

TEAM_FIELDS = ("team_id", "models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit")
# Team metadata keys that make LiteLLM ignore the config's default_team_settings entry.
LOGGING_OVERRIDE_KEYS = ("logging", "callback_settings")
# Our mark in a team's metadata: only teams carrying it are removed when they leave the document.
MANAGED_BY_KEY = "managed-by"
MANAGED_BY = "llm-gateway"


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

    @classmethod
    def from_document(cls, team: Mapping[str, Any]) -> TeamSpec:
        """From one team of the team document (renderers/team_document.py `team_document`)."""
        return cls.from_props({
            "team_id": team["name"], "models": team.get("models"), "max_budget": team.get("maxBudget"),
            "budget_duration": team.get("budgetDuration"), "rpm_limit": team.get("rpmLimit"),
            "tpm_limit": team.get("tpmLimit"),
        })

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

    def new_team_body(self) -> dict[str, Any]:
        return {**self.request_fields(), "metadata": {MANAGED_BY_KEY: MANAGED_BY}}

    def as_props(self) -> dict[str, Any]:
        return {key: list(self.models) if key == "models" else getattr(self, key) for key in TEAM_FIELDS}


def logging_overridden(live_team: Mapping[str, Any]) -> bool:
    """True when the team's metadata overrides the config's logging (its traces go elsewhere)."""
    metadata = live_team.get("metadata") or {}
    return any(key in metadata for key in LOGGING_OVERRIDE_KEYS)


def is_managed(live_team: Mapping[str, Any]) -> bool:
    return (live_team.get("metadata") or {}).get(MANAGED_BY_KEY) == MANAGED_BY


def update_body(desired: TeamSpec, live_team: Mapping[str, Any]) -> dict[str, Any] | None:
    """The /team/update body that turns the live team into the desired one; None when they agree."""
    live = {**TeamSpec.from_props(live_team).request_fields(), "team_alias": live_team.get("team_alias")}
    changed = {key: value for key, value in desired.request_fields().items() if live[key] != value}
    if logging_overridden(live_team) or not is_managed(live_team):
        metadata = live_team.get("metadata") or {}
        changed["metadata"] = {
            **{key: value for key, value in metadata.items() if key not in LOGGING_OVERRIDE_KEYS},
            MANAGED_BY_KEY: MANAGED_BY,
        }
    return {"team_id": desired.team_id, **changed} if changed else None


def redact(text: str, *keys: str) -> str:
    """Every key and what LiteLLM echoes of one: a refused key abbreviated to its last 4 characters
    (user_api_key_auth), a malformed custom key masked to its first and last 4 (/key/generate)."""
    for key in keys:
        text = text.replace(key, "***").replace(f"...{key[-4:]}", "...***").replace(f"****{key[-4:]}", "****")
    return text


class PremiumRequired(LiteLLMAdminError):
    """The proxy refused a licensed feature (a team admin) for want of LITELLM_LICENSE."""


# What /team/member_add and /team/member_update answer without a licence (team_endpoints.py
# _check_team_member_admin_add, team_member_update: "Assigning team admins is a premium feature").
PREMIUM_REFUSAL = "premium feature"
ALREADY_IN_TEAM = "team_member_already_in_team"  # ProxyErrorTypes of a member_add duplicate
KEY_PAGE_SIZE = 100  # /key/list's largest page (key_management_endpoints.py list_keys: size le=100)


class LiteLLMAdminClient:
    """urllib over the admin API: retries transient failures, turns the others into clear errors."""

    def __init__(self, proxy_url: str, master_key: str, *, timeout_seconds: float,
                 retry_delays: Sequence[float], sleep: Callable[[float], None], unreachable_hint: str = "",
                 deadline: Deadline | None = None):
        self.proxy_url = proxy_url.rstrip("/")
        self._master_key = master_key
        self._hidden: list[str] = [master_key]  # never in an error message
        self._unreachable_hint = unreachable_hint  # what to check, from where the caller runs
        self._http = JsonApiClient(
            self.proxy_url, {"Authorization": f"Bearer {master_key}"}, timeout_seconds=timeout_seconds,
            retry_delays=retry_delays, sleep=sleep, unreachable=self._unreachable, deadline=deadline,
        )

    def list_teams(self) -> list[dict[str, Any]]:
        """Every team (the master key is a proxy admin: /team/list answers all of them, a JSON list)."""
        return self._call("GET", "/team/list").body

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

    def hide(self, secret: str) -> None:
        """Keeps `secret` (a virtual key this client sends) out of every error message."""
        self._hidden.append(secret)

    # -- members (team_endpoints.py team_member_add, team_member_update, team_member_delete) --------
    def add_member(self, team_id: str, email: str, role: str) -> None:
        """Adds the e-mail (LiteLLM finds its user case-insensitively, or creates one) with `role`
        ("admin" | "user"); one already in the roster is fine. PremiumRequired for an admin without a licence."""
        response = self._call("POST", "/team/member_add", {"team_id": team_id, "member": {"user_email": email, "role": role}},
                              expected=(400,))
        if response.status == 400 and ALREADY_IN_TEAM not in json.dumps(response.body):
            raise self._refusal("POST", "/team/member_add", response)

    def set_member_role(self, team_id: str, user_id: str, role: str) -> None:
        response = self._call("POST", "/team/member_update", {"team_id": team_id, "user_id": user_id, "role": role},
                              expected=(400,))
        if response.status == 400:
            raise self._refusal("POST", "/team/member_update", response)

    def remove_member(self, team_id: str, user_id: str) -> None:
        """Removes the member; LiteLLM also deletes the keys that user made for the team. One already
        gone is fine."""
        response = self._call("POST", "/team/member_delete", {"team_id": team_id, "user_id": user_id}, expected=(400,))
        if response.status == 400 and "User not found in team" not in json.dumps(response.body):
            raise self._http_error("POST", "/team/member_delete", response)

    # -- keys (key_management_endpoints.py) ---------------------------------------------------------
    def key_info(self, token_hash: str) -> dict[str, Any] | None:
        """The key's row (`status` active, expired, revoked or deleted), or None when LiteLLM never had
        it. By the key's sha256, so the key itself never travels in a URL (as info_key_fn advises)."""
        response = self._call("GET", f"/key/info?{urllib.parse.urlencode({'key': token_hash})}", expected=(404,))
        return None if response.status == 404 else response.body["info"]

    def generate_key(self, body: Mapping[str, Any]) -> None:
        """Registers a key; its value, when given, is hidden from every error message."""
        if body.get("key"):
            self.hide(body["key"])
        self._call("POST", "/key/generate", body)

    def update_key(self, token_hash: str, fields: Mapping[str, Any]) -> None:
        self._call("POST", "/key/update", {"key": token_hash, **fields})

    def delete_keys(self, token_hashes: Sequence[str]) -> None:
        """Deletes the keys (LiteLLM archives them); none left to delete is fine."""
        self._call("POST", "/key/delete", {"keys": list(token_hashes)}, expected=(404,))

    def team_keys(self, team_id: str) -> list[dict[str, Any]]:
        """Every live key of the team, full rows (`token` is the key's hash), all pages."""
        keys, page, pages = [], 1, 1
        while page <= pages:
            query = urllib.parse.urlencode({"team_id": team_id, "return_full_object": "true", "page": page,
                                            "size": KEY_PAGE_SIZE})
            body = self._call("GET", f"/key/list?{query}").body
            keys += body["keys"]
            page, pages = page + 1, body["total_pages"]
        return keys

    def _refusal(self, method: str, path: str, response: AdminResponse) -> LiteLLMAdminError:
        error = self._http_error(method, path, response)
        return PremiumRequired(str(error)) if PREMIUM_REFUSAL in json.dumps(response.body) else error

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
        body = response.body_for_error(lambda text: redact(text, *self._hidden))
        return LiteLLMAdminError(
            f"LiteLLM proxy {method} {self.proxy_url}{path} failed with HTTP {response.status}: {body}"
        )

    def _unreachable(self, method: str, path: str, reason: str, attempts: int) -> LiteLLMAdminError:
        hint = f": {self._unreachable_hint}" if self._unreachable_hint else ""
        return LiteLLMAdminError(
            f"cannot reach the LiteLLM proxy at {self.proxy_url} ({method} {path}: {reason}; {attempts} attempts){hint}"
        )


def ensure_team(client: LiteLLMAdminClient, desired: TeamSpec) -> str:
    """Create the team, or bring the existing one with this id to the desired settings.
    Returns what happened: "created", "adopted" (it existed without our mark), "updated", "unchanged"."""
    live = client.team_info(desired.team_id)
    if live is None:
        if client.new_team(desired.new_team_body()):
            return "created"
        live = client.team_info(desired.team_id)  # created meanwhile: adopt it
        if live is None:
            raise LiteLLMAdminError(
                f"/team/new says team {desired.team_id} exists, but /team/info cannot read it (HTTP 404, which "
                "LiteLLM also answers for any error of its database): check the proxy's database"
            )
    body = update_body(desired, live)
    if body is None:
        return "unchanged"
    client.update_team(body)
    if not is_managed(live):
        return "adopted"
    return "updated" + (" (logging override removed)" if logging_overridden(live) else "")


def remove_teams(client: LiteLLMAdminClient, team_ids: Sequence[str]) -> dict[str, str | None]:
    """Delete each team, then read the list back: team id -> None when it is gone, else why not."""
    errors: dict[str, str | None] = {}
    for team_id in team_ids:
        try:
            client.delete_team(team_id)
            errors[team_id] = None
        except LiteLLMAdminError as error:
            errors[team_id] = f"cannot delete the removed team: {error}"
    if not team_ids:
        return errors
    try:
        listed = {team["team_id"] for team in client.list_teams()}
    except LiteLLMAdminError as error:
        return {team_id: why or f"cannot confirm the deletion: {error}" for team_id, why in errors.items()}
    return {
        team_id: why or (f"the delete was answered, but /team/list still shows team {team_id} (/team/delete "
                         "answers 404 for any error of LiteLLM's database too)" if team_id in listed else None)
        for team_id, why in errors.items()
    }


def stale_managed_teams(live_teams: Sequence[Mapping[str, Any]], desired: set[str]) -> list[str]:
    """Teams we created or adopted that left the document, in name order."""
    return sorted(team["team_id"] for team in live_teams if is_managed(team) and team["team_id"] not in desired)
