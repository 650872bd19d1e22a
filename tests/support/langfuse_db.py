"""Langfuse's PostgreSQL for tests of what the team plane writes there: a database with Langfuse's own
schema (tests/support/langfuse_schema/<tag>.sql, generated from its migrations by
scripts/langfuse_schema_fixture.py), pgcrypto as db-init creates it, and what Langfuse itself does
with the rows the team plane writes, transcribed from its source (langfuse v4.16.0):

- `session_projects`: the projects a signed-in user's session lists (web/src/server/auth.ts
  `session`), which every project call checks (web/src/server/api/trpc.ts
  `enforceUserIsAuthedAndProjectMember`);
- `sign_up`: an account created for an e-mail, then its invitations applied as
  createProjectMembershipsOnSignup.ts `processMembershipInvitations` applies them (at sign-up, a
  first SSO sign-in, or an SSO account linked to an existing user: `apply_invitations`);
- `apply`: the apply step's psql script (services/specs.py TEAM_PLANE_APPLY) run as the step runs it.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.database_init import EXTENSIONS
from tests.support.postgres_server import PostgresServer, running_postgres

LANGFUSE_SCHEMA_TAG = "v4.16.0"  # the newest Langfuse tag this repository reads (the image is 4.50.0)
SCHEMA_FILE = Path(__file__).parent / "langfuse_schema" / f"{LANGFUSE_SCHEMA_TAG}.sql"

# The session (auth.ts): the user found by `email: token.email.toLowerCase()`; for each of its
# organization memberships, the organization's projects with `deletedAt: null`, each with
# `resolveProjectRole` (userProjectRoleAuth.ts: the membership's project membership for that project,
# else the organization role), kept when `projectRoleAccessRights[role]` includes "project:read"
# (projectAccessRights.ts: every role but NONE).
SESSION_PROJECTS = """
SELECT p.id FROM users u
JOIN organization_memberships om ON om.user_id = u.id
JOIN projects p ON p.org_id = om.org_id AND p.deleted_at IS NULL
LEFT JOIN project_memberships pm ON pm.org_membership_id = om.id AND pm.project_id = p.id
WHERE u.email = lower(:'email') AND coalesce(pm.role, om.role) <> 'NONE'
ORDER BY p.id;
"""
# processMembershipInvitations: every invitation `where email = email.toLowerCase()`, one
# `organizationMembership.create` each (org role; a nested project membership when the invitation
# has project_id and project_role), and their deleteMany, in one `prisma.$transaction([...])`: a
# single failing create fails them all.
APPLY_INVITATIONS = """
BEGIN;
CREATE TEMP TABLE invited ON COMMIT DROP AS
  SELECT id, org_id, org_role, project_id, project_role, gen_random_uuid()::text AS membership_id
  FROM membership_invitations WHERE email = lower(:'email');
INSERT INTO organization_memberships (id, org_id, user_id, role)
  SELECT membership_id, org_id, :'user_id', org_role FROM invited;
INSERT INTO project_memberships (project_id, user_id, org_membership_id, role)
  SELECT project_id, :'user_id', membership_id, project_role FROM invited
  WHERE project_id IS NOT NULL AND project_role IS NOT NULL;
DELETE FROM membership_invitations WHERE id IN (SELECT id FROM invited) AND email = lower(:'email');
COMMIT;
"""


@contextmanager
def running_langfuse_postgres() -> Iterator[tuple[PostgresServer, str]]:
    """A PostgreSQL with the `langfuse` role db-init creates: (the server, its master URL)."""
    with running_postgres("master-password") as server:
        master = server.url("postgres", "master-password", "postgres")
        server.psql(master, "CREATE ROLE langfuse LOGIN PASSWORD 'lf-password';")
        yield server, master


def create_langfuse_database(server: PostgresServer, master_url: str) -> str:
    """A fresh database owned by the `langfuse` role (which must exist), as db-init leaves it, with
    Langfuse's schema; its URL for the langfuse role (password `lf-password`)."""
    name = f"langfuse_{uuid.uuid4().hex[:8]}"
    server.psql(master_url, f"CREATE DATABASE {name} OWNER langfuse;")
    database_master = master_url.rsplit("/", 1)[0] + f"/{name}"
    # db-init's statements as the master user; langfuse is not a superuser: pgcrypto is trusted.
    server.psql(database_master, "GRANT langfuse TO CURRENT_USER;\n" + EXTENSIONS.replace("\\connect langfuse", ""))
    url = server.url("langfuse", "lf-password", name)
    server.psql(url, SCHEMA_FILE.read_text())
    return url


def session_projects(server: PostgresServer, url: str, email: str) -> list[str]:
    return server.psql(url, SESSION_PROJECTS, "-v", f"email={email}").split()


def create_user(server: PostgresServer, url: str, email: str) -> str:
    """A `users` row (credentials and e-mail sign-ups lowercase the address; SSO keeps the provider's)."""
    user_id = f"user-{uuid.uuid4().hex[:12]}"
    server.psql(url, "INSERT INTO users (id, email, name) VALUES (:'user_id', :'email', 'someone');",
                "-v", f"email={email}", "-v", f"user_id={user_id}")
    return user_id


def apply_invitations(server: PostgresServer, url: str, email: str, user_id: str) -> None:
    """processMembershipInvitations; raises RuntimeError when Langfuse's transaction fails (Langfuse
    logs that and applies none of them)."""
    server.psql(url, APPLY_INVITATIONS, "-v", f"email={email}", "-v", f"user_id={user_id}")


def sign_up(server: PostgresServer, url: str, email: str) -> str:
    """An account created for `email` (credentials sign-up, or a first SSO sign-in) and its
    invitations applied; the user id."""
    user_id = create_user(server, url, email)
    apply_invitations(server, url, email, user_id)
    return user_id


def apply(url: str, sql: str, work: Path) -> None:
    """What the apply step runs (services/specs.py TEAM_PLANE_APPLY), with its environment, /work here."""
    from tests.support.hosts import staging_specs

    (work / "langfuse.sql").write_text(sql)
    (step,) = [spec for spec in staging_specs() if spec.name == "team-plane-apply"]
    *command, script = step.entrypoint
    result = subprocess.run([*command, script.replace("/work/", f"{work}/")],
                            env={**step.environment, "DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert not (work / "langfuse.sql").exists()  # the secret keys do not stay on the volume
