"""Who may read a team's Langfuse project: one Langfuse organization per team, its members as the
team document lists them, written into Langfuse's tables by the apply step (psql, one transaction).

Isolation (langfuse v4.16.0): a signed-in user's session lists, per organization membership, that
organization's projects with `resolveProjectRole` (a project membership's role, else the
organization role), keeping those whose role may `project:read` (web/src/server/auth.ts `session`,
packages/shared/src/server/auth/userProjectRoleAuth.ts, projectAccessRights.ts); every project call
checks that list (web/src/server/api/trpc.ts `enforceUserIsAuthedAndProjectMember`). So a member of
team A's organization only, with no project role anywhere, reaches A's project and no other, in
every edition: nothing here writes a project role (`rbac-project-roles` is licensed: the gateway
writes none, in any edition), only organization memberships and invitations, which the open-source
edition writes itself (membersRouter.ts `create`).

Per team organization, for each listed e-mail (lowercased, as Langfuse stores invitations):
- a Langfuse user with that address (`lower(users.email)`) gets the organization membership written
  directly, with the listed role; an existing membership takes the role, except an OWNER, which is
  never demoted nor removed unless the gateway wrote it as OWNER (the stack's admin);
- an unknown address gets a `membership_invitations` row (organization role only, never a project
  role), which Langfuse applies when an account with that address is created (sign-up, or a first
  SSO sign-in: createProjectMembershipsOnSignup.ts `processMembershipInvitations`), exactly the
  split membersRouter.ts `create` makes;
- no invitation is left for an address whose user exists: Langfuse applies all of a user's
  invitations in one transaction of plain creates, so one for an organization the user already
  belongs to fails them all (and invitations are never applied after an account's creation).
Removed e-mails lose their membership (their project memberships go with it, ON DELETE CASCADE) or
their invitation. Memberships made by hand are left alone: the gateway records what it manages in
a table of its own (`MANAGED_TABLE`), in Langfuse's database, written in the same transaction as the
memberships, so the record and the rows it describes cannot drift apart (Langfuse's membership
tables have no column to mark them, and a record kept anywhere else, such as the previous team
document, would miss what a failed or rolled-back run did or did not write).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from team_plane.langfuse import TEAM_ORG_PREFIX, literal, team_org_id

# A member's role in the team document -> the organization role Langfuse stores ("Role" enum,
# packages/shared/prisma/schema.prisma). OWNER is never a member's: it carries the organization's
# API keys and its deletion (organizationAccessRights.ts).
ORGANIZATION_ROLES: Mapping[str, str] = {"admin": "ADMIN", "member": "MEMBER", "viewer": "VIEWER"}
OWNER = "OWNER"
MANAGED_SCHEMA = "llm_gateway"
MANAGED_TABLE = f"{MANAGED_SCHEMA}.managed_access"
ACCESS_FILE = "access.txt"  # written by psql: team|email|state, one line per listed or removed e-mail


@dataclass(frozen=True)
class TeamAccess:
    """Who may read one team's project: e-mail (lowercase) -> organization role."""

    team: str
    entries: Mapping[str, str]

    @classmethod
    def from_document(cls, team: Mapping, admin_email: str | None) -> TeamAccess:
        """The team's members with their organization roles; the stack's admin is OWNER of every team
        organization (whatever else the team lists it as)."""
        entries = {member["email"].lower(): ORGANIZATION_ROLES[member["role"]] for member in team.get("members", ())}
        if admin_email:
            entries[admin_email.lower()] = OWNER
        return cls(team["name"], entries)


def _desired_rows(teams: Sequence[TeamAccess]) -> str:
    rows = [f"({literal(t.team)}, {literal(team_org_id(t.team))}, {literal(email)}, {literal(role)}::\"Role\")"
            for t in sorted(teams, key=lambda t: t.team) for email, role in sorted(t.entries.items())]
    return ("INSERT INTO desired_access VALUES\n  " + ",\n  ".join(rows) + ";\n") if rows else ""


def access_sql(teams: Sequence[TeamAccess]) -> str:
    """The statements, for the apply step's transaction (after the team organizations exist). Every
    write is guarded: a second run of the same script changes nothing. The last statements print one
    line per e-mail: team|email|member ROLE, team|email|invited ROLE, team|email|owner (an OWNER left
    as it was), team|email|removed."""
    return f"""\
CREATE SCHEMA IF NOT EXISTS {MANAGED_SCHEMA};
CREATE TABLE IF NOT EXISTS {MANAGED_TABLE} (
  org_id text NOT NULL REFERENCES public.organizations(id) ON UPDATE CASCADE ON DELETE CASCADE,
  email text NOT NULL,
  role text NOT NULL,
  PRIMARY KEY (org_id, email));
CREATE TEMP TABLE desired_access (team text NOT NULL, org_id text NOT NULL, email text NOT NULL, role "Role" NOT NULL)
  ON COMMIT DROP;
{_desired_rows(teams)}\
CREATE TEMP TABLE removed_access ON COMMIT DROP AS
  SELECT m.org_id, m.email, m.role FROM {MANAGED_TABLE} m
  WHERE NOT EXISTS (SELECT FROM desired_access d WHERE d.org_id = m.org_id AND d.email = m.email);
DELETE FROM organization_memberships om USING removed_access r, users u
  WHERE om.org_id = r.org_id AND om.user_id = u.id AND lower(u.email) = r.email
    AND NOT (om.role = 'OWNER' AND r.role <> 'OWNER');
DELETE FROM membership_invitations i USING removed_access r WHERE i.org_id = r.org_id AND i.email = r.email;
DELETE FROM {MANAGED_TABLE} m USING removed_access r WHERE m.org_id = r.org_id AND m.email = r.email;
INSERT INTO organization_memberships (id, org_id, user_id, role)
  SELECT gen_random_uuid()::text, d.org_id, u.id, d.role FROM desired_access d JOIN users u ON lower(u.email) = d.email
  ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role, updated_at = now()
  WHERE organization_memberships.role <> excluded.role AND organization_memberships.role <> 'OWNER';
DELETE FROM membership_invitations i USING desired_access d
  WHERE i.org_id = d.org_id AND i.email = d.email AND EXISTS (SELECT FROM users u WHERE lower(u.email) = d.email);
INSERT INTO membership_invitations (id, email, org_id, org_role)
  SELECT gen_random_uuid()::text, d.email, d.org_id, d.role FROM desired_access d
  WHERE NOT EXISTS (SELECT FROM users u WHERE lower(u.email) = d.email)
  ON CONFLICT (email, org_id) DO UPDATE SET org_role = excluded.org_role, project_id = NULL, project_role = NULL,
    updated_at = now()
  WHERE (membership_invitations.org_role, membership_invitations.project_id, membership_invitations.project_role)
    IS DISTINCT FROM (excluded.org_role, NULL, NULL);
INSERT INTO {MANAGED_TABLE} (org_id, email, role) SELECT org_id, email, role FROM desired_access
  ON CONFLICT (org_id, email) DO UPDATE SET role = excluded.role WHERE {MANAGED_TABLE}.role <> excluded.role;
SELECT d.team, d.email, CASE
    WHEN om.role = d.role THEN 'member ' || d.role
    WHEN om.role = 'OWNER' THEN 'owner'
    WHEN i.id IS NOT NULL THEN 'invited ' || d.role
    ELSE 'missing' END
  FROM desired_access d
  LEFT JOIN LATERAL (SELECT om.role FROM organization_memberships om JOIN users u ON u.id = om.user_id
                     WHERE om.org_id = d.org_id AND lower(u.email) = d.email ORDER BY om.role LIMIT 1) om ON true
  LEFT JOIN membership_invitations i ON i.org_id = d.org_id AND i.email = d.email
  ORDER BY 1, 2;
SELECT substr(org_id, {len(TEAM_ORG_PREFIX) + 1}), email, 'removed' FROM removed_access ORDER BY 1, 2;
"""


def read_access(text: str) -> dict[str, list[tuple[str, str]]]:
    """What psql listed: team -> [(email, state)], in the file's order."""
    teams: dict[str, list[tuple[str, str]]] = {}
    for line in text.splitlines():
        if line.strip():
            team, email, state = line.split("|", 2)
            teams.setdefault(team, []).append((email, state))
    return teams
