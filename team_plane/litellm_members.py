"""A team's people in LiteLLM: each member of the team document is a member of the LiteLLM team
(litellm 1.104.0 /team/member_add by `user_email`, which finds the user case-insensitively or
creates one). `admin` becomes a team admin, who can make the team's keys in LiteLLM's UI, only
with a LiteLLM licence: without `LITELLM_LICENSE` the proxy refuses any team admin
(team_endpoints.py `_check_team_member_admin_add`: "Assigning team admins is a premium feature"),
so an admin is then a team `user` and the report says so. `member` and `viewer` are users.

Removing a member (/team/member_delete) also deletes the LiteLLM keys that person made for the team
(keys the team plane registers with the master key belong to no user and stay). People added by
hand (the admin UI) are left alone: the e-mails the gateway added are recorded in the team's own
metadata (`MANAGED_MEMBERS_KEY`), written after the roster changes, so a run that fails half-way
still knows what it added (an e-mail in the roster and the document is adopted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from team_plane.litellm import LiteLLMAdminClient, LiteLLMAdminError, PremiumRequired

MANAGED_MEMBERS_KEY = "llm-gateway-members"
ADMIN, USER = "admin", "user"  # LiteLLM's team roles (litellm/types/proxy: Member.role)
# The team document's roles -> LiteLLM's.
LITELLM_ROLES: Mapping[str, str] = {"admin": ADMIN, "member": USER, "viewer": USER}
NO_LICENCE = "LiteLLM makes team admins only with LITELLM_LICENSE"


@dataclass
class MembersOutcome:
    roles: dict[str, str] = field(default_factory=dict)  # e-mail -> its LiteLLM role after the run
    removed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # admins made users, and why
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """For the report; empty when the team has no members and lost none."""
        listed = ", ".join(f"{email} {role}" for email, role in sorted(self.roles.items()))
        parts = [f"litellm members: {listed}"] if listed else []
        parts += [f"litellm member {email} removed" for email in self.removed]
        return "; ".join(parts + self.notes + self.errors)


def desired_members(team: Mapping[str, Any]) -> dict[str, str]:
    """E-mail (lowercase) -> the role the team document gives it."""
    return {member["email"].lower(): member["role"] for member in team.get("members", ())}


def reconcile_members(client: LiteLLMAdminClient, team_id: str, desired: Mapping[str, str],
                      team_admins: bool) -> MembersOutcome:
    """Brings the team's roster to `desired` (e-mail -> document role); `team_admins`: the proxy has a
    licence. Raises LiteLLMAdminError only when the team cannot be read; each member's failure is
    recorded in the outcome."""
    outcome = MembersOutcome()
    live = client.team_info(team_id)
    if live is None:
        raise LiteLLMAdminError(f"/team/info cannot read team {team_id} to reconcile its members")
    roster = {(m.get("user_email") or "").lower(): m for m in live.get("members_with_roles") or () if m.get("user_email")}
    metadata = dict(live.get("metadata") or {})
    managed = set(metadata.get(MANAGED_MEMBERS_KEY) or ())
    for email, role in sorted(desired.items()):
        want = ADMIN if role == "admin" and team_admins else USER
        if role == "admin" and not team_admins:
            outcome.notes.append(f"{email} is a team user: {NO_LICENCE}")
        try:
            outcome.roles[email] = _ensure_member(client, team_id, email, want, roster.get(email))
        except PremiumRequired:
            outcome.roles[email] = _ensure_member(client, team_id, email, USER, roster.get(email))
            outcome.notes.append(f"{email} is a team user: the proxy refused a team admin ({NO_LICENCE} that it accepts)")
        except LiteLLMAdminError as error:
            outcome.errors.append(f"{email}: {error}")
    still_managed = set()
    for email in sorted(managed - set(desired)):
        member = roster.get(email)
        try:
            if member is not None:
                client.remove_member(team_id, member["user_id"])
            outcome.removed.append(email)
        except LiteLLMAdminError as error:
            outcome.errors.append(f"cannot remove {email}: {error}")
            still_managed.add(email)
    recorded = sorted(set(desired) | still_managed)
    if recorded != sorted(managed):
        client.update_team({"team_id": team_id, "metadata": {**metadata, MANAGED_MEMBERS_KEY: recorded}})
    return outcome


def _ensure_member(client: LiteLLMAdminClient, team_id: str, email: str, role: str,
                   member: Mapping[str, Any] | None) -> str:
    if member is None:
        client.add_member(team_id, email, role)
    elif member.get("role") != role:
        client.set_member_role(team_id, member["user_id"], role)
    return role
